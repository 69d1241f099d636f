// Provisioning logic: (input, deps) -> result. No Hono, no process.env.
// Idempotent through server-side apply: the namespace is created with POST (so exactly one of
// many identical requests reports "created"), then the whole bundle is applied every time, so a
// request that failed halfway is completed by the next one.
import { DomainError } from '../../shared/errors.ts';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import {
  customerLabel,
  isManaged,
  managedByLabel,
  managedByValue,
  planLabel,
} from '../../shared/labels.ts';
import { applyTenantObject, failedObject, fieldManager } from './apply.ts';
import type { RenderValues } from './render.ts';
import { bundleRefs, renderTenant, type Templates } from './render.ts';
import type { SignupInput } from './schema.ts';

export type ProvisionDeps = {
  cluster: Cluster;
  templates: Templates;
  /** Tenant namespaces are named prefix + customer id. */
  namespacePrefix: string;
  /** Who the tenant's RoleBindings for kubefn's identities name (KUBEFN_RBAC_SUBJECTS). */
  subjects: RenderValues['subjects'];
};

export const namespaceRef = { apiVersion: 'v1', kind: 'Namespace' } as const;

export type ObjectRef = { apiVersion: string; kind: string; name: string };
export type ProvisionResult = {
  customerId: string;
  namespace: string;
  /** True for the one request that created the namespace; false when it was already there. */
  created: boolean;
  dryRun: boolean;
  objects: ObjectRef[];
};

export async function provisionTenant(
  input: SignupInput,
  deps: ProvisionDeps,
): Promise<ProvisionResult> {
  const namespace = deps.namespacePrefix + input.customerId;
  const plan = deps.templates.plans[input.plan] ?? {};
  const bundle = renderTenant(deps.templates, {
    namespace,
    customerId: input.customerId,
    plan,
    owners: input.owners.map((name) => ({
      kind: 'User',
      apiGroup: 'rbac.authorization.k8s.io',
      name,
    })),
    subjects: deps.subjects,
  });
  const namespaces = deps.cluster.resource(namespaceRef);
  const namespaceObject: KubeObject = {
    ...namespaceRef,
    metadata: {
      name: namespace,
      labels: {
        [managedByLabel]: managedByValue,
        [customerLabel]: input.customerId,
        [planLabel]: input.plan,
      },
    },
  };
  const result = {
    customerId: input.customerId,
    namespace,
    dryRun: input.dryRun,
    objects: bundle.map((entry) => ref(entry.object)),
  };
  let created = true;
  try {
    await namespaces.create(namespaceObject, { fieldManager, dryRun: input.dryRun });
  } catch (error) {
    if (!(error instanceof KubeError && error.code === 'already-exists'))
      throw KubeError.about(error, failedObject(namespaceObject));
    created = false;
    await ownTenant(deps, input.customerId, { allowTerminating: false });
  }
  // A namespace that does not exist yet cannot hold dry-run objects: the rendered bundle is the answer.
  if (input.dryRun && created) return { ...result, created };

  // A failure names its object: the caller learns which one and why (in safe words), and a
  // later sign-up or the scheduled check completes the tenant.
  await Promise.all(
    [...(created ? [] : [{ object: namespaceObject, defaults: undefined }]), ...bundle].map(
      (entry) =>
        applyTenantObject(deps.cluster.resource(typeRef(entry.object)), entry, {
          dryRun: input.dryRun,
        }),
    ),
  );
  return { ...result, created };
}

export type ObjectState = ObjectRef & { state: 'ready' | 'waiting' | 'missing'; detail?: string };
export type TenantStatus = {
  customerId: string;
  namespace: string;
  phase: 'Provisioning' | 'Ready' | 'Terminating';
  plan: string;
  objects: ObjectState[];
};

