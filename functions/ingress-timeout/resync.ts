// The scheduled resync (Cloud Scheduler, over HTTP with an OIDC token): every Ingress that has the
// timeout annotation, or had it (its default is written back), reconciled again. Catches what
// events cannot: a backend service GKE re-created, a BackendConfig edited by hand, a lost push.
import { mapLimit } from '../../shared/concurrency.ts';
import type { KubeObject } from '../../shared/kube/index.ts';
import type { AppDeps } from './config.ts';
import { type ReconcileResult, reconcileIngress } from './reconcile.ts';
import { appliedAnnotation, timeoutAnnotation } from './timeout.ts';

const concurrency = 4;

export type ResyncSummary = {
  counts: Record<ReconcileResult['outcome'], number>;
  /** Only the Ingresses where something was done or went wrong. */
  results: ReconcileResult[];
};

export async function resyncAll(deps: AppDeps): Promise<ResyncSummary> {
  const targets: { namespace: string; name: string }[] = [];
  for await (const ingress of deps.cluster
    .resource<KubeObject>({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' })
    .items({ limit: 500 })) {
    const annotations = ingress.metadata?.annotations ?? {};
    if (timeoutAnnotation in annotations || appliedAnnotation in annotations)
      targets.push({
        namespace: ingress.metadata?.namespace ?? '',
        name: ingress.metadata?.name ?? '',
      });
  }
  const results = await mapLimit(targets, concurrency, (target) =>
    reconcileIngress(target.namespace, target.name, deps),
  );
  const counts = Object.fromEntries(
    [
      'applied',
      'unchanged',
      'not-annotated',
      'invalid',
      'not-found',
      'stale',
      'waiting',
      'failed',
    ].map((outcome) => [outcome, results.filter((r) => r.outcome === outcome).length]),
  ) as ResyncSummary['counts'];
  return {
    counts,
    results: results
      .filter((r) => r.outcome !== 'unchanged' && r.outcome !== 'not-annotated')
      .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`)),
  };
}
