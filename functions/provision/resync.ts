// The scheduled tenant check (Cloud Scheduler, over HTTP with an OIDC token): every tenant's
// objects are compared with its template, and only what is missing or has drifted is written
// back; the answer lists what was put back, each tenant that could not be repaired, and each
// running tenant whose workload is not available (from the same lists: no read of its own).
//
// Its reads do not grow with the tenants: one paginated, label-selected list per kind of the
// bundle for all tenants at once, compared locally (apply.ts `drift`), so an unchanged tenant
// costs no request of its own. Writes are bounded in concurrency. One tenant that cannot be
// repaired is reported with its code and reason; the others are still checked. Only a list
// failing (the API server unreachable, or kubefn not allowed to read) fails the whole job.
// What each tenant should hold is the tenant model's answer (tenant.ts), for its namespace as
// listed: its plan, its suspension (a suspended tenant keeps its suspension quota), and the
// owners kubefn recorded (read-tenant.ts): the template cannot know them, and the check must not
// drop them.
import { mapLimit } from '../../shared/concurrency.ts';
import { KubefnError } from '../../shared/errors.ts';
import {
  type Cluster,
  type FailedObject,
  type KubeObject,
  safeFailure,
} from '../../shared/kube/index.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { applyTenantObject, drift } from './apply.ts';
import type { ProvisionDeps } from './handler.ts';
import { readTenant } from './read-tenant.ts';
import { available, replicasDetail, workloadKinds } from './readiness.ts';
import type { TenantObject } from './render.ts';
import { recordRepair } from './repair-record.ts';
import {
  customersSelector,
  desiredObjects,
  namespaceRef,
  type ObjectRef,
  objectKey,
  type RecordedTenant,
  ref,
  tenantKinds,
  tenantOf,
  tenantSelector,
  typeRef,
} from './tenant.ts';

export type TenantCheck = {
  customerId: string;
  namespace: string;
  outcome: 'unchanged' | 'repaired' | 'failed';
  repaired: (ObjectRef & { was: 'missing' | 'different' | 'defaults' })[];
  code?: string;
  /** Why, in words safe to show; the server's own message is in the log. */
  detail?: string;
  object?: FailedObject;
  /** A running tenant's workloads that were not Available with all their replicas when listed. */
  unavailable?: (ObjectRef & { detail: string })[];
};

/** Tenants whose repairs run at once: each writes its objects one after another. */
const concurrency = 8;

export type ResyncAnswer = {
  counts: Record<TenantCheck['outcome'], number> & { unavailable: number };
  tenants: TenantCheck[];
};

/**
 * Checks every tenant, or only `customers` (one batch of a fanned-out job, fanout.ts): the same
 * lists, selected by `kubefn.dev/customer in (...)`. `tenants` saves listing them again.
 */
export async function resyncTenants(
  deps: ProvisionDeps,
  options: { customers?: string[]; tenants?: RecordedTenant[] } = {},
): Promise<ResyncAnswer> {
  const selector = options.customers ? customersSelector(options.customers) : tenantSelector;
  const [listed, live] = await Promise.all([
    options.tenants ?? listTenants(deps, selector),
    liveObjects(deps, selector),
  ]);
  const tenants = listed.filter((tenant) => !tenant.terminating);
  const checks = await mapLimit(tenants, concurrency, (tenant) => checkTenant(tenant, live, deps));
  const counts = { unchanged: 0, repaired: 0, failed: 0, unavailable: 0 };
  for (const check of checks) {
    counts[check.outcome]++;
    if (check.unavailable) counts.unavailable++;
  }
  return {
    counts,
    tenants: checks.filter((t) => t.outcome !== 'unchanged' || t.unavailable),
  };
}

/**
 * This deployment's tenants, from one paginated list of their namespaces: kubefn-managed, with a
 * customer, named prefix + that customer (another kubefn's tenants in the same cluster are its
 * own to check; a namespace named otherwise is no tenant, tenant.ts).
 */
export async function listTenants(
  deps: ProvisionDeps,
  selector = tenantSelector,
): Promise<RecordedTenant[]> {
  const namespaces = await listAll(deps.cluster, namespaceRef, selector);
  return namespaces.flatMap((ns) => tenantOf(ns, deps.namespacePrefix) ?? []);
}

/** Every kubefn-managed object of a tenant's kinds, by kind, namespace and name. */
async function liveObjects(
  deps: ProvisionDeps,
  selector: string,
): Promise<Map<string, KubeObject>> {
  const lists = await Promise.all(
    tenantKinds(deps.templates).map((kind) => listAll(deps.cluster, kind, selector)),
  );
  return new Map(lists.flat().map((object) => [objectKey(object), object]));
}

async function listAll(
  cluster: Cluster,
  kind: { apiVersion: string; kind: string },
  labelSelector: string,
): Promise<KubeObject[]> {
  const objects: KubeObject[] = [];
  for await (const object of cluster.resource(kind).items({ labelSelector }))
    objects.push({ ...object, apiVersion: kind.apiVersion, kind: kind.kind });
  return objects;
}

async function checkTenant(
  recorded: RecordedTenant,
  live: Map<string, KubeObject>,
  deps: ProvisionDeps,
): Promise<TenantCheck> {
  const { customerId, namespace } = recorded;
  const result = { customerId, namespace, repaired: [] as TenantCheck['repaired'] };
  try {
    const tenant = await readTenant(deps, recorded, live);
    const unavailable: NonNullable<TenantCheck['unavailable']> = [];
    for (const entry of desiredObjects(deps.templates, tenant, deps.subjects)) {
      const current = live.get(objectKey(entry.object));
      const was = drift(entry, current);
      // A suspended tenant's workloads are down by design; one just written is not judged yet.
      const judged = !was && current && !tenant.suspended && workloadKinds.has(current.kind ?? '');
      if (judged && !available(current))
        unavailable.push({ ...ref(current), detail: replicasDetail(current) });
      if (!was) continue;
      const after = await write(deps, entry, was);
      if (after?.metadata?.resourceVersion !== current?.metadata?.resourceVersion)
        result.repaired.push({ ...ref(entry.object), was });
    }
    const last = result.repaired.at(-1);
    if (last)
      await recordRepair(deps.cluster, namespace, {
        at: new Date().toISOString(),
        by: 'resync',
        object: `${last.kind}/${last.name}`,
        was: last.was,
      });
    return {
      ...result,
      outcome: result.repaired.length ? 'repaired' : 'unchanged',
      ...(unavailable.length ? { unavailable } : {}),
    };
  } catch (error) {
    // One tenant's failure is reported with its code and the others are still checked; the next
    // scheduled run tries it again. A bug is not a tenant's failure: it fails the run.
    if (!(error instanceof KubefnError)) throw error;
    log('WARNING', 'tenant check failed', { namespace, code: error.code, detail: error.message });
    return { ...result, outcome: 'failed', ...safeFailure(error) };
  }
}

function write(
  deps: ProvisionDeps,
  entry: TenantObject,
  was: 'missing' | 'different' | 'defaults',
) {
  const resource = deps.cluster.resource(typeRef(entry.object));
  return applyTenantObject(resource, entry, was === 'defaults' ? { only: 'defaults' } : {});
}
