// Renders the tenant bundle from its template (templates/bundle.json) and a plan
// (templates/plans.json): both are data an operator edits, not code. A string that is exactly
// "${path}" becomes the value at that path (an object, a number); "${path}" inside a longer
// string is replaced by its text (shared/templates.ts). The RoleBindings that let kubefn's own
// identities into the tenant name `${subjects.<identity>}`: the ServiceAccounts or the Google
// service accounts' Users the deployment configured (shared/identities.ts).
import type { ClusterIdentity, RbacSubject } from '../../shared/identities.ts';
import type { KubeObject } from '../../shared/kube/index.ts';
import { customerLabel, managedByLabel, managedByValue } from '../../shared/labels.ts';
import { substitute } from '../../shared/templates.ts';

export type Plan = Record<string, unknown>;
export type Templates = { bundle: KubeObject[]; plans: Record<string, Plan> };
export type RenderValues = {
  namespace: string;
  customerId: string;
  plan: Plan;
  owners: { kind: 'User'; apiGroup: 'rbac.authorization.k8s.io'; name: string }[];
  subjects: Record<ClusterIdentity, RbacSubject[]>;
};

/**
 * One object of a tenant: what kubefn enforces, and the defaults it sets while nobody else has
 * set them (the template's `defaults` key: fields merged into the object, such as the Ingress's
 * timeout annotation or the Deployment's replicas; apply.ts says how each is owned).
 */
export type TenantObject = { object: KubeObject; defaults: KubeObject | undefined };

export function renderTenant(templates: Templates, values: RenderValues): TenantObject[] {
  return templates.bundle.map((template) => {
    const { defaults, ...enforced } = substitute(template, values) as KubeObject & {
      defaults?: Record<string, unknown>;
    };
    const metadata = enforced.metadata ?? {};
    const object = {
      ...enforced,
      metadata: {
        ...metadata,
        namespace: values.namespace,
        labels: {
          ...metadata.labels,
          [managedByLabel]: managedByValue,
          [customerLabel]: values.customerId,
        },
      },
    };
    if (!defaults) return { object, defaults: undefined };
    const { metadata: defaultMetadata, ...defaultFields } = defaults as {
      metadata?: Record<string, unknown>;
    };
    return {
      object,
      // Only the fields it sets, and what names the object.
      defaults: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        ...defaultFields,
        metadata: {
          ...defaultMetadata,
          name: metadata.name,
          namespace: values.namespace,
        },
      } as KubeObject,
    };
  });
}

/** The objects as kubefn enforces them (without their defaults). */
export function renderBundle(templates: Templates, values: RenderValues): KubeObject[] {
  return renderTenant(templates, values).map((entry) => entry.object);
}

/**
 * Each bundle object's apiVersion, kind and name, without its plan. Names may use ${customerId}
 * and ${namespace} but not the plan: a name that changed with the plan would leave the old
 * object behind when a tenant changes plan. Throws on a name that uses anything else.
 */
export function bundleRefs(
  templates: Templates,
  ids: { namespace: string; customerId: string },
): { apiVersion: string; kind: string; name: string }[] {
  const values = { ...ids, plan: {}, owners: [], subjects: {} };
  return templates.bundle.map((template) => ({
    apiVersion: template.apiVersion ?? '',
    kind: template.kind ?? '',
    name: String(substitute(template.metadata?.name ?? '', values)),
  }));
}
