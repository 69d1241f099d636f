// The scheduled tenant check (Cloud Scheduler, over HTTP with an OIDC token): every tenant
// namespace is compared with its template by applying its bundle again (server-side apply, so an
// object already as the template says is not written) and the answer lists what was missing or
// had drifted and was put back. The owners come from the live binding: the template cannot know
// them, and the check must not drop them.
import { KubefnError } from '../../shared/errors.ts';
import {
  type FailedObject,
  KubeError,
  type KubeObject,
  reasonOf,
} from '../../shared/kube/index.ts';
import { customerLabel, managedByLabel, managedByValue, planLabel } from '../../shared/labels.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { applyTenantObject, failedObject } from './apply.ts';
import { type ObjectRef, type ProvisionDeps, ref, typeRef } from './handler.ts';
import { type RenderValues, renderTenant } from './render.ts';

export type TenantCheck = {
  customerId: string;
  namespace: string;
  outcome: 'unchanged' | 'repaired' | 'failed';
  repaired: (ObjectRef & { was: 'missing' | 'different' })[];
  code?: string;
  /** Why, in words safe to show; the server's own message is in the log. */
  detail?: string;
  object?: FailedObject;
};

export async function resyncTenants(deps: ProvisionDeps): Promise<{
  counts: Record<TenantCheck['outcome'], number>;
  tenants: TenantCheck[];
}> {
  const namespaces = await deps.cluster
    .resource({ apiVersion: 'v1', kind: 'Namespace' })
    .list({ labelSelector: `${managedByLabel}=${managedByValue},${customerLabel}` });
  const tenants: TenantCheck[] = [];
  for (const ns of namespaces.items) {
    if ((ns.status as { phase?: string } | undefined)?.phase === 'Terminating') continue;
    tenants.push(await checkTenant(ns, deps));
  }
  const counts = { unchanged: 0, repaired: 0, failed: 0 };
  for (const t of tenants) counts[t.outcome]++;
  return { counts, tenants: tenants.filter((t) => t.outcome !== 'unchanged') };
}

async function checkTenant(ns: KubeObject, deps: ProvisionDeps): Promise<TenantCheck> {
  const namespace = ns.metadata?.name ?? '';
  const customerId = ns.metadata?.labels?.[customerLabel] ?? '';
  const result = { customerId, namespace, repaired: [] as TenantCheck['repaired'] };
  try {
    const bundle = renderTenant(deps.templates, {
      namespace,
      customerId,
      plan: deps.templates.plans[ns.metadata?.labels?.[planLabel] ?? ''] ?? {},
      owners: await currentOwners(deps, namespace),
      subjects: deps.subjects,
    });
    for (const entry of bundle) {
      const resource = deps.cluster.resource(typeRef(entry.object));
      const name = entry.object.metadata?.name ?? '';
      const before = await resource.find(name, { namespace }).catch((error: unknown) => {
        throw KubeError.about(error, failedObject(entry.object));
      });
      const after = await applyTenantObject(resource, entry);
      if (before?.metadata?.resourceVersion !== after.metadata?.resourceVersion)
        result.repaired.push({ ...ref(entry.object), was: before ? 'different' : 'missing' });
    }
    return { ...result, outcome: result.repaired.length ? 'repaired' : 'unchanged' };
  } catch (error) {
    // One tenant's failure is reported with its code and the others are still checked; the next
    // scheduled run tries it again. A bug is not a tenant's failure: it fails the run.
    if (!(error instanceof KubefnError)) throw error;
    log('WARNING', 'tenant check failed', { namespace, code: error.code, detail: error.message });
    const object = error instanceof KubeError ? error.object : undefined;
    return {
      ...result,
      outcome: 'failed',
      code: error.code,
      detail: error instanceof KubeError ? reasonOf(error.code) : error.message,
      ...(object ? { object } : {}),
    };
  }
}

/** The owners as bound now, in the template's binding whose subjects are `${owners}`. */
async function currentOwners(
  deps: ProvisionDeps,
  namespace: string,
): Promise<RenderValues['owners']> {
  const template = deps.templates.bundle.find(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the template's own placeholder text
    (o) => (o as { subjects?: unknown }).subjects === '${owners}',
  );
  if (!template) return [];
  // Only not-found means "no owners": any other failure must stop the check, or the force-apply
  // below would write the binding with no subjects.
  const live = await deps.cluster
    .resource(typeRef(template))
    .find(template.metadata?.name ?? '', { namespace });
  const subjects =
    (live as { subjects?: { kind: string; name: string }[] } | undefined)?.subjects ?? [];
  return subjects
    .filter((s) => s.kind === 'User')
    .map((s) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: s.name }));
}
