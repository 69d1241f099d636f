// The scheduled tenant check (Cloud Scheduler, over HTTP with an OIDC token): every tenant's
// objects are compared with its template, and only what is missing or has drifted is written
// back; the answer lists what was put back, and each tenant that could not be repaired.
//
// Its reads do not grow with the tenants: one paginated, label-selected list per kind of the
// bundle for all tenants at once, compared locally (apply.ts `drift`), so an unchanged tenant
// costs no request of its own. Writes are bounded in concurrency. One tenant that cannot be
// repaired is reported with its code and reason; the others are still checked. Only a list
// failing (the API server unreachable, or kubefn not allowed to read) fails the whole job.
// The owners come from kubefn's record on the namespace (owner.ts): the template cannot know
// them, and the check must not drop them.
import { mapLimit } from '../../shared/concurrency.ts';
import { KubefnError } from '../../shared/errors.ts';
import {
  type Cluster,
  type FailedObject,
  KubeError,
  type KubeObject,
  safeFailure,
} from '../../shared/kube/index.ts';
import { customerLabel, managedByLabel, managedByValue, planLabel } from '../../shared/labels.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { applyTenantObject, drift } from './apply.ts';
import { type ObjectRef, type ProvisionDeps, ref, typeRef } from './handler.ts';
import { recordedOwners } from './owner.ts';
import { type RenderValues, renderTenant, type TenantObject } from './render.ts';

export type TenantCheck = {
  customerId: string;
  namespace: string;
  outcome: 'unchanged' | 'repaired' | 'failed';
  repaired: (ObjectRef & { was: 'missing' | 'different' | 'defaults' })[];
  code?: string;
  /** Why, in words safe to show; the server's own message is in the log. */
  detail?: string;
  object?: FailedObject;
};

/** Tenants whose repairs run at once: each writes its objects one after another. */
const concurrency = 8;
const managedSelector = `${managedByLabel}=${managedByValue},${customerLabel}`;

export type ResyncAnswer = {
  counts: Record<TenantCheck['outcome'], number>;
  tenants: TenantCheck[];
};

/**
 * Checks every tenant, or only `customers` (one batch of a fanned-out job, fanout.ts): the same
 * lists, selected by `kubefn.dev/customer in (...)`. `namespaces` saves listing them again.
 */
export async function resyncTenants(
  deps: ProvisionDeps,
  options: { customers?: string[]; namespaces?: KubeObject[] } = {},
): Promise<ResyncAnswer> {
  const selector = options.customers
    ? `${managedSelector},${customerLabel} in (${options.customers.join(',')})`
    : managedSelector;
  const [namespaces, live] = await Promise.all([
    options.namespaces ?? listTenantNamespaces(deps, selector),
    liveObjects(deps, selector),
  ]);
  const tenants = namespaces.filter(
    (ns) => (ns.status as { phase?: string } | undefined)?.phase !== 'Terminating',
  );
  const checks = await mapLimit(tenants, concurrency, (ns) => checkTenant(ns, live, deps));
  const counts = { unchanged: 0, repaired: 0, failed: 0 };
  for (const check of checks) counts[check.outcome]++;
  return { counts, tenants: checks.filter((t) => t.outcome !== 'unchanged') };
}

/**
 * The tenants' namespaces (kubefn-managed, with a customer, named with this deployment's
 * prefix: another kubefn's tenants in the same cluster are its own to check), one paginated list.
 */
export async function listTenantNamespaces(
  deps: ProvisionDeps,
  selector = managedSelector,
): Promise<KubeObject[]> {
  const namespaces = await listAll(deps.cluster, { apiVersion: 'v1', kind: 'Namespace' }, selector);
  return namespaces.filter((ns) => ns.metadata?.name?.startsWith(deps.namespacePrefix));
}

/** Every kubefn-managed object of the bundle's kinds, by kind, namespace and name. */
async function liveObjects(
  deps: ProvisionDeps,
  selector: string,
): Promise<Map<string, KubeObject>> {
  const kinds = new Map(
    deps.templates.bundle.map((template) => [
      `${template.apiVersion}/${template.kind}`,
      typeRef(template),
    ]),
  );
  const lists = await Promise.all(
    [...kinds.values()].map((kind) => listAll(deps.cluster, kind, selector)),
  );
  return new Map(lists.flat().map((object) => [keyOf(object), object]));
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

export const keyOf = (object: KubeObject) =>
  `${object.apiVersion}/${object.kind}/${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;

async function checkTenant(
  ns: KubeObject,
  live: Map<string, KubeObject>,
  deps: ProvisionDeps,
): Promise<TenantCheck> {
  const namespace = ns.metadata?.name ?? '';
  const customerId = ns.metadata?.labels?.[customerLabel] ?? '';
  const result = { customerId, namespace, repaired: [] as TenantCheck['repaired'] };
  try {
    const bundle = renderTenant(deps.templates, {
      namespace,
      customerId,
      plan: deps.templates.plans[ns.metadata?.labels?.[planLabel] ?? ''] ?? {},
      owners: await tenantOwners(deps, live, ns),
      subjects: deps.subjects,
    });
    for (const entry of bundle) {
      const current = live.get(keyOf(entry.object));
      const was = drift(entry, current);
      if (!was) continue;
      const after = await write(deps, entry, was);
      if (after?.metadata?.resourceVersion !== current?.metadata?.resourceVersion)
        result.repaired.push({ ...ref(entry.object), was });
    }
    return { ...result, outcome: result.repaired.length ? 'repaired' : 'unchanged' };
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

/**
 * Who the template's binding whose subjects are `${owners}` names: the owners recorded on the
 * tenant's namespace `ns` (as read from the cluster) by its last sign-up or plan change. A tenant
 * provisioned before that record keeps the Users its binding names now, read from the cluster
 * (`live`, or by name); it gets the record at its next sign-up or plan change.
 */
export async function tenantOwners(
  deps: ProvisionDeps,
  live: Map<string, KubeObject>,
  ns: KubeObject,
): Promise<RenderValues['owners']> {
  const asUser = (name: string) =>
    ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name }) as const;
  const recorded = recordedOwners(ns);
  if (recorded) return recorded.map(asUser);
  const namespace = ns.metadata?.name ?? '';
  const template = deps.templates.bundle.find(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the template's own placeholder text
    (o) => (o as { subjects?: unknown }).subjects === '${owners}',
  );
  if (!template) return [];
  // A list that failed has already failed the job. Absent from the list (its labels edited
  // away, say), the binding is read by name: only not-found means no owners, any other failure
  // fails the tenant, so a binding is never rewritten without the subjects it has.
  const name = template.metadata?.name ?? '';
  const binding =
    live.get(keyOf({ ...typeRef(template), metadata: { namespace: namespace, name } })) ??
    (await deps.cluster
      .resource(typeRef(template))
      .find(name, { namespace: namespace })
      .catch((error: unknown) => {
        throw KubeError.about(error, {
          kind: template.kind ?? '',
          namespace: namespace,
          name,
        });
      }));
  const subjects = (binding as { subjects?: { kind: string; name: string }[] } | undefined)
    ?.subjects;
  return (subjects ?? []).filter((s) => s.kind === 'User').map((s) => asUser(s.name));
}
