// The deletion budget: at most `perWindow` tenant deletions in any `windowSeconds`, per provision
// deployment (its namespace prefix), counted in the cluster so every instance and every restart
// sees the same count. A billing bug that publishes 5,000 cancels deletes `perWindow` tenants;
// the rest are held (held-deletions.ts) until the window allows them or an operator approves.
//
// The count is `perWindow` slot Leases in kubefn-system, one per deletion in flight or done in
// the window: a deletion takes a free slot by creating its Lease (the API server lets exactly one
// of concurrent creates of a name succeed, so two instances never take the same slot) and the
// slot frees itself `windowSeconds` after it was taken (its acquireTime and duration; the next
// taker removes the expired Lease guarded by its resourceVersion, as customer-lock.ts does). Each
// slot serves at most one deletion per window, so any window-long stretch of time holds at most
// `perWindow` deletions (a sliding window, not a fixed one that allows twice the budget across a
// boundary). Only get, create and delete on Leases are needed: provision's Role already grants
// them (infra/k8s/rbac.yaml), and no count is read, changed and written back.
import { createHash, randomUUID } from 'node:crypto';
import { systemNamespace } from '../../shared/identities.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import {
  createLease,
  type Lease,
  type Leases,
  leaseRef,
  leaseRemainingMs,
  removeExpiredLease,
} from './leases.ts';

export type DeletionBudget = {
  /** Deletions allowed in any window; 0 holds every deletion for an operator. */
  perWindow: number;
  windowSeconds: number;
};

/**
 * KUBEFN_DELETION_BUDGET's default, 10 an hour: more than a SaaS's ordinary churn in an hour at
 * thousands of tenants, few enough that a runaway publisher costs ten tenants, not thousands.
 */
export const defaultDeletionBudget = '10/1h';

/** A slot taken: given back (its Lease deleted) when the deletion it was for did not happen. */
export type Slot = { name: string; uid: string };
export type Taken = { slot: Slot } | { slot: undefined; retryAfterSeconds: number };

/** The slot Leases' name stem for a deployment: the same for all its instances, and no other's. */
export const slotPrefix = (namespacePrefix: string) =>
  `kubefn-deletions-${createHash('sha256').update(namespacePrefix).digest('hex').slice(0, 12)}`;

/**
 * Takes a free slot for deleting `namespace` (recorded as the Lease's holder, for an operator
 * reading them), or says when the first slot frees. A failure to reach the API server throws:
 * a deletion that cannot be counted does not happen.
 */
export async function takeDeletionSlot(
  cluster: Cluster,
  namespacePrefix: string,
  budget: DeletionBudget,
  namespace: string,
): Promise<Taken> {
  const leases = cluster.resource<Lease>(leaseRef);
  const stem = slotPrefix(namespacePrefix);
  const names = Array.from({ length: budget.perWindow }, (_, i) => `${stem}-${i}`);
  // Every slot read at once: a spent budget (a burst of cancels) costs one round of reads, not a
  // create refused per slot. Only a slot read free or expired is tried.
  const found = await Promise.all(
    names.map((name) => leases.find(name, { namespace: systemNamespace })),
  );
  let soonestMs = budget.windowSeconds * 1000;
  for (const [i, name] of names.entries()) {
    const current = found[i];
    const left = current ? leaseRemainingMs(current, budget.windowSeconds) : 0;
    if (left > 0) {
      soonestMs = Math.min(soonestMs, left);
      continue;
    }
    if (current) await removeExpiredLease(leases, name, current);
    // Of concurrent takers of this slot, the create decides: one holds it, the others go on.
    const slot = await create(leases, name, namespace, budget.windowSeconds);
    if (slot) {
      // The budget used, for the metric kubefn/deletion_budget_used (infra/gcp/metrics.ts): the
      // slots read busy, and this one (a concurrent taker may be missed: it is read once).
      const busy = found.filter((l) => l && leaseRemainingMs(l, budget.windowSeconds) > 0).length;
      log('INFO', 'tenant deletion counted', {
        namespace,
        budgetUsed: busy + 1,
        budgetPerWindow: budget.perWindow,
        windowSeconds: budget.windowSeconds,
      });
      return { slot };
    }
  }
  return { slot: undefined, retryAfterSeconds: Math.max(1, Math.ceil(soonestMs / 1000)) };
}

/** Gives a slot back: the deletion it was taken for did not happen. Best effort. */
export async function releaseDeletionSlot(cluster: Cluster, slot: Slot): Promise<void> {
  await cluster
    .resource<Lease>(leaseRef)
    .delete(slot.name, { namespace: systemNamespace, preconditions: { uid: slot.uid } })
    .catch(() => {});
}

/** Takes the slot by creating its Lease; undefined when another taker was first. */
async function create(
  leases: Leases,
  name: string,
  holder: string,
  windowSeconds: number,
): Promise<Slot | undefined> {
  // The namespace it deletes, and this attempt (a holder name alone repeats).
  const lease = await createLease(leases, name, {
    holder: `${holder}/${randomUUID().slice(0, 8)}`,
    seconds: windowSeconds,
  });
  return lease && { name, uid: lease.metadata?.uid ?? '' };
}
