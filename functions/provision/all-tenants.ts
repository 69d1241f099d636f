// Every tenant of this cell, for operators (GET /all-tenants): its phase, plan, customer, when it
// was accepted and became ready, and its last repair (repair-record.ts). Its reads do not grow
// with the tenants, as the scheduled check's (resync.ts): one paginated list of the tenant
// namespaces, one per kind of the bundle, one of EndpointSlices; readiness (readiness.ts) is then
// worked out locally per tenant. Pods are not read: a tenant whose workload cannot start shows as
// Provisioning here, and its own status (GET /tenants/:id) says why.
import type { KubeObject } from '../../shared/kube/index.ts';
import { movedFromAnnotation, movingToLabel, ownerUidAnnotation } from '../../shared/labels.ts';
import type { ProvisionDeps } from './handler.ts';
import { heldLabel } from './held-deletions.ts';
import { readiness } from './readiness.ts';
import { bundleRefs } from './render.ts';
import { lastRepairOf, type Repair } from './repair-record.ts';
import { namespaceRef, tenantKinds, tenantOf, tenantSelector } from './tenant.ts';

export type TenantSummary = {
  customerId: string;
  namespace: string;
  plan: string;
  phase: 'Provisioning' | 'Ready' | 'Suspended' | 'Terminating';
  /** The customer who signed up (their user id), when one did. */
  ownerUid?: string;
  /** The emails bound as the tenant's owners. */
  owners: string[];
  acceptedAt?: string;
  readyAt?: string;
  /** readyAt - acceptedAt, in milliseconds (the cluster's times: whole seconds). */
  timeToReadyMs?: number;
  lastRepair?: Repair;
  deletionHeld: boolean;
  /** Being moved to this cell (frozen here until the move removes it: move.ts). */
  movingTo?: string;
  /** The cell this copy was moved from. */
  movedFrom?: string;
};

const endpointSliceRef = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' } as const;

export async function allTenants(deps: ProvisionDeps): Promise<TenantSummary[]> {
  const listAll = async (kind: { apiVersion: string; kind: string }, labelSelector?: string) => {
    const objects: KubeObject[] = [];
    for await (const o of deps.cluster.resource(kind).items(labelSelector ? { labelSelector } : {}))
      objects.push({ ...o, apiVersion: kind.apiVersion, kind: kind.kind });
    return objects;
  };
  const [namespaces, objects, slices] = await Promise.all([
    listAll(namespaceRef, tenantSelector),
    Promise.all(tenantKinds(deps.templates).map((kind) => listAll(kind, tenantSelector))),
    listAll(endpointSliceRef),
  ]);
  const byNamespace = (list: KubeObject[]) => {
    const grouped = new Map<string, KubeObject[]>();
    for (const o of list) {
      const ns = o.metadata?.namespace ?? '';
      grouped.set(ns, [...(grouped.get(ns) ?? []), o]);
    }
    return grouped;
  };
  const objectsIn = byNamespace(objects.flat());
  const slicesIn = byNamespace(slices);
  return namespaces
    .flatMap((ns) => {
      const tenant = tenantOf(ns, deps.namespacePrefix);
      if (!tenant) return [];
      return [
        summarise(ns, tenant, {
          bundle: bundleRefs(deps.templates, tenant),
          objects: objectsIn.get(tenant.namespace) ?? [],
          endpointSlices: slicesIn.get(tenant.namespace) ?? [],
        }),
      ];
    })
    .sort((a, b) => a.customerId.localeCompare(b.customerId));
}

/** One tenant's row, from its namespace and its objects as listed. */
export function summarise(
  ns: KubeObject,
  tenant: NonNullable<ReturnType<typeof tenantOf>>,
  listed: {
    bundle: { kind: string; name: string }[];
    objects: KubeObject[];
    endpointSlices: KubeObject[];
  },
): TenantSummary {
  const ready = readiness({ namespace: ns, ...listed, pods: [] });
  const acceptedAt = ready.phases[0]?.reached ? ready.phases[0].at : undefined;
  const took =
    acceptedAt && ready.readyAt ? Date.parse(ready.readyAt) - Date.parse(acceptedAt) : undefined;
  const ownerUid = ns.metadata?.annotations?.[ownerUidAnnotation];
  const lastRepair = lastRepairOf(ns);
  const movingTo = ns.metadata?.labels?.[movingToLabel];
  const movedFrom = ns.metadata?.annotations?.[movedFromAnnotation];
  return {
    customerId: tenant.customerId,
    namespace: tenant.namespace,
    plan: tenant.plan,
    phase: tenant.terminating
      ? 'Terminating'
      : tenant.suspended
        ? 'Suspended'
        : ready.state === 'ready'
          ? 'Ready'
          : 'Provisioning',
    ...(ownerUid ? { ownerUid } : {}),
    owners: tenant.owners ?? [],
    ...(acceptedAt ? { acceptedAt } : {}),
    ...(ready.readyAt ? { readyAt: ready.readyAt } : {}),
    ...(took !== undefined && Number.isFinite(took) ? { timeToReadyMs: Math.max(0, took) } : {}),
    ...(lastRepair ? { lastRepair } : {}),
    deletionHeld: ns.metadata?.labels?.[heldLabel] === 'true',
    ...(movingTo ? { movingTo } : {}),
    ...(movedFrom ? { movedFrom } : {}),
  };
}
