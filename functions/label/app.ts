// The label function's HTTP surface: route -> auth -> validation -> labels -> answer.
//   POST /labels   a LabelRequest (schema.ts); the result per object
//   POST /pubsub   the same request as a Pub/Sub push message's data
//   POST /pubsub/changes  a watcher change: the label rules applied to it (rules.ts)
import type { Hono } from 'hono';
import { ObjectChangeSchema } from '../../shared/events/change.ts';
import { type FunctionEnv, functionSkeleton } from '../../shared/http/app.ts';
import { readJson } from '../../shared/http/json-body.ts';
import { readQuery } from '../../shared/http/query.ts';
import { pushRoute } from '../../shared/pubsub/push.ts';
import type { AppDeps } from './config.ts';
import { applyLabels } from './handler.ts';
import { applyRules } from './rules.ts';
import { LabelRequestSchema } from './schema.ts';

export function createApp(ready: Promise<AppDeps>): Hono<FunctionEnv> {
  const { app, deps, guard } = functionSkeleton(ready);
  const cell = async () => (await deps()).cell;

  app.post(
    '/labels',
    guard((d) => d.callers.http),
    async (c) => {
      readQuery(c, {});
      const request = await readJson(c, LabelRequestSchema);
      return c.json(await applyLabels(request, await deps()));
    },
  );
  app.post(
    '/pubsub',
    guard((d) => d.callers.push),
    pushRoute(
      LabelRequestSchema,
      async ({ data }) => ({ outcome: 'done', ...(await applyLabels(data, await deps())) }),
      { cell },
    ),
  );
  app.post(
    '/pubsub/changes',
    guard((d) => d.callers.push),
    pushRoute(ObjectChangeSchema, async ({ data }) => applyRules(data, await deps()), { cell }),
  );
  return app;
}
