// The tenant model: what a tenant should hold, worked out in one place for every trigger (a
// sign-up, a plan change, self-healing, the scheduled check). Pure: it reads and writes nothing;
// the triggers read the cluster, ask the model, and write what it answers.
//
// A tenant is who it is (customer id, namespace) and the state it is in (plan, suspended or not,
// owners). Its desired objects are the bundle rendered with its plan and owners, plus, while it
// is suspended, the quota that keeps it from starting pods: every trigger puts that quota back,
// none renders a suspended tenant without it. Its namespace is `prefix + customer id`,
// kubefn-managed and labelled with that customer; one that is not all three is no tenant.
//
// Owners come from a sign-up (its request) or from kubefn's record on the namespace (owner.ts),
// never from a change message: anyone who can publish one could name other subjects.
import { DomainError } from '../../shared/errors.ts';
import type { KubeObject } from '../../shared/kube/index.ts';
import {
  customerLabel,
  isManaged,
  managedByLabel,
  managedByValue,
  ownerLabel,
  ownersAnnotation,
  ownerUidAnnotation,
  planLabel,
  suspendedLabel,
} from '../../shared/labels.ts';
import { ownerLabelValue, ownersRecord, recordedOwners } from './owner.ts';
import {
  type Plan,
  type RenderValues,
  renderTenant,
  type Templates,
  type TenantObject,
} from './render.ts';

/** Who a tenant is: its customer, and its namespace (the deployment's prefix + the customer id). */
export type TenantId = { customerId: string; namespace: string };
/** The state a tenant is in: what, with its identity, decides every object it holds. */
export type TenantState = {
  /** A plan of templates/plans.json. */
  plan: string;
  suspended: boolean;
  /** The emails bound to the owners' RoleBinding. */
  owners: string[];
};
export type Tenant = TenantId & TenantState;

/**
 * A tenant as its namespace records it: `owners` undefined when there is no readable record (a
 * tenant provisioned before kubefn kept one; read-tenant.ts then reads its binding).
 */
export type RecordedTenant = TenantId &
  Omit<TenantState, 'owners'> & { owners: string[] | undefined; terminating: boolean };

export const tenantId = (prefix: string, customerId: string): TenantId => ({
  customerId,
  namespace: prefix + customerId,
});

/** kubefn's tenants, their namespaces and their objects alike: managed, for some customer. */
export const tenantSelector = `${managedByLabel}=${managedByValue},${customerLabel}`;
/** The tenants of these customers only (one batch of a fanned-out check). */
export const customersSelector = (customerIds: readonly string[]) =>
  `${tenantSelector},${customerLabel} in (${customerIds.join(',')})`;
/** The tenants a signed-in customer owns (their user id). */
export const ownerSelector = (uid: string) =>
  `${tenantSelector},${ownerLabel}=${ownerLabelValue(uid)}`;

/**
 * The tenant a namespace (as read from the cluster) is, for the deployment whose prefix is
 * `prefix`; undefined when it is none of its tenants. Plan, suspension and owners come from the
 * namespace, never from a message about it.
 */
export function tenantOf(ns: KubeObject | undefined, prefix: string): RecordedTenant | undefined {
  const labels = ns?.metadata?.labels ?? {};
  const customerId = labels[customerLabel];
  if (!ns || !isManaged(ns) || !customerId || ns.metadata?.name !== prefix + customerId)
    return undefined;
  return {
    ...tenantId(prefix, customerId),
    plan: labels[planLabel] ?? '',
    suspended: labels[suspendedLabel] === suspensionLabelValue,
    owners: recordedOwners(ns),
    terminating: Boolean(ns.metadata?.deletionTimestamp),
  };
}

/** A plan of the templates; a name they do not have (or one that names an Object member) is refused. */
export function planOf(templates: Templates, name: string): Plan {
  const plan = Object.hasOwn(templates.plans, name) ? templates.plans[name] : undefined;
  if (!plan) throw new DomainError('invalid-input', `there is no plan ${name}`);
  return plan;
}

/**
 * The tenant's namespace as kubefn-provision applies it: who it is, its plan, the owners record,
 * and the customer who signed up (`ownerUid`) when there is one. Suspension's label is not here:
 * lifecycle.ts sets it under its own field manager, so that resuming can remove it.
 */
