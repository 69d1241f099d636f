// A tenant's readiness in phases, worked out from what the cluster holds now: no record of its
// own, so every instance of provision answers the same. Each phase's time comes from the objects
// themselves (creation times, a condition's last transition, the time a controller last wrote an
// object's status), so it is when the cluster reached it, not when someone looked:
//   accepted            the sign-up was taken (the namespace's accepted-at annotation)
//   namespace-active    the namespace exists and is Active
//   policy-in-force     quota counted by its controller, limits, network policy and RBAC in place
//   workload-available  every workload of the bundle Available with all its replicas
//   reachable           the Service has a ready endpoint, and the Ingress is in place
// A phase not reached may carry a reason a customer can read (over quota, unschedulable, cannot
// start); then the tenant has failed, and is never called ready.
import type { KubeObject } from '../../shared/kube/index.ts';

export const phaseNames = [
  'accepted',
  'namespace-active',
  'policy-in-force',
  'workload-available',
  'reachable',
] as const;
export type PhaseName = (typeof phaseNames)[number];

export type FailureCode = 'over-quota' | 'unschedulable' | 'cannot-start';
export type Phase = {
  name: PhaseName;
  reached: boolean;
  /** When the cluster reached it (RFC 3339). */
  at?: string;
  /** Why it cannot be reached as things are: words safe to show the customer. */
  failure?: { code: FailureCode; message: string };
  /** Where it stands, when not reached ("0/1 replicas available"). */
  detail?: string;
};
export type Readiness = {
  state: 'provisioning' | 'ready' | 'failed';
  phases: Phase[];
  /** When every phase was reached: the last one's time. */
  readyAt?: string;
  /** Where the customer reaches their instance, once reachable: the Ingress's address or host. */
  address?: string;
};

/** What readiness is read from: the namespace, the bundle's objects as they are, and the pods. */
export type TenantObjects = {
  namespace: KubeObject | undefined;
  /** What the bundle holds: each object's kind and name. */
  bundle: { kind: string; name: string }[];
  /** The bundle's objects as they are (absent ones left out). */
  objects: KubeObject[];
  /** EndpointSlices of the bundle's Services. */
  endpointSlices: KubeObject[];
  /** The tenant's pods (read only while a workload is not available, to say why). */
  pods: KubeObject[];
};

export const acceptedAtAnnotation = 'kubefn.dev/accepted-at';
export const workloadKinds = new Set(['Deployment', 'StatefulSet']);
/** What a tenant's workloads run under: in place before them (handler.ts writes them first). */
export const policyKinds = new Set([
  'ResourceQuota',
  'LimitRange',
  'NetworkPolicy',
  'RoleBinding',
  'ServiceAccount',
]);

type Status = {
  hard?: unknown;
  phase?: string;
  replicas?: number;
  availableReplicas?: number;
  readyReplicas?: number;
  conditions?: {
    type: string;
    status: string;
    reason?: string;
    message?: string;
    lastTransitionTime?: string;
  }[];
  loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] };
  containerStatuses?: { state?: { waiting?: { reason?: string } } }[];
};
const statusOf = (o: KubeObject | undefined) => (o?.status ?? {}) as Status;
const condition = (o: KubeObject, type: string) =>
  statusOf(o).conditions?.find((c) => c.type === type);

/** The latest of some RFC 3339 times (undefined if none). */
const latest = (times: (string | undefined)[]) =>
  times
    .filter((t): t is string => Boolean(t))
    .sort((a, b) => Date.parse(a) - Date.parse(b))
    .at(-1);

/**
 * When the object was last written (its managed fields say; only its status subresource's writes
 * with `subresource`), else its creation.
 */
const writtenAt = (o: KubeObject, subresource?: string) =>
  latest(
    (o.metadata?.managedFields ?? [])
      .filter((f) => subresource === undefined || f.subresource === subresource)
      .map((f) => f.time),
  ) ?? o.metadata?.creationTimestamp;

