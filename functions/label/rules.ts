// Label rules: labels that objects in tenant namespaces always carry, kept as data
// (rules.json, like the tenant templates). The watcher reports each new or changed object of a
// rule's kinds (subscription kubefn-label-changes, infra/subscriptions.ts), pushed to
// POST /pubsub/changes; the rule's labels are rendered from the namespace's own labels
// (`${namespace.customer}`, `${namespace.plan}`) and set through the same path as POST /labels
// (handler.ts: Kubernetes' label rules, kubefn's reserved keys and the namespace guard,
// versioned writes), and only when the object lacks them: kubefn's own write comes back as a
// change that already carries them and writes nothing. A Namespace's change (a plan change)
// applies the rules to every object of their kinds in it.
import * as v from 'valibot';
import type { ObjectChange } from '../../shared/events/change.ts';
import { isLabelValue, isQualifiedName } from '../../shared/kube/names.ts';
import { customerLabel, isKubefnKey, isManaged, planLabel } from '../../shared/labels.ts';
import type { PushOutcome } from '../../shared/pubsub/push.ts';
import { substitute } from '../../shared/templates.ts';
import { applyLabels, type LabelDeps } from './handler.ts';
import rulesJson from './rules.json' with { type: 'json' };
import { isReservedKey } from './schema.ts';

export const RuleSchema = v.strictObject({
  name: v.string(),
  description: v.optional(v.string()),
  kinds: v.pipe(
    v.array(v.strictObject({ apiVersion: v.string(), kind: v.string() })),
    v.minLength(1),
  ),
  labels: v.record(
    v.pipe(
      v.string(),
      v.check(isQualifiedName, 'a label key'),
      v.check((key) => !isKubefnKey(key) && !isReservedKey(key), 'not a kubefn or reserved key'),
    ),
    v.string(),
  ),
});
export type LabelRule = v.InferOutput<typeof RuleSchema>;

/** The rules, checked when the module loads: a bad rule fails the deploy, not a push. */
export const labelRules: LabelRule[] = v.parse(v.array(RuleSchema), rulesJson);

const namespaceRef = { apiVersion: 'v1', kind: 'Namespace' } as const;

export async function applyRules(
  change: ObjectChange,
  deps: LabelDeps,
  rules: LabelRule[] = labelRules,
): Promise<PushOutcome> {
  const { kind, apiVersion } = change.object;
  const { name, namespace } = change.object.metadata;
  if (change.type === 'DELETED') return { outcome: 'ignored', reason: 'deleted' };
  const isNamespace = kind === 'Namespace' && apiVersion === 'v1';
  // The namespace's labels are read from the cluster, a Namespace's own change included: the
  // message only says where to look (a forged one, or one from before a plan change delivered
  // late, must not write its customer or plan onto the tenant's objects).
  const nsName = isNamespace ? name : namespace;
  const ns = nsName ? await deps.cluster.resource(namespaceRef).find(nsName) : undefined;
  if (!isManaged(ns) || !ns?.metadata?.labels?.[customerLabel])
    return { outcome: 'ignored', reason: 'not in a tenant namespace' };
  const values = {
    namespace: {
      customer: ns.metadata.labels[customerLabel],
      plan: ns.metadata.labels[planLabel] ?? '',
    },
  };
  const applied: { rule: string; kind: string; results: unknown[] }[] = [];
  for (const rule of rules) {
    const set = substitute(rule.labels, values) as Record<string, string>;
    // A value that is not a label value (a plan with no name yet) is not written half-right.
    if (!Object.values(set).every((value) => value !== '' && isLabelValue(value))) continue;
    const targets = isNamespace
      ? rule.kinds.map((k) => ({ ...k, namespace: name }))
      : rule.kinds.some((k) => k.kind === kind && k.apiVersion === apiVersion) &&
          !Object.entries(set).every(
            ([key, value]) => change.object.metadata.labels?.[key] === value,
          )
        ? [{ apiVersion, kind, namespace, name }]
        : [];
    for (const target of targets) {
      const { results } = await applyLabels({ target, set, remove: [], dryRun: false }, deps);
      applied.push({ rule: rule.name, kind: target.kind, results });
    }
  }
  return applied.length
    ? { outcome: 'done', applied }
    : { outcome: 'in-sync', kind, namespace, name };
}
