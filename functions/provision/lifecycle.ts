// A tenant's lifecycle from Pub/Sub: a billing or CRM system publishes requests to
// kubefn-tenant-requests with the customer id as ordering key (one customer's requests apply in
// order); they are pushed to POST /pubsub/tenants (infra/subscriptions.ts).
//   signup       as POST /tenants: create or complete the tenant
//   change-plan  re-render the bundle with the new plan, keeping the recorded owners
//   suspend      the namespace labelled kubefn.dev/suspended=true; a ResourceQuota
//                kubefn-suspended (pods: 0) so nothing new starts; every Deployment and
//                StatefulSet scaled to zero, its replicas (and who set them) recorded on it. With
//                no pods, its Services and Ingresses have no backends: traffic gets no answer
//                from the tenant. The tenant's objects, data and configuration stay as they are.
//   resume       all of that undone: replicas as recorded, the quota and the label removed
//   cancel       as DELETE /tenants/:id?confirm=ID: `confirm` must repeat the customer id; beyond
//                the deletion budget it is held (held-deletions.ts) and answered `held`
// Each request carries `requestedAt`; the newest applied is recorded on the namespace, and a
// request no newer than it (a redelivery, a duplicate, one overtaken) changes nothing. A request
// dated further ahead than a small clock skew is refused: recorded, it would make every real
// request after it stale. Each action is idempotent as well, so a request that failed halfway is
// completed when redelivered.
import * as v from 'valibot';
import { DomainError, failureCode } from '../../shared/errors.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { suspendedLabel } from '../../shared/labels.ts';
import type { PushOutcome } from '../../shared/pubsub/push.ts';
import { retryOnConflict } from '../../shared/retry/conflict.ts';
import { defaultsManager } from './apply.ts';
// signup and cancel are POST /tenants and DELETE /tenants/:id: the same guards and idempotence.
import { deprovisionTenant, ownTenant, type ProvisionDeps, provisionTenant } from './handler.ts';
import { readTenant } from './read-tenant.ts';
import { CustomerIdSchema, OwnersSchema } from './schema.ts';
import {
  namespaceRef,
  planOf,
  quotaRef,
  suspensionLabelValue,
  suspensionQuota,
  suspensionQuotaName,
  type TenantId,
  tenantOf,
} from './tenant.ts';

const base = {
  customerId: CustomerIdSchema,
  /** When the publisher decided it (RFC 3339): what orders this customer's requests. */
  requestedAt: v.pipe(v.string(), v.isoTimestamp()),
};
const plan = v.pipe(v.string(), v.minLength(1), v.maxLength(40));

export const TenantRequestSchema = v.variant('action', [
  v.strictObject({ action: v.literal('signup'), ...base, plan, owners: OwnersSchema }),
  v.strictObject({ action: v.literal('change-plan'), ...base, plan }),
  v.strictObject({ action: v.literal('suspend'), ...base }),
  v.strictObject({ action: v.literal('resume'), ...base }),
  v.strictObject({ action: v.literal('cancel'), ...base, confirm: v.string() }),
]);
export type TenantRequest = v.InferOutput<typeof TenantRequestSchema>;

/**
 * How far ahead of kubefn's clock a request may be dated: publishers' clocks drift by seconds.
 * Checked when the request is applied, not in the schema: it depends on the time it arrives.
 */
export const maxClockSkewMs = 5 * 60_000;

/** A request dated beyond the skew: refused before anything is read or written. */
export function checkRequestedAt(requestedAt: string): void {
  if (Date.parse(requestedAt) - Date.now() > maxClockSkewMs)
    throw new DomainError(
      'requested-in-future',
      `requestedAt is more than ${maxClockSkewMs / 60_000} minutes ahead of kubefn's clock`,
    );
}

/** The newest request applied to a tenant (its `requestedAt`), on the namespace. */
export const requestedAtAnnotation = 'kubefn.dev/requested-at';
/** On a suspended workload: JSON {replicas, manager} as it was before. */
export const replicasAnnotation = 'kubefn.dev/replicas-before-suspend';
/** The suspension's own writes; the record's has its own manager so neither removes the other's. */
const lifecycleManager = 'kubefn-lifecycle';
const recordManager = 'kubefn-lifecycle-record';
const workloadKinds = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
] as const;

