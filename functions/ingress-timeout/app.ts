// The ingress-timeout function's HTTP surface: route -> auth -> validation -> reconcile -> answer.
//   POST /ingresses/:namespace/:name   reconcile one Ingress now (an operator, a script)
//   POST /pubsub                       Pub/Sub push of the watcher's Ingress changes
//   POST /resync                       Cloud Scheduler: reconcile every annotated Ingress
// Each route has its own allow-list (KUBEFN_ALLOW_INGRESS_TIMEOUT, _PUSH, _RESYNC).
import type { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DomainError } from '../../shared/errors.ts';
import { ChangeSchema } from '../../shared/events/change.ts';
import { type FunctionEnv, functionSkeleton } from '../../shared/http/app.ts';
import { readQuery } from '../../shared/http/query.ts';
import { isDnsLabel, isDnsSubdomain } from '../../shared/kube/names.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { pushRoute } from '../../shared/pubsub/push.ts';
import type { AppDeps } from './config.ts';
import { type ReconcileResult, reconcileIngress } from './reconcile.ts';
import { resyncAll } from './resync.ts';

const statusOf: Partial<Record<ReconcileResult['outcome'], ContentfulStatusCode>> = {
  'not-found': 404,
  invalid: 422,
  failed: 422, // permanent: the answer says which backend and why; transient failures are 503
};

export function createApp(ready: Promise<AppDeps>): Hono<FunctionEnv> {
  // Each route's auth is built once, on first use, from the loaded configuration.
  const { app, deps, guard } = functionSkeleton(ready);

  app.post(
    '/ingresses/:namespace/:name',
    guard((d) => d.callers.one),
    async (c) => {
      readQuery(c, {});
      const { namespace, name } = c.req.param();
      if (!isDnsLabel(namespace) || !isDnsSubdomain(name))
        throw new DomainError('invalid-input', 'namespace and name must be Kubernetes names', {
          fields: [
            { field: 'namespace', expected: 'a DNS label' },
            { field: 'name', expected: 'a DNS subdomain' },
          ],
        });
      const result = await reconcileIngress(namespace, name, await deps());
      logResult(result);
      return c.json(result, statusOf[result.outcome] ?? 200);
    },
  );

  // The watcher's change messages: the event names the Ingress; its current state decides.
  app.post(
    '/pubsub',
    guard((d) => d.callers.push),
    pushRoute(
      ChangeSchema,
      async ({ data, attributes }) => {
        const { namespace = '', name = '', resourceVersion } = data.object.metadata;
        if ((attributes.kind ?? data.object.kind) !== 'Ingress' || data.type === 'DELETED')
          return { outcome: 'ignored' };
        if (!isDnsLabel(namespace) || !isDnsSubdomain(name))
          return { outcome: 'ignored', reason: 'the event names no valid Ingress' };
        const result = await reconcileIngress(namespace, name, await deps(), {
          eventResourceVersion: resourceVersion,
        });
        logResult(result);
        return result;
      },
      { cell: async () => (await deps()).cell },
    ),
  );

  app.post(
    '/resync',
    guard((d) => d.callers.resync),
    async (c) => {
      readQuery(c, {});
      const summary = await resyncAll(await deps());
      log('INFO', 'resync done', { ...summary.counts });
      return c.json(summary);
    },
  );
  return app;
}

export function logResult(result: ReconcileResult): void {
  const severity =
    result.outcome === 'failed' ? 'ERROR' : result.outcome === 'invalid' ? 'WARNING' : 'INFO';
  log(severity, `ingress ${result.outcome}`, {
    namespace: result.namespace,
    name: result.name,
    timeoutSec: result.timeoutSec,
    reason: result.message,
    failed:
      result.backends
        .filter((b) => b.outcome === 'failed')
        .map((b) => `${b.service}: ${b.code}`)
        .join('; ') || undefined,
  });
}
