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

export function renderBundle(templates: Templates, values: RenderValues): KubeObject[] {
  return templates.bundle.map((template) => {
    const object = substitute(template, values) as KubeObject;
    const metadata = object.metadata ?? {};
    return {
      ...object,
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
  });
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