/** The tenant's phase and each bundle object's state. */
export async function tenantStatus(customerId: string, deps: ProvisionDeps): Promise<TenantStatus> {
  const namespace = deps.namespacePrefix + customerId;
  // The bundle's objects are read alongside their namespace, one round trip less; nothing is
  // shown unless the namespace turns out to be this customer's.
  const [ns, objects] = await Promise.all([
    ownTenant(deps, customerId, { allowTerminating: true }),
    Promise.all(
      bundleRefs(deps.templates, { namespace, customerId }).map((object) =>
        objectState(deps.cluster, object, namespace),
      ),
    ),
  ]);
  const terminating = Boolean(ns.metadata?.deletionTimestamp);
  // Pods need nodes, which a cluster may not have yet; the tenant is Ready when its namespace is
  // Active and every object exists and has been acted on by its controller (quota counted).
  const ready = objects.every(
    (o) => o.state === 'ready' || (o.kind === 'Deployment' && o.state === 'waiting'),
  );
  return {
    customerId,
    namespace,
    plan: ns.metadata?.labels?.[planLabel] ?? '',
    phase: terminating ? 'Terminating' : ready ? 'Ready' : 'Provisioning',
    objects,
  };
}

/** Deletes a tenant's namespace (and so its bundle), only with the customer id as confirmation. */
export async function deprovisionTenant(
  customerId: string,
  options: { confirm?: string | undefined; dryRun: boolean },
  deps: ProvisionDeps,
): Promise<{ customerId: string; namespace: string; phase: 'Terminating'; dryRun: boolean }> {
  if (options.confirm !== customerId) {
    throw new DomainError(
      'confirmation-required',
      'repeat the customer id in ?confirm= to delete the tenant',
    );
  }
  const ns = await ownTenant(deps, customerId, { allowTerminating: true });
  const name = ns.metadata?.name ?? '';
  if (!ns.metadata?.deletionTimestamp) {
    await deps.cluster.resource(namespaceRef).delete(name, {
      dryRun: options.dryRun,
      // Never delete a namespace re-created under the same name since we looked.
      preconditions: { uid: ns.metadata?.uid ?? '' },
    });
  }
  return { customerId, namespace: name, phase: 'Terminating', dryRun: options.dryRun };
}

/** The tenant's namespace, if kubefn manages it for this customer; otherwise 404 or 409. */
export async function ownTenant(
  deps: ProvisionDeps,
  customerId: string,
  options: { allowTerminating: boolean },
): Promise<KubeObject> {
  const name = deps.namespacePrefix + customerId;
  const ns = await deps.cluster.resource(namespaceRef).find(name);
  if (!ns) throw new DomainError('no-such-tenant', `there is no tenant ${customerId}`);
  if (!isManaged(ns) || ns.metadata?.labels?.[customerLabel] !== customerId) {
    throw new DomainError('namespace-taken', `namespace ${name} exists and is not this tenant's`);
  }
  if (ns.metadata?.deletionTimestamp && !options.allowTerminating) {
    throw new DomainError(
      'tenant-terminating',
      `tenant ${customerId} is being deleted; try again once it is gone`,
    );
  }
  return ns;
}

async function objectState(
  cluster: Cluster,
  base: ObjectRef,
  namespace: string,
): Promise<ObjectState> {
  const live = await cluster
    .resource({ apiVersion: base.apiVersion, kind: base.kind })
    .find(base.name, { namespace });
  if (!live) return { ...base, state: 'missing' };
  const status = (live.status ?? {}) as Record<string, unknown>;
  if (base.kind === 'ResourceQuota') {
    return status.hard
      ? { ...base, state: 'ready' }
      : { ...base, state: 'waiting', detail: 'quota not counted yet' };
  }
  if (base.kind === 'Deployment') {
    const wanted = Number((live.spec as { replicas?: number } | undefined)?.replicas ?? 1);
    const available = Number(status.availableReplicas ?? 0);
    const detail = `${available}/${wanted} replicas available`;
    return { ...base, state: available >= wanted ? 'ready' : 'waiting', detail };
  }
  return { ...base, state: 'ready' };
}

export function ref(object: KubeObject): ObjectRef {
  return {
    apiVersion: object.apiVersion ?? '',
    kind: object.kind ?? '',
    name: object.metadata?.name ?? '',
  };
}

export function typeRef(object: KubeObject) {
  return { apiVersion: object.apiVersion ?? 'v1', kind: object.kind ?? '' };
}
