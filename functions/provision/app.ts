// The provisioning function's HTTP surface: route -> auth -> validation -> handler -> response.
//   POST   /tenants                         create or confirm a tenant (dryRun in the body)
//   GET    /tenants?owner=UID               a customer's tenants (the signup backend's list)
//   GET    /tenants/:customerId             the tenant's phase and each object's state
//          (?owner=UID on GET and DELETE: another customer's tenant answers 404, as a missing one)
//   DELETE /tenants/:customerId?confirm=ID  deprovision (&dryRun=true to only check; any other
//                                           value, or an unknown parameter, is a 400)
//   POST   /resync                          Cloud Scheduler: check every tenant against its template
//                                           (or fan out in batches through Pub/Sub: fanout.ts)
//   POST   /pubsub/resync                   Pub/Sub push: one batch of a fanned-out check
//   POST   /pubsub/changes                  Pub/Sub push: a change to one of kubefn's objects,
//                                           put back if it drifted (heal.ts)
//   POST   /pubsub/tenants                  Pub/Sub push: a billing or CRM request (lifecycle.ts)
//   GET    /deletions                       operators: the deletions the budget holds
//   GET    /all-tenants                     operators: every tenant, its phase and last repair
//   POST   /deletions/approve {customerIds} operators: do these held deletions now
//   POST   /deletions/drop    {customerIds} operators: never do these held deletions
//   POST   /moves/:customerId/out {to}      placement, moving a tenant away: freeze it, answer its
//                                           snapshot (move.ts)
//   PUT    /moves/:customerId/in  snapshot  placement, moving a tenant here: build it
//   DELETE /moves/:customerId/out           placement, once the tenant is placed elsewhere: delete
//                                           the frozen copy (deletion budget)
//   POST   /moves/:customerId/thaw          placement, undoing an unfinished move: unfreeze
//   DELETE /moves/:customerId/in?from=CELL  placement, undoing an unfinished move: delete the copy
// Every tenant request (POST /tenants, DELETE, /pubsub/tenants) yields outcome events (outcomes.ts).
import type { Context, Hono } from 'hono';
import * as v from 'valibot';
import type { CallerRule } from '../../shared/auth/index.ts';
import { DomainError } from '../../shared/errors.ts';
import { ObjectChangeSchema } from '../../shared/events/change.ts';
import { type FunctionEnv, functionSkeleton } from '../../shared/http/app.ts';
import { readJson } from '../../shared/http/json-body.ts';
import { queryFlag, readQuery } from '../../shared/http/query.ts';
import { pushRoute } from '../../shared/pubsub/push.ts';
import { allTenants } from './all-tenants.ts';
import { type FanOut, ResyncBatchSchema, resyncBatch, scheduledResync } from './fanout.ts';
import {
  deprovisionTenant,
  ownedTenants,
  type ProvisionDeps,
  provisionTenant,
  tenantStatus,
} from './handler.ts';
import { healObject } from './heal.ts';
import { decideHeldDeletions, heldDeletions, releaseHeldDeletions } from './held-deletions.ts';
import { applyTenantRequest, TenantRequestSchema } from './lifecycle.ts';
import {
  MoveInQuerySchema,
  MoveOutSchema,
  moveIn,
  moveOut,
  removeMovedIn,
  removeMovedOut,
  SnapshotSchema,
  thaw,
} from './move.ts';
import {
  httpRequestKey,
  type OutcomeRequest,
  type Outcomes,
  type Stage,
  withOutcomes,
} from './outcomes.ts';
import { CustomerIdSchema, customerIdParam, OwnerUidSchema, signupSchema } from './schema.ts';

export type AppDeps = ProvisionDeps & {
  /** KUBEFN_CELL: pushes about another cell's objects are not ours (shared/pubsub/push.ts). */
  cell: string;
  caller: CallerRule;
  resyncCaller: CallerRule;
  pushCaller: CallerRule;
  /** Who may list, approve and drop held deletions (KUBEFN_ALLOW_OPERATOR). */
  operatorCaller: CallerRule;
  /** Who may move tenants in and out (KUBEFN_ALLOW_MOVES: placement). */
  moveCaller: CallerRule;
  fanOut: FanOut | undefined;
  outcomes?: Outcomes | undefined;
};