export function desiredNamespace(
  tenant: TenantId & Pick<TenantState, 'plan' | 'owners'>,
  ownerUid?: string,
): KubeObject {
  return {
    ...namespaceRef,
    metadata: {
      name: tenant.namespace,
      labels: {
        [managedByLabel]: managedByValue,
        [customerLabel]: tenant.customerId,
        [planLabel]: tenant.plan,
        ...(ownerUid !== undefined ? { [ownerLabel]: ownerLabelValue(ownerUid) } : {}),
      },
      annotations: {
        [ownersAnnotation]: ownersRecord(tenant.owners),
        ...(ownerUid !== undefined ? { [ownerUidAnnotation]: ownerUid } : {}),
      },
    },
  };
}

/**
 * `namespace` with the owner label and annotation of `live`: a write without a customer (an
 * operator, a plan change) keeps the tenant's owner, as its namespace is applied whole.
 */
export function keepOwner(namespace: KubeObject, live: KubeObject): KubeObject {
  const label = live.metadata?.labels?.[ownerLabel];
  const uid = live.metadata?.annotations?.[ownerUidAnnotation];
  const metadata = namespace.metadata ?? {};
  return {
    ...namespace,
    metadata: {
      ...metadata,
      labels: { ...metadata.labels, ...(label ? { [ownerLabel]: label } : {}) },
      annotations: { ...metadata.annotations, ...(uid ? { [ownerUidAnnotation]: uid } : {}) },
    },
  };
}

/** Every object the tenant should hold in its namespace, with the defaults kubefn sets. */
export function desiredObjects(
  templates: Templates,
  tenant: Tenant,
  subjects: RenderValues['subjects'],
): TenantObject[] {
  const bundle = renderTenant(templates, {
    namespace: tenant.namespace,
    customerId: tenant.customerId,
    plan: planOf(templates, tenant.plan),
    owners: tenant.owners.map(ownerSubject),
    subjects,
  });
  return tenant.suspended
    ? [...bundle, { object: suspensionQuota(tenant), defaults: undefined }]
    : bundle;
}

const ownerSubject = (name: string) =>
  ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name }) as const;

/** The suspended label's value; any other value, or none, is a running tenant. */
export const suspensionLabelValue = 'true';

/** The quota that keeps a suspended tenant from starting pods. */
export function suspensionQuota(tenant: TenantId): KubeObject {
  return {
    ...quotaRef,
    metadata: {
      name: suspensionQuotaName,
      namespace: tenant.namespace,
      labels: { [managedByLabel]: managedByValue, [customerLabel]: tenant.customerId },
    },
    spec: { hard: { pods: '0' } },
  };
}
export const suspensionQuotaName = 'kubefn-suspended';
export const quotaRef = { apiVersion: 'v1', kind: 'ResourceQuota' } as const;

/**
 * The kinds a tenant's objects may have (the bundle's, and the suspension's quota), each once:
 * what the scheduled check lists.
 */
export function tenantKinds(templates: Templates): { apiVersion: string; kind: string }[] {
  const kinds = new Map(
    [...templates.bundle, quotaRef].map((o) => [`${o.apiVersion}/${o.kind}`, typeRef(o)]),
  );
  return [...kinds.values()];
}

/** The bundle's template whose subjects are the owners: the binding the owners record names. */
export function ownersBindingTemplate(templates: Templates): KubeObject | undefined {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the template's own placeholder text
  return templates.bundle.find((o) => (o as { subjects?: unknown }).subjects === '${owners}');
}

/** The Users a binding (as read from the cluster) names: a tenant's owners before the record. */
export function bindingOwners(binding: KubeObject | undefined): string[] {
  const subjects = (binding as { subjects?: { kind: string; name: string }[] } | undefined)
    ?.subjects;
  return (subjects ?? []).filter((s) => s.kind === 'User').map((s) => s.name);
}

export const namespaceRef = { apiVersion: 'v1', kind: 'Namespace' } as const;
export type ObjectRef = { apiVersion: string; kind: string; name: string };

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

/** What tells one object from another across all tenants: kind, namespace and name. */
export const objectKey = (object: KubeObject) =>
  `${object.apiVersion}/${object.kind}/${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