/**
 * Whether a request is no newer than the newest applied (`applied`, the namespace's record): a
 * redelivery, a duplicate, or one overtaken. No record, or one that is not a date, stales nothing.
 */
export function isStale(applied: string | undefined, requestedAt: string): boolean {
  return applied !== undefined && Date.parse(applied) >= Date.parse(requestedAt);
}

export async function applyTenantRequest(
  request: TenantRequest,
  deps: ProvisionDeps,
): Promise<PushOutcome> {
  const { action, customerId, requestedAt } = request;
  checkRequestedAt(requestedAt);
  const id = { customerId, namespace: deps.namespacePrefix + customerId };
  const { namespace } = id;
  const answer = { action, ...id };
  const live = await deps.cluster.resource(namespaceRef).find(namespace);
  const applied = live?.metadata?.annotations?.[requestedAtAnnotation];
  if (isStale(applied, requestedAt)) return { outcome: 'stale', ...answer, applied };

  if (action === 'cancel') {
    // Gone already, or going: a repeated cancel is done, not a failure.
    if (!live || live.metadata?.deletionTimestamp)
      return { outcome: 'done', ...answer, detail: 'already deleted' };
    const source = { via: 'pubsub' as const, requestedAt };
    try {
      await deprovisionTenant(
        customerId,
        { confirm: request.confirm, dryRun: false, source },
        deps,
      );
    } catch (error) {
      // Beyond the deletion budget: the hold is recorded on the namespace (held-deletions.ts),
      // and so is this request, so a redelivery is stale; the message is acknowledged.
      if (!(error instanceof DomainError && error.code === 'deletion-held')) throw error;
      await record(deps.cluster, namespace, requestedAt);
      return { outcome: 'held', ...answer, ...(error.details as object) };
    }
    return { outcome: 'done', ...answer };
  }
  if (action === 'signup' || action === 'change-plan') {
    planOf(deps.templates, request.plan);
    let owners = action === 'signup' ? request.owners : [];
    if (action === 'change-plan') {
      // A plan change keeps the recorded owners (the template cannot know them).
      const ns = await ownTenant(deps, customerId, { allowTerminating: false });
      const recorded = tenantOf(ns, deps.namespacePrefix);
      if (recorded) ({ owners } = await readTenant(deps, recorded));
    }
    await provisionTenant({ customerId, plan: request.plan, owners, dryRun: false }, deps);
  } else {
    await ownTenant(deps, customerId, { allowTerminating: false });
    if (action === 'suspend') await suspend(deps.cluster, id);
    else await resume(deps.cluster, namespace);
  }
  await record(deps.cluster, namespace, requestedAt);
  return { outcome: 'done', ...answer };
}

/** Records `requestedAt` as the newest request applied to the tenant. */
function record(cluster: Cluster, namespace: string, requestedAt: string) {
  return cluster.resource(namespaceRef).apply(
    {
      ...namespaceRef,
      metadata: { name: namespace, annotations: { [requestedAtAnnotation]: requestedAt } },
    },
    { fieldManager: recordManager, force: true },
  );
}

async function suspend(cluster: Cluster, tenant: TenantId): Promise<void> {
  // The label first: from then on self-healing, the scheduled check and a re-sign-up keep the
  // quota (the tenant model gives a suspended tenant one), and leave the replicas alone (their
  // field is no longer kubefn-defaults').
  await markSuspended(cluster, tenant.namespace, true);
  await cluster
    .resource(quotaRef)
    .apply(suspensionQuota(tenant), { fieldManager: lifecycleManager, force: true });
  await eachWorkload(cluster, tenant.namespace, suspendPatch);
}

