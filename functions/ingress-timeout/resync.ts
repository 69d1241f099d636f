// The scheduled resync (Cloud Scheduler, over HTTP with an OIDC token): every Ingress that has the
// timeout annotation, or had it (its default is written back), reconciled again. Catches what
// events cannot: a backend service GKE re-created, a BackendConfig edited by hand, a lost push.
//
// In backendconfig mode its reads do not grow with the Ingresses: Ingresses, Services and
// BackendConfigs are listed once each, and only an Ingress whose recorded value, Services or
// BackendConfigs differ from what its annotation asks is reconciled (reconcile.ts, which reads
// it again and decides). In compute mode the state lives in Compute, and each annotated Ingress
// is reconciled (a backend service GET each).
import { mapLimit } from '../../shared/concurrency.ts';
import { KubefnError } from '../../shared/errors.ts';
import { KubeError, type KubeObject, safeFailure } from '../../shared/kube/index.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { backendConfigName } from './backendconfig.ts';
import { type Ingress, ingressBackends, type Service, servicePort } from './backends.ts';
import type { AppDeps } from './config.ts';
import { reconcileOutcomes } from './outcomes.ts';
import { type ReconcileResult, reconcileIngress } from './reconcile.ts';
import {
  appliedAnnotation,
  parseTimeout,
  readAppliedRecord,
  timeoutAnnotation,
} from './timeout.ts';

const concurrency = 4;

export type ResyncSummary = {
  counts: Record<ReconcileResult['outcome'], number>;
  /** Only the Ingresses where something was done or went wrong. */
  results: ReconcileResult[];
};

export async function resyncAll(deps: AppDeps): Promise<ResyncSummary> {
  const list = async <T extends KubeObject>(apiVersion: string, kind: string) => {
    const objects = new Map<string, T>();
    for await (const object of deps.cluster.resource<T>({ apiVersion, kind }).items({ limit: 500 }))
      objects.set(`${object.metadata?.namespace}/${object.metadata?.name}`, object);
    return objects;
  };
  const backendconfig = deps.mode === 'backendconfig';
  const [ingresses, services, configs] = await Promise.all([
    list<Ingress>('networking.k8s.io/v1', 'Ingress'),
    backendconfig ? list<Service>('v1', 'Service') : undefined,
    // A cluster without the BackendConfig kind: each Ingress is reconciled, and says so.
    backendconfig
      ? list('cloud.google.com/v1', 'BackendConfig').catch((error: unknown) => {
          if (error instanceof KubeError && error.code === 'not-found') return undefined;
          throw error;
        })
      : undefined,
  ]);
  const targets: Ingress[] = [];
  let inSync = 0;
  for (const ingress of ingresses.values()) {
    const annotations = ingress.metadata?.annotations ?? {};
    if (!(timeoutAnnotation in annotations || appliedAnnotation in annotations)) continue;
    if (services && configs && isInSync(ingress, services, configs)) inSync++;
    else targets.push(ingress);
  }
  const reconciled = await mapLimit(targets, concurrency, async (ingress) => {
    const namespace = ingress.metadata?.namespace ?? '';
    const name = ingress.metadata?.name ?? '';
    try {
      return await reconcileIngress(namespace, name, deps);
    } catch (error) {
      // One Ingress never fails the job (its namespace going away, its record refused): it is
      // reported failed with its code, the others are still reconciled. A bug still fails it.
      if (!(error instanceof KubefnError)) throw error;
      log('WARNING', 'ingress not reconciled', {
        namespace,
        name,
        code: error.code,
        detail: error.message,
      });
      const { detail } = safeFailure(error);
      return {
        namespace,
        name,
        outcome: 'failed',
        message: detail,
        backends: [],
      } satisfies ReconcileResult;
    }
  });
  const counts = Object.fromEntries(
    reconcileOutcomes.map((outcome) => [
      outcome,
      reconciled.filter((r) => r.outcome === outcome).length,
    ]),
  ) as ResyncSummary['counts'];
  // What was already in sync counts as reconcile would have answered it, without its reads.
  counts.unchanged += inSync;
  return {
    counts,
    results: reconciled
      .filter((r) => r.outcome !== 'unchanged' && r.outcome !== 'not-annotated')
      .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`)),
  };
}

/**
 * Whether the listed state already is what reconcile would write (backendconfig mode): the value
 * recorded on the Ingress is its annotation's, and every backend's Service names a BackendConfig
 * that has it. Anything else (no annotation, an invalid one, a missing object) is for reconcile.
 */
function isInSync(
  ingress: Ingress,
  services: Map<string, Service>,
  configs: Map<string, KubeObject>,
): boolean {
  const namespace = ingress.metadata?.namespace ?? '';
  const annotations = ingress.metadata?.annotations ?? {};
  const raw = annotations[timeoutAnnotation];
  const record = readAppliedRecord(annotations);
  if (raw === undefined) return !record || record.source === 'default';
  const parsed = parseTimeout(raw);
  if (!parsed.ok || record?.timeoutSec !== parsed.seconds) return false;
  if (record.source !== 'annotation' || record.mode !== 'backendconfig') return false;
  const backends = ingressBackends(ingress);
  return (
    backends.length > 0 &&
    backends.every((backend) => {
      const service = services.get(`${namespace}/${backend.service}`);
      const port = service && servicePort(service, backend.port);
      if (!service || !port) return false;
      const { name, named } = backendConfigName(service, backend, port);
      const config = configs.get(`${namespace}/${name}`) as
        | { spec?: { timeoutSec?: number } }
        | undefined;
      return named && config?.spec?.timeoutSec === parsed.seconds;
    })
  );
}
