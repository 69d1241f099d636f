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
//   POST   /pubsub/tenants          Pub/Sub push: a tenant request, forwarded to its cell
import type { Context, Hono } from 'hono';
import * as v from 'valibot';
import type { CallerRule } from '../../shared/auth/index.ts';
import { type FunctionEnv, functionSkeleton } from '../../shared/http/app.ts';
import { readJson } from '../../shared/http/json-body.ts';
import { queryFlag, readQuery } from '../../shared/http/query.ts';
import { pushRoute } from '../../shared/pubsub/push.ts';
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

export type AppDeps = PlacementDeps & { caller: CallerRule; pushCaller: CallerRule };

export function createApp(ready: Promise<AppDeps>): Hono<FunctionEnv> {
  const { app, deps, guard } = functionSkeleton(ready);
  const caller = guard((d) => d.caller);
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
