// Renders the tenant bundle from its template (templates/bundle.json) and a plan
// (templates/plans.json): both are data an operator edits, not code. A string that is exactly
// "${path}" becomes the value at that path (an object, a number); "${path}" inside a longer
// string is replaced by its text.
import type { KubeObject } from '../../shared/kube/index.ts';
import { customerLabel, managedByLabel, managedByValue } from '../../shared/labels.ts';

export type Plan = Record<string, unknown>;
export type Templates = { bundle: KubeObject[]; plans: Record<string, Plan> };
export type RenderValues = {
  namespace: string;
  customerId: string;
  plan: Plan;
  owners: { kind: 'User'; apiGroup: 'rbac.authorization.k8s.io'; name: string }[];
};

const whole = /^\$\{([\w.]+)\}$/;
const inline = /\$\{([\w.]+)\}/g;

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
  const values = { ...ids, plan: {}, owners: [] };
  return templates.bundle.map((template) => ({
    apiVersion: template.apiVersion ?? '',
    kind: template.kind ?? '',
    name: String(substitute(template.metadata?.name ?? '', values)),
  }));
}

function substitute(node: unknown, values: RenderValues): unknown {
  if (typeof node === 'string') {
    const exact = whole.exec(node);
    if (exact?.[1]) return lookup(values, exact[1]);
    return node.replace(inline, (_, path: string) => String(lookup(values, path)));
  }
  if (Array.isArray(node)) return node.map((child) => substitute(child, values));
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, child]) => [key, substitute(child, values)]),
    );
  }
  return node;
}

function lookup(values: RenderValues, path: string): unknown {
  let current: unknown = values;
  for (const key of path.split('.')) {
    current =
      current && typeof current === 'object'
        ? (current as Record<string, unknown>)[key]
        : undefined;
  }
  if (current === undefined) throw new Error(`template placeholder \${${path}} has no value`);
  return current;
}