export function readiness(input: TenantObjects): Readiness {
  const { namespace, objects } = input;
  const of = (kinds: Set<string>) => objects.filter((o) => kinds.has(o.kind ?? ''));
  const phases: Phase[] = [];
  const add = (name: PhaseName, holds: boolean, at: string | undefined, extra = {}) => {
    // Phases come in order: one is reached once the one before it is, and no earlier (the
    // objects' times have a second's resolution).
    const previous = phases.at(-1);
    const reached = holds && (previous?.reached ?? true);
    const time = reached ? latest([previous?.at, at]) : undefined;
    phases.push({ name, reached, ...(time ? { at: time } : {}), ...extra });
  };

  const created = namespace?.metadata?.creationTimestamp;
  add(
    'accepted',
    Boolean(namespace),
    namespace?.metadata?.annotations?.[acceptedAtAnnotation] ?? created,
  );
  add('namespace-active', statusOf(namespace).phase === 'Active', created);

  const policy = of(policyKinds);
  const quotas = policy.filter((o) => o.kind === 'ResourceQuota');
  const present = (ref: { kind: string; name: string }) =>
    objects.some((o) => o.kind === ref.kind && o.metadata?.name === ref.name);
  const missing = input.bundle.filter((ref) => policyKinds.has(ref.kind) && !present(ref));
  const counted = quotas.every((q) => statusOf(q).hard !== undefined);
  add(
    'policy-in-force',
    missing.length === 0 && counted,
    latest([
      ...policy.map((o) => o.metadata?.creationTimestamp),
      ...quotas.map((q) => writtenAt(q, 'status')),
    ]),
    missing.length
      ? { detail: `missing: ${missing.map((m) => `${m.kind} ${m.name}`).join(', ')}` }
      : counted
        ? {}
        : { detail: 'quota not counted yet' },
  );

  const workloads = of(workloadKinds);
  const waiting = workloads.filter((w) => !available(w));
  const failure = waiting.length ? whyNot(waiting, input.pods) : undefined;
  add(
    'workload-available',
    workloads.length > 0 && waiting.length === 0,
    latest(workloads.map((w) => condition(w, 'Available')?.lastTransitionTime)),
    {
      ...(failure ? { failure } : {}),
      ...(waiting.length ? { detail: waiting.map(replicasDetail).join('; ') } : {}),
    },
  );

  const ingress = objects.find((o) => o.kind === 'Ingress');
  const readySlices = input.endpointSlices.filter(hasReadyEndpoint);
  // A slice's endpoints are written by its controller: its last write is when they became ready.
  add(
    'reachable',
    readySlices.length > 0 && ingress !== undefined,
    latest([...readySlices.map((slice) => writtenAt(slice)), ingress?.metadata?.creationTimestamp]),
    readySlices.length ? {} : { detail: 'no ready endpoint yet' },
  );

  const ready = phases.every((p) => p.reached);
  const readyAt = ready ? phases.at(-1)?.at : undefined;
  const address = ready && ingress ? addressOf(ingress) : undefined;
  return {
    state: ready ? 'ready' : phases.some((p) => p.failure) ? 'failed' : 'provisioning',
    phases,
    ...(readyAt ? { readyAt } : {}),
    ...(address ? { address } : {}),
  };
}

/** Whether an EndpointSlice holds an endpoint that is ready. */
export const hasReadyEndpoint = (slice: KubeObject): boolean =>
  ((slice as { endpoints?: { conditions?: { ready?: boolean } }[] }).endpoints ?? []).some(
    (e) => e.conditions?.ready === true,
  );

/** A Deployment or StatefulSet Available with every replica it asks for (none: not available). */
export function available(workload: KubeObject): boolean {
  const spec = (workload.spec ?? {}) as { replicas?: number };
  const wanted = spec.replicas ?? 1;
  return (
    wanted > 0 &&
    (statusOf(workload).availableReplicas ?? 0) >= wanted &&
    condition(workload, 'Available')?.status === 'True'
  );
}

export function replicasDetail(workload: KubeObject): string {
  const wanted = ((workload.spec ?? {}) as { replicas?: number }).replicas ?? 1;
  const ready = statusOf(workload).availableReplicas ?? 0;
  return `${workload.kind} ${workload.metadata?.name}: ${ready}/${wanted} replicas available`;
}

const cannotStart = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
]);

/** Why workloads are not available, if the cluster says it cannot get better by waiting. */
function whyNot(waiting: KubeObject[], pods: KubeObject[]): Phase['failure'] {
  for (const w of waiting) {
    const failed = condition(w, 'ReplicaFailure');
    if (failed?.status === 'True' && /exceeded quota|forbidden/i.test(failed.message ?? ''))
      return {
        code: 'over-quota',
        message: `${w.kind} ${w.metadata?.name} asks for more than the plan's quota allows`,
      };
  }
  for (const pod of pods) {
    const scheduled = condition(pod, 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable')
      return { code: 'unschedulable', message: 'no node has room for the workload' };
    const reason = statusOf(pod).containerStatuses?.find((c) =>
      cannotStart.has(c.state?.waiting?.reason ?? ''),
    )?.state?.waiting?.reason;
    if (reason) return { code: 'cannot-start', message: `the workload cannot start (${reason})` };
  }
  return undefined;
}

function addressOf(ingress: KubeObject): string | undefined {
  const lb = statusOf(ingress).loadBalancer?.ingress?.[0];
  const rule = (
    (ingress.spec ?? {}) as { rules?: { host?: string; http?: { paths?: { path?: string }[] } }[] }
  ).rules?.[0];
  const path = rule?.http?.paths?.[0]?.path ?? '/';
  const host = rule?.host ?? lb?.hostname ?? lb?.ip;
  return host ? `http://${host}${path}` : undefined;
}
