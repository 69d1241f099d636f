// The label function's HTTP surface: route -> auth -> validation -> labels -> answer.
//   POST /labels   a LabelRequest (schema.ts); the result per object
//   POST /pubsub   the same request as a Pub/Sub push message's data
import type { Hono } from 'hono';
import {
  type AuthVariables,
  type CallerRule,
  requireCallerWhenReady,
} from '../../shared/auth/index.ts';
import { functionApp } from '../../shared/http/app.ts';
import { readJson } from '../../shared/http/json-body.ts';
import { pushRoute } from '../../shared/pubsub/push.ts';
import type { AppDeps } from './config.ts';
import { applyLabels } from './handler.ts';
import { LabelRequestSchema } from './schema.ts';

type Env = { Variables: AuthVariables };

export function createApp(ready: Promise<AppDeps>): Hono<Env> {
  const app = functionApp();
  ready.catch(() => {});
  const guard = (pick: (callers: AppDeps['callers']) => CallerRule) =>
    requireCallerWhenReady(async () => pick((await ready).callers));

  app.post(
    '/labels',
    guard((callers) => callers.http),
    async (c) => {
      const request = await readJson(c, LabelRequestSchema);
      return c.json(await applyLabels(request, await ready));
    },
  );
  app.post(
    '/pubsub',
    guard((callers) => callers.push),
    pushRoute(LabelRequestSchema, async ({ data }) => ({
      outcome: 'done',
      ...(await applyLabels(data, await ready)),
    })),
  );
  return app;
}
