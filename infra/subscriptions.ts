// Who consumes what, in one table the local stack (infra/local) and Google Cloud (infra/gcp) both
// build from: each trigger is a topic, a push subscription with an attribute filter (routing is
// Pub/Sub's, not the functions'), and the function route its pushes reach.
//
// The changes topic carries the watcher's messages (shared/events/change.ts): attributes type,
// kind, namespace, managed ("true" on objects carrying app.kubernetes.io/managed-by=kubefn), and
// on a MODIFIED labelsChanged / annotationsChanged / specChanged for the parts that changed.
// Filters cannot change once a subscription exists: a new filter is a new subscription name.
//
// Cells (shared/cells.ts): a trigger whose target acts on one cluster is subscribed once per cell
// (`cellTrigger`): its own name, and only the messages of its own cell, by the `cluster`
// attribute the watcher and provision's fan-out put on every message (label requests name it
// too). Tenant requests are global: placement (functions/placement) takes them and forwards each
// to the cell that holds the tenant.
import labelRules from '../functions/label/rules.json' with { type: 'json' };

export const topics = {
  changes: 'kubefn-changes',
  labelRequests: 'kubefn-label-requests',
  tenantRequests: 'kubefn-tenant-requests',
  resyncBatches: 'kubefn-resync-batches',
  // provision's outcome of each tenant request, CloudEvents (functions/provision/outcomes.ts):
  // no trigger of kubefn's reads it; the SaaS app (billing, CRM) subscribes.
  tenantOutcomes: 'kubefn-tenant-outcomes',
  deadLetter: 'kubefn-dead-letter',
} as const;
export type TopicKey = keyof typeof topics;

export type Consumer = 'provision' | 'label' | 'ingress-timeout' | 'placement';

export type Trigger = {
  /** The subscription's name (kubefn-<key>). */
  subscription: string;
  topic: TopicKey;
  target: Consumer;
  /** The route on the target that takes the pushes. */
  route: string;
  /** Pub/Sub's filter syntax; absent: every message. */
  filter?: string;
  /** Messages with one ordering key are pushed one at a time, in order. */
  ordered: boolean;
  /** What it is for, for docs/events-and-triggers.md and the logs. */
  purpose: string;
  /** 'cell': subscribed once per cell (cellTrigger); 'global': once for the deployment. */
  scope: 'cell' | 'global';
};

/** The kinds the label rules (functions/label/rules.json) apply to, and Namespaces (a plan change). */
const ruleKinds = [...new Set(labelRules.flatMap((rule) => rule.kinds.map((k) => k.kind)))];
const kindIn = (kinds: string[]) =>
  `(${kinds.map((k) => `attributes.kind = "${k}"`).join(' OR ')})`;

export const triggers = {
  ingressTimeoutChanges: {
    subscription: 'kubefn-ingress-timeout-changes',
    topic: 'changes',
    target: 'ingress-timeout',
    route: '/pubsub',
    // Its annotation or spec: a label-only change (label rules) is not its business.
    filter:
      'attributes.kind = "Ingress" AND (attributes.type != "MODIFIED" OR attributes:annotationsChanged OR attributes:specChanged)',
    ordered: true,
    purpose: "an Ingress's backend-timeout annotation becomes its load balancer's timeout",
    scope: 'cell',
  },
  provisionChanges: {
    subscription: 'kubefn-provision-changes',
    topic: 'changes',
    target: 'provision',
    route: '/pubsub/changes',
    // kubefn's own objects, changed or deleted (a creation is kubefn's own, or a relist's).
    filter:
      'attributes.managed = "true" AND attributes.type != "ADDED" AND attributes.kind != "Namespace"',
    ordered: true,
    purpose: "a tenant's bundle object deleted or edited away from its template is put back",
    scope: 'cell',
  },
  labelChanges: {
    subscription: 'kubefn-label-changes',
    topic: 'changes',
    target: 'label',
    route: '/pubsub/changes',
    // New, or its labels changed (a Namespace's: a plan change); never kubefn's record writes.
    filter: `${kindIn([...ruleKinds, 'Namespace'])} AND (attributes.type = "ADDED" OR attributes:labelsChanged)`,
    ordered: true,
    purpose: 'the label rules (functions/label/rules.json) applied to a new or changed object',
    scope: 'cell',
  },
  labelRequests: {
    subscription: 'kubefn-label-requests',
    topic: 'labelRequests',
    target: 'label',
    route: '/pubsub',
    ordered: false,
    purpose: 'a label request (functions/label/schema.ts) published by an allowed caller',
    scope: 'cell',
  },
  tenantRequests: {
    subscription: 'kubefn-placement-tenant-requests',
    topic: 'tenantRequests',
    target: 'placement',
    route: '/pubsub/tenants',
    // Published with the customer id as ordering key: one customer's requests apply in order.
    ordered: true,
    purpose: 'a billing or CRM request: sign up, change plan, suspend, resume, cancel',
    scope: 'global',
  },
  resyncBatches: {
    subscription: 'kubefn-provision-resync-batches',
    topic: 'resyncBatches',
    target: 'provision',
    route: '/pubsub/resync',
    ordered: false,
    purpose: 'one batch of a fanned-out scheduled tenant check (functions/provision/fanout.ts)',
    scope: 'cell',
  },
} as const satisfies Record<string, Trigger>;
export type TriggerKey = keyof typeof triggers;

/**
 * A cell's own copy of a per-cell trigger: named after the cell, and given only the messages
 * whose `cluster` attribute is the cell's. Filters are at most 256 bytes (Pub/Sub's limit): the
 * longest, with a 12-character cell name, is checked in subscriptions.test.ts.
 */
export function cellTrigger(trigger: Trigger, cell: string): Trigger {
  if (trigger.scope !== 'cell') return trigger;
  const own = `attributes.cluster = "${cell}"`;
  return {
    ...trigger,
    subscription: `${trigger.subscription}-${cell}`,
    filter: trigger.filter ? `${own} AND (${trigger.filter})` : own,
  };
}
