// One Ingress, level-triggered: read it as it is now, work out the timeout it asks for, apply it
// to every backing Service's load balancer backend in the configured mode, and record what was
// applied on the Ingress. Nothing is written when everything is already right, so repeats,
// duplicates and older events are harmless; an event older than the recorded state is skipped.
import { isRetryable, KubefnError } from '../../shared/errors.ts';
import { type Cluster, safeFailure } from '../../shared/kube/index.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { retryOnConflict } from '../../shared/retry/conflict.ts';
import { applyWithBackendConfig } from './backendconfig.ts';
import { type Ingress, ingressBackends, syncedBackends } from './backends.ts';
import { applyWithCompute, type ComputeTarget } from './compute.ts';
import { type BackendResult, fieldManager, type Mode, type ReconcileOutcome } from './outcomes.ts';
import {
  type AppliedRecord,
  appliedAnnotation,
  defaultTimeoutSec,
  parseTimeout,
  readAppliedRecord,
  timeoutAnnotation,
} from './timeout.ts';

export type ReconcileResult = {
  namespace: string;
  name: string;
  outcome: ReconcileOutcome;
  timeoutSec?: number;
  source?: AppliedRecord['source'];
  message?: string;
  backends: BackendResult[];
};

export type ReconcileDeps = {
  cluster: Cluster;
  mode: Mode;
  /** Compute mode: the API client and project; internal (gce-internal) Ingresses use `region`. */
  compute?: (ComputeTarget & { internalRegion?: string | undefined }) | undefined;
  now?: () => Date;
};

export async function reconcileIngress(
  namespace: string,
  name: string,
  deps: ReconcileDeps,
  options: { eventResourceVersion?: string | undefined } = {},
): Promise<ReconcileResult> {
  const ingresses = deps.cluster.resource<Ingress>({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
  });
  const base = { namespace, name, backends: [] as BackendResult[] };
  // The record is written guarded by the Ingress's resourceVersion: if the Ingress changed
  // meanwhile (a new value), the record must not claim this one; start over from the new state.
  return retryOnConflict(
    async (): Promise<ReconcileResult> => {
      const ingress = await ingresses.find(name, { namespace });
      if (!ingress) return { ...base, outcome: 'not-found' };
      const annotations = ingress.metadata?.annotations ?? {};
      const record = readAppliedRecord(annotations);
      if (isOlder(options.eventResourceVersion, record?.ingressResourceVersion))
        return { ...base, outcome: 'stale', message: 'an older event than the applied state' };

      const raw = annotations[timeoutAnnotation];
      let timeoutSec: number;
      let source: AppliedRecord['source'];
      if (raw === undefined) {
        // Removing the annotation writes the default back explicitly: removing timeoutSec from a
        // BackendConfig or a backend service would leave the old value in place.
        if (!record || record.source === 'default')
          return { ...base, outcome: record ? 'unchanged' : 'not-annotated' };
        timeoutSec = defaultTimeoutSec;
        source = 'default';
      } else {
        const parsed = parseTimeout(raw);
        if (!parsed.ok)
          return {
            ...base,
            outcome: 'invalid',
            message: `${timeoutAnnotation}: ${parsed.message}`,
          };
        timeoutSec = parsed.seconds;
        source = 'annotation';
      }

      const backends = await Promise.all(
        ingressBackends(ingress).map((backend) =>
          applyOne(deps, ingress, namespace, backend, timeoutSec).catch(
            (error: unknown): BackendResult => {
              // A transient failure retries the whole event; a bug is a 500.
              if (isRetryable(error) || !(error instanceof KubefnError)) throw error;
              log('WARNING', 'backend not updated', {
                namespace,
                name,
                service: backend.service,
                code: error.code,
                detail: error.message,
              });
              return {
                service: backend.service,
                port: backend.port.name ?? backend.port.number,
                outcome: 'failed',
                ...safeFailure(error),
              };
            },
          ),
        ),
      );
      const result = { ...base, timeoutSec, source, backends };
      if (backends.length === 0)
        return { ...result, outcome: 'failed', message: 'the Ingress has no Service backends' };
      if (backends.some((b) => b.outcome === 'failed')) return { ...result, outcome: 'failed' };
      if (backends.some((b) => b.outcome === 'waiting')) return { ...result, outcome: 'waiting' };

      const changed = backends.some((b) => b.outcome === 'updated');
      const recorded =
        record?.timeoutSec === timeoutSec && record.source === source && record.mode === deps.mode;
      if (!changed && recorded) return { ...result, outcome: 'unchanged' };
      const next: AppliedRecord = {
        timeoutSec,
        mode: deps.mode,
        source,
        appliedAt: (deps.now?.() ?? new Date()).toISOString(),
        ingressResourceVersion: ingress.metadata?.resourceVersion ?? '',
      };
      await ingresses.patch(
        name,
        {
          metadata: {
            resourceVersion: ingress.metadata?.resourceVersion,
            annotations: { [appliedAnnotation]: JSON.stringify(next) },
          },
        },
        { namespace, fieldManager },
      );
      return { ...result, outcome: 'applied' };
    },
    { attempts: 3 },
  );
}

function applyOne(
  deps: ReconcileDeps,
  ingress: Ingress,
  namespace: string,
  backend: ReturnType<typeof ingressBackends>[number],
  timeoutSec: number,
): Promise<BackendResult> {
  if (deps.mode === 'backendconfig')
    return applyWithBackendConfig(deps.cluster, namespace, backend, timeoutSec);
  if (!deps.compute) throw new Error('compute mode needs a Compute client and project');
  const internal =
    ingress.spec?.ingressClassName === 'gce-internal' ||
    ingress.metadata?.annotations?.['kubernetes.io/ingress.class'] === 'gce-internal';
  const target = { ...deps.compute, region: internal ? deps.compute.internalRegion : undefined };
  return applyWithCompute(
    deps.cluster,
    namespace,
    backend,
    syncedBackends(ingress),
    timeoutSec,
    target,
  );
}

/**
 * resourceVersions are formally opaque; an etcd-backed kube-apiserver's are increasing integers,
 * and only then is an order read from them (otherwise: not older, and the level-triggered read
 * above decides).
 */
function isOlder(event: string | undefined, applied: string | undefined): boolean {
  if (!event || !applied || !/^\d+$/.test(event) || !/^\d+$/.test(applied)) return false;
  return BigInt(event) < BigInt(applied);
}