/** What suspending does to a workload: replicas zero, and what they were recorded. */
export function suspendPatch(workload: KubeObject): Record<string, unknown> | undefined {
  // Recorded already: a repeated suspend must not record the zero it set.
  if (workload.metadata?.annotations?.[replicasAnnotation] !== undefined) return undefined;
  const replicas = (workload.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const record = { replicas, manager: replicasManager(workload) };
  return {
    metadata: { annotations: { [replicasAnnotation]: JSON.stringify(record) } },
    spec: { replicas: 0 },
  };
}

async function resume(cluster: Cluster, namespace: string): Promise<void> {
  // The label first: self-healing must not put back the quota removed next.
  await markSuspended(cluster, namespace, false);
  await cluster
    .resource(quotaRef)
    .delete(suspensionQuotaName, { namespace })
    .catch((error: unknown) => {
      if (failureCode(error) !== 'not-found') throw error;
    });
  await eachWorkload(cluster, namespace, async (workload, resource) => {
    const record = readReplicas(workload);
    if (!record) return undefined;
    if (record.manager !== defaultsManager)
      return {
        metadata: { annotations: { [replicasAnnotation]: null } },
        spec: { replicas: record.replicas },
      };
    // Replicas kubefn set as a default go back to kubefn-defaults, so they follow the plan again;
    // the record goes only after (a crash between leaves it for the next resume), guarded by the
    // version this write made.
    const restored = await resource.apply(
      {
        apiVersion: workload.apiVersion ?? '',
        kind: workload.kind ?? '',
        metadata: { name: workload.metadata?.name ?? '', namespace },
        spec: { replicas: record.replicas },
      },
      { fieldManager: defaultsManager, force: true },
    );
    return {
      metadata: {
        annotations: { [replicasAnnotation]: null },
        resourceVersion: restored.metadata?.resourceVersion,
      },
    };
  });
}

function markSuspended(cluster: Cluster, namespace: string, suspended: boolean) {
  return cluster.resource(namespaceRef).apply(
    {
      ...namespaceRef,
      // Omitted, the label this manager set is removed.
      metadata: {
        name: namespace,
        labels: suspended ? { [suspendedLabel]: suspensionLabelValue } : {},
      },
    },
    { fieldManager: lifecycleManager, force: true },
  );
}

/**
 * Patches each Deployment and StatefulSet with what `change` computes from it (nothing when it
 * returns undefined), guarded by the resourceVersion read (or the one `change` gives, when it
 * wrote itself): a concurrent change is read again.
 */
async function eachWorkload(
  cluster: Cluster,
  namespace: string,
  change: (
    workload: KubeObject,
    resource: ReturnType<Cluster['resource']>,
  ) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>,
): Promise<void> {
  for (const kind of workloadKinds) {
    const resource = cluster.resource(kind);
    for await (const listed of resource.items({ namespace })) {
      const name = listed.metadata?.name ?? '';
      await retryOnConflict(async (attempt) => {
        const workload = {
          ...kind,
          ...(attempt === 1 ? listed : await resource.get(name, { namespace })),
        };
        const patch = await change(workload, resource);
        if (!patch) return;
        const metadata = (patch.metadata ?? {}) as Record<string, unknown>;
        await resource.patch(
          name,
          {
            ...patch,
            metadata: { resourceVersion: workload.metadata?.resourceVersion, ...metadata },
          },
          { namespace, fieldManager: lifecycleManager },
        );
      });
    }
  }
}

/** Who set a workload's replicas (from managedFields): the manager of `.spec.replicas`. */
export function replicasManager(workload: KubeObject): string | undefined {
  const fields = (
    workload.metadata as { managedFields?: { manager?: string; fieldsV1?: unknown }[] }
  ).managedFields;
  return fields?.find(
    (entry) =>
      (entry.fieldsV1 as { 'f:spec'?: { 'f:replicas'?: unknown } } | undefined)?.['f:spec']?.[
        'f:replicas'
      ] !== undefined,
  )?.manager;
}

const RecordSchema = v.object({
  replicas: v.pipe(v.number(), v.integer(), v.minValue(0)),
  manager: v.optional(v.string()),
});

export function readReplicas(workload: KubeObject) {
  const raw = workload.metadata?.annotations?.[replicasAnnotation];
  if (raw === undefined) return undefined;
  try {
    return v.parse(RecordSchema, JSON.parse(raw));
  } catch {
    // Not kubefn's writing (someone edited it): the workload is left as it is, not guessed at.
    return undefined;
  }
}