const DecisionSchema = v.strictObject({
  customerIds: v.pipe(v.array(CustomerIdSchema), v.minLength(1), v.maxLength(1000)),
});

export function createApp(ready: Promise<AppDeps>): Hono<FunctionEnv> {
  const { app, deps, guard } = functionSkeleton(ready);
  const caller = guard((d) => d.caller);
  app.use('/tenants', caller);
  app.use('/tenants/*', caller);
  const cell = async () => (await deps()).cell;

  // Placement asks before placing a tenant here: does this cell's cluster answer?
  app.get('/readyz', caller, async (c) => {
    readQuery(c, {});
    const loaded = await deps();
    const res = await loaded.cluster.raw('/readyz', { timeoutMs: 2_000 }).catch(() => undefined);
    res?.discard();
    return res?.status === 200
      ? c.json({ ready: true, cell: loaded.cell })
      : c.json({ error: 'unavailable', message: 'the cluster is not ready' }, 503);
  });

  app.post('/tenants', async (c) => {
    readQuery(c, {});
    const loaded = await deps();
    const input = await readJson(c, signupSchema(Object.keys(loaded.templates.plans)));
    if (input.dryRun) return c.json(await provisionTenant(input, loaded), 200);
    const request = httpRequest(c, 'signup', input.customerId, loaded);
    const result = await withOutcomes(
      loaded.outcomes,
      request,
      () => provisionTenant(input, loaded),
      () => succeeded(input.customerId, loaded),
    );
    return c.json(result, result.created ? 201 : 200);
  });

  app.get('/tenants', async (c) => {
    const { owner } = readQuery(c, { owner: OwnerUidSchema });
    return c.json({ tenants: await ownedTenants(owner, await deps()) });
  });

  app.get('/tenants/:customerId', async (c) => {
    const options = readQuery(c, { owner: v.optional(OwnerUidSchema) });
    return c.json(
      await tenantStatus(customerIdParam(c.req.param('customerId')), await deps(), options),
    );
  });

  app.delete('/tenants/:customerId', async (c) => {
    const id = customerIdParam(c.req.param('customerId'));
    const options = readQuery(c, {
      confirm: v.optional(v.string()),
      dryRun: queryFlag,
      owner: v.optional(OwnerUidSchema),
    });
    const loaded = await deps();
    if (options.dryRun) return c.json(await deprovisionTenant(id, options, loaded), 202);
    const request = httpRequest(c, 'cancel', id, loaded);
    const source = { via: 'http' as const, request: request.request };
    const result = await withOutcomes(
      loaded.outcomes,
      request,
      () => deprovisionTenant(id, { ...options, source }, loaded),
      async () => ({ stage: 'succeeded' as const, data: { phase: 'Terminating' } }),
    );
    return c.json(result, 202);
  });

  // Operators: the deletions the budget holds, and their decision on named ones.
  const operator = guard((d) => d.operatorCaller);
  app.get('/deletions', operator, async (c) => {
    readQuery(c, {});
    const loaded = await deps();
    return c.json({ budget: loaded.deletionBudget ?? null, held: await heldDeletions(loaded) });
  });
  // Operators (the console): every tenant of this cell with its phase and last repair.
  app.get('/all-tenants', operator, async (c) => {
    readQuery(c, {});
    return c.json({ tenants: await allTenants(await deps()) });
  });
  for (const decision of ['approve', 'drop'] as const) {
    app.post(`/deletions/${decision}`, operator, async (c) => {
      readQuery(c, {});
      const { customerIds } = await readJson(c, DecisionSchema);
      return c.json({ decisions: await decideHeldDeletions(await deps(), customerIds, decision) });
    });
  }
  // Placement, moving a tenant between cells (move.ts): each step idempotent.
  app.use(
    '/moves/*',
    guard((d) => d.moveCaller),
  );
  const moving = (c: Context) => customerIdParam(c.req.param('customerId') ?? '');
  app.post('/moves/:customerId/out', async (c) => {
    readQuery(c, {});
    const { to } = await readJson(c, MoveOutSchema);
    return c.json(await moveOut(moving(c), to, await deps()));
  });
  app.put('/moves/:customerId/in', async (c) => {
    readQuery(c, {});
    const snapshot = await readJson(c, SnapshotSchema);
    if (snapshot.customerId !== moving(c))
      throw new DomainError('invalid-input', 'the snapshot is of another tenant');
    return c.json(await moveIn(snapshot, await deps()));
  });
  app.delete('/moves/:customerId/out', async (c) => {
    readQuery(c, {});
    return c.json(await removeMovedOut(moving(c), await deps()));
  });
  app.post('/moves/:customerId/thaw', async (c) => {
    readQuery(c, {});
    return c.json(await thaw(moving(c), await deps()));
  });
  app.delete('/moves/:customerId/in', async (c) => {
    const { from } = readQuery(c, MoveInQuerySchema);
    return c.json(await removeMovedIn(moving(c), from, await deps()));
  });

  // Cloud Scheduler: every tenant checked against its template; what was put back is listed.
  app.post(
    '/resync',
    guard((d) => d.resyncCaller),
    async (c) => {
      readQuery(c, {});
      const loaded = await deps();
      // Held deletions the window now allows go first: a failure here fails the call (retried).
      const deletions = await releaseHeldDeletions(loaded);
      const answer = await scheduledResync(loaded);
      return c.json({ ...answer, deletions }, 'job' in answer ? 202 : 200);
    },
  );
  app.post(
    '/pubsub/resync',
    guard((d) => d.pushCaller),
    pushRoute(ResyncBatchSchema, async ({ data }) => resyncBatch(data, await deps()), { cell }),
  );
  app.post(
    '/pubsub/changes',
    guard((d) => d.pushCaller),
    pushRoute(
      ObjectChangeSchema,
      async ({ data, publishTime }) => healObject(data, await deps(), publishTime),
      { cell },
    ),
  );
  app.post(
    '/pubsub/tenants',
    guard((d) => d.pushCaller),
    pushRoute(TenantRequestSchema, async ({ data }) => {
      const loaded = await deps();
      const { action, customerId, requestedAt } = data;
      const namespace = loaded.namespacePrefix + customerId;
      const request = { action, customerId, namespace, via: 'pubsub' as const, requestedAt };
      return withOutcomes(
        loaded.outcomes,
        { ...request, request: requestedAt },
        () => applyTenantRequest(data, loaded),
        async ({ outcome, action: _, customerId: __, namespace: ___, ...detail }) => {
          if (outcome === 'held') return { stage: 'held', data: detail };
          if (outcome !== 'done') return undefined; // stale: its outcome was given the first time
          return action === 'cancel'
            ? { stage: 'succeeded', data: { phase: 'Terminating' } }
            : succeeded(customerId, loaded);
        },
      );
    }),
  );
  return app;
}

function httpRequest(
  c: Context,
  action: 'signup' | 'cancel',
  customerId: string,
  deps: AppDeps,
): OutcomeRequest {
  const request = httpRequestKey(c.req.header('idempotency-key'));
  return { action, customerId, namespace: deps.namespacePrefix + customerId, via: 'http', request };
}

/** A succeeded outcome: the tenant's phase and readiness phases as read now (readiness.ts). */
async function succeeded(
  customerId: string,
  deps: AppDeps,
): Promise<{ stage: Stage; data: Record<string, unknown> }> {
  try {
    const { phase, phases, readyAt } = await tenantStatus(customerId, deps);
    return { stage: 'succeeded', data: { phase, phases, ...(readyAt ? { readyAt } : {}) } };
  } catch {
    // Applied, but not readable just now: the outcome stands without the phases.
    return { stage: 'succeeded', data: {} };
  }
}
