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
import type { Hono } from 'hono';
import * as v from 'valibot';
import type { CallerRule } from '../../shared/auth/index.ts';
import { DomainError } from '../../shared/errors.ts';
import { ObjectChangeSchema } from '../../shared/events/change.ts';
import { type FunctionEnv, functionSkeleton } from '../../shared/http/app.ts';
import { readJson } from '../../shared/http/json-body.ts';
import { queryFlag, readQuery } from '../../shared/http/query.ts';
import { pushRoute } from '../../shared/pubsub/push.ts';
import { type FanOut, ResyncBatchSchema, resyncBatch, scheduledResync } from './fanout.ts';
import {
  deprovisionTenant,
  ownedTenants,
  type ProvisionDeps,
  provisionTenant,
  tenantStatus,
} from './handler.ts';
import { healObject } from './heal.ts';
import { applyTenantRequest, TenantRequestSchema } from './lifecycle.ts';
import { CustomerIdSchema, OwnerUidSchema, signupSchema } from './schema.ts';

export type AppDeps = ProvisionDeps & {
  caller: CallerRule;
  resyncCaller: CallerRule;
  pushCaller: CallerRule;
  fanOut: FanOut | undefined;
};

export function createApp(ready: Promise<AppDeps>): Hono<FunctionEnv> {
  const { app, deps, guard } = functionSkeleton(ready);
  const caller = guard((d) => d.caller);
  app.use('/tenants', caller);
  app.use('/tenants/*', caller);

  app.post('/tenants', async (c) => {
    readQuery(c, {});
    const loaded = await deps();
    const input = await readJson(c, signupSchema(Object.keys(loaded.templates.plans)));
    const result = await provisionTenant(input, loaded);
    return c.json(result, result.created && !result.dryRun ? 201 : 200);
  });

  app.get('/tenants', async (c) => {
    const { owner } = readQuery(c, { owner: OwnerUidSchema });
    return c.json({ tenants: await ownedTenants(owner, await deps()) });
  });

  app.get('/tenants/:customerId', async (c) => {
    const options = readQuery(c, { owner: v.optional(OwnerUidSchema) });
    return c.json(await tenantStatus(customerId(c.req.param('customerId')), await deps(), options));
  });

  app.delete('/tenants/:customerId', async (c) => {
    const id = customerId(c.req.param('customerId'));
    const options = readQuery(c, {
      confirm: v.optional(v.string()),
      dryRun: queryFlag,
      owner: v.optional(OwnerUidSchema),
    });
    return c.json(await deprovisionTenant(id, options, await deps()), 202);
  });
  // Cloud Scheduler: every tenant checked against its template; what was put back is listed.
  app.post(
    '/resync',
    guard((d) => d.resyncCaller),
    async (c) => {
      readQuery(c, {});
      const answer = await scheduledResync(await deps());
      return c.json(answer, 'job' in answer ? 202 : 200);
    },
  );
  app.post(
    '/pubsub/resync',
    guard((d) => d.pushCaller),
    pushRoute(ResyncBatchSchema, async ({ data }) => resyncBatch(data, await deps())),
  );
  app.post(
    '/pubsub/changes',
    guard((d) => d.pushCaller),
    pushRoute(ObjectChangeSchema, async ({ data }) => healObject(data, await deps())),
  );
  app.post(
    '/pubsub/tenants',
    guard((d) => d.pushCaller),
    pushRoute(TenantRequestSchema, async ({ data }) => applyTenantRequest(data, await deps())),
  );
  return app;
}

function customerId(raw: string): string {
  if (!v.is(CustomerIdSchema, raw)) {
    throw new DomainError('invalid-input', 'the customer id is not valid', {
      fields: [
        { field: 'customerId', expected: 'lowercase letters, digits and inner dashes, 1-40' },
      ],
    });
  }
  return raw;
}
