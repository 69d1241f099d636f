// The placement function's HTTP surface, global (one per deployment, in front of every cell):
// route -> auth -> validation -> handler -> response. The tenant routes are provision's, so the
// signup backend and operators call placement as they would one cell's provision.
//   POST   /tenants                 place a new tenant in a cell of its region (body: provision's
//                                   sign-up and `region`), or find it, and forward the sign-up
//   GET    /tenants?owner=UID       a customer's tenants, from the cells that hold them
//   GET    /tenants/:customerId     the tenant's state, from its cell (?owner= as provision's)
//   DELETE /tenants/:customerId     deprovision in its cell (?confirm=, ?dryRun=, ?owner=)
//   GET    /regions                 the regions a customer may choose
//   GET    /cells                   every cell: region, capacity, tenants placed, up or down
//   POST   /pubsub/tenants          Pub/Sub push: a tenant request, forwarded to its cell; a
//                                   `move` is placement's own (move.ts)
// Operators only (KUBEFN_ALLOW_OPERATOR):
//   POST   /tenants/:customerId/move {to}   move the tenant to cell `to`, or finish its move
//   DELETE /tenants/:customerId/move        undo its unfinished move
//   POST   /cells/:cell/drain {limit?}      drain the cell: no new tenants; one round of moves now
//   DELETE /cells/:cell/drain               stop draining it
// Cloud Scheduler (KUBEFN_ALLOW_RESYNC), every minute:
//   POST   /resync                  a round of moves for each cell being drained; the records of
//                                   tenants whose held deletion their cell has since done are
//                                   forgotten (resync.ts)
import type { Context, Hono } from 'hono';
import * as v from 'valibot';
import type { CallerRule } from '../../shared/auth/index.ts';
import { CellNameSchema } from '../../shared/cells.ts';
import { DomainError } from '../../shared/errors.ts';
import { type FunctionEnv, functionSkeleton } from '../../shared/http/app.ts';
import { readJson } from '../../shared/http/json-body.ts';
import { queryFlag, readQuery } from '../../shared/http/query.ts';
import { pushRoute } from '../../shared/pubsub/push.ts';
import { httpRequestKey } from '../provision/outcomes.ts';
import { customerIdParam, OwnerUidSchema } from '../provision/schema.ts';
import {
  type Answer,
  cellsView,
  forwardTenantRequest,
  ownedTenants,
  type PlacementDeps,
  regions,
  removeTenant,
  SignupSchema,
  signUp,
  TenantRequestSchema,
  tenantStatus,
} from './handler.ts';
import { abortMove, cellNamed, drainRound, requestedMove } from './move.ts';
import { drainLimit, resyncRound } from './resync.ts';

export type AppDeps = PlacementDeps & {
  caller: CallerRule;
  pushCaller: CallerRule;
  operatorCaller: CallerRule;
  resyncCaller: CallerRule;
};

const MoveSchema = v.strictObject({ to: CellNameSchema });
const DrainSchema = v.strictObject({
  /** Tenants moved per round (a round a minute): the drain's rate. */
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(50)), drainLimit),
  /** Where its tenants go; unset, each to the cell of its region with the most room. */
  to: v.optional(CellNameSchema),
});

export function createApp(ready: Promise<AppDeps>): Hono<FunctionEnv> {
  const { app, deps, guard } = functionSkeleton(ready);
  const caller = guard((d) => d.caller);
  const operator = guard((d) => d.operatorCaller);
  // Moves and drains first: operators only, not whoever may sign tenants up.
  app.use('/tenants/:customerId/move', operator);
  app.use('/cells/:cell/drain', operator);
  app.post('/tenants/:customerId/move', async (c) => {
    readQuery(c, {});
    const { to } = await readJson(c, MoveSchema);
    const id = customerIdParam(c.req.param('customerId'));
    const request = httpRequestKey(c.req.header('idempotency-key'));
    return c.json(await requestedMove(id, to, await deps(), { via: 'http', request }));
  });
  app.delete('/tenants/:customerId/move', async (c) => {
    readQuery(c, {});
    return c.json(await abortMove(customerIdParam(c.req.param('customerId')), await deps()));
  });
  app.post('/cells/:cell/drain', async (c) => {
    readQuery(c, {});
    const { limit, to } = await readJson(c, DrainSchema);
    const loaded = await deps();
    const cell = cellNamed(loaded, c.req.param('cell'));
    if (to !== undefined && (to === cell.name || !loaded.cells.some((c) => c.name === to)))
      throw new DomainError(
        'unknown-cell',
        'drain to another configured cell; GET /cells lists them',
      );
    await loaded.store.setDraining(cell.name, { to });
    return c.json(await drainRound(cell.name, loaded, limit, to));
  });
  app.delete('/cells/:cell/drain', async (c) => {
    readQuery(c, {});
    const loaded = await deps();
    const cell = cellNamed(loaded, c.req.param('cell'));
    await loaded.store.setDraining(cell.name, false);
    return c.json({ cell: cell.name, draining: false });
  });
  app.post(
    '/resync',
    guard((d) => d.resyncCaller),
    async (c) => {
      readQuery(c, {});
      return c.json(await resyncRound(await deps()));
    },
  );
  for (const path of ['/tenants', '/tenants/*', '/regions', '/cells']) app.use(path, caller);

  app.post('/tenants', async (c) => {
    readQuery(c, {});
    return answer(c, await signUp(await readJson(c, SignupSchema), await deps()));
  });

  app.get('/tenants', async (c) => {
    const { owner } = readQuery(c, { owner: OwnerUidSchema });
    return c.json(await ownedTenants(owner, await deps()));
  });

  app.get('/tenants/:customerId', async (c) => {
    const { owner } = readQuery(c, { owner: v.optional(OwnerUidSchema) });
    const query = owner === undefined ? '' : `?owner=${encodeURIComponent(owner)}`;
    return answer(
      c,
      await tenantStatus(customerIdParam(c.req.param('customerId')), query, await deps()),
    );
  });

  app.delete('/tenants/:customerId', async (c) => {
    const options = readQuery(c, {
      confirm: v.optional(v.string()),
      dryRun: queryFlag,
      owner: v.optional(OwnerUidSchema),
    });
    // Passed on as read: the cell checks them again (confirmation, ownership).
    const query = new URLSearchParams(
      Object.entries(options).flatMap(([k, value]) =>
        value === undefined ? [] : [[k, String(value)] as [string, string]],
      ),
    ).toString();
    const id = customerIdParam(c.req.param('customerId'));
    return answer(
      c,
      await removeTenant(id, query ? `?${query}` : '', options.dryRun, await deps()),
    );
  });

  app.get('/regions', async (c) => {
    readQuery(c, {});
    return c.json(regions(await deps()));
  });

  app.get('/cells', async (c) => {
    readQuery(c, {});
    return c.json(await cellsView(await deps()));
  });

  app.post(
    '/pubsub/tenants',
    guard((d) => d.pushCaller),
    pushRoute(TenantRequestSchema, async (message) => forwardTenantRequest(message, await deps())),
  );
  return app;
}

const answer = (c: Context, result: Answer) =>
  c.json(result.body as object, result.status as Parameters<typeof c.json>[1]);
