// Tenant deletions under the deletion budget (deletion-budget.ts), and the ones it holds.
//
// Every deletion of a tenant goes through `deleteTenant`: DELETE /tenants/:id, a Pub/Sub
// `cancel`, a held one released later, and (once they exist) moves. With a slot free it deletes
// the namespace (guarded by the uid read, so a namespace re-created since is never deleted);
// without one it records the hold on the namespace and throws `deletion-held` (HTTP 429; a
// Pub/Sub cancel answers `held` and is acknowledged: the record in the cluster keeps it, not a
// redelivery that would dead-letter after 10 attempts). A held deletion is:
//   - done by the scheduled check (/resync) once the window has a free slot, oldest first;
//   - done at once when an operator approves it (POST /deletions/approve, KUBEFN_ALLOW_OPERATOR),
//     naming each tenant: no "approve all", so an empty or cut-short list approves nothing;
//   - dropped by an operator (POST /deletions/drop), or superseded by a newer tenant request
//     (a resume or sign-up dated after the cancel, lifecycle.ts's record): then never done.
// The hold is the label kubefn.dev/deletion-held=true (listed by selector) and annotations with
// when, how, and the cancel's requestedAt, written by their own field manager. Nothing here
// deletes anything that a list did not name, and a list that fails throws before any deletion.
import { DomainError } from '../../shared/errors.ts';
import { KubeError, type KubeObject } from '../../shared/kube/index.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { type DeletionBudget, releaseDeletionSlot, takeDeletionSlot } from './deletion-budget.ts';
import type { ProvisionDeps } from './handler.ts';
import type { OutcomeRequest, Outcomes } from './outcomes.ts';
import { namespaceRef, tenantOf, tenantSelector } from './tenant.ts';

export const heldLabel = 'kubefn.dev/deletion-held';
export const heldAtAnnotation = 'kubefn.dev/deletion-held-at';
export const heldViaAnnotation = 'kubefn.dev/deletion-held-via';
export const heldRequestAnnotation = 'kubefn.dev/deletion-requested-at';
export const heldKeyAnnotation = 'kubefn.dev/deletion-request';
/** lifecycle.ts's record of the newest request applied (read here, written there). */
const requestedAtAnnotation = 'kubefn.dev/requested-at';
const holdManager = 'kubefn-deletion-hold';

export type DeletionDeps = ProvisionDeps & {
  deletionBudget?: DeletionBudget | undefined;
  /** The held cancel's final outcome, once it is done, dropped or superseded (outcomes.ts). */
  outcomes?: Outcomes | undefined;
};
export type HoldSource = {
  /** A move's source copy (move.ts) counts like every deletion. */
  via: 'http' | 'pubsub' | 'move';
  /** The request's own key (outcomes.ts): the outcome of a held deletion, once done, names it. */
  request?: string | undefined;
  requestedAt?: string | undefined;
};

export type HeldDeletion = {
  customerId: string;
  namespace: string;
  heldAt: string;
  via: string;
  requestedAt?: string;
  /** The request's key, for its outcome's id: the HTTP caller's, or the cancel's requestedAt. */
  request?: string;
};

/** The held cancel as outcomes.ts names it: its final outcome has the ids its others had. */
function heldRequest(held: HeldDeletion): OutcomeRequest {
  return {
    action: 'cancel',
    customerId: held.customerId,
    namespace: held.namespace,
    via: held.via === 'pubsub' ? 'pubsub' : 'http',
    request: held.request ?? held.requestedAt ?? held.heldAt,
    requestedAt: held.requestedAt,
  };
}

/**
 * Deletes the tenant's namespace `ns` within the budget, or holds it (throws `deletion-held`
 * with when the window next frees). A dry run only checks, and takes no slot.
 */
export async function deleteTenant(
  deps: DeletionDeps,
  ns: KubeObject,
  options: HoldSource & { dryRun: boolean },
): Promise<void> {
  const name = ns.metadata?.name ?? '';
  const budget = deps.deletionBudget;
  if (options.dryRun || !budget) return deleteNamespace(deps, ns, options.dryRun);
  const taken = await takeDeletionSlot(deps.cluster, deps.namespacePrefix, budget, name);
  if (!taken.slot) {
    const heldAt = await hold(deps, ns, options);
    log('WARNING', 'tenant deletion held: the deletion budget is spent', {
      namespace: name,
      via: options.via,
      perWindow: budget.perWindow,
      windowSeconds: budget.windowSeconds,
    });
    throw new DomainError(
      'deletion-held',
      `more than ${budget.perWindow} tenant deletion(s) in ${budget.windowSeconds} s: this one is held, and is done when the window allows or an operator approves it; nothing to resend`,
      { heldAt, windowFreesInSeconds: taken.retryAfterSeconds },
    );
  }
  try {
    await deleteNamespace(deps, ns, false);
  } catch (error) {
    await releaseDeletionSlot(deps.cluster, taken.slot);
    throw error;
  }
}

async function deleteNamespace(deps: ProvisionDeps, ns: KubeObject, dryRun: boolean) {
  await deps.cluster.resource(namespaceRef).delete(ns.metadata?.name ?? '', {
    dryRun,
    // Never delete a namespace re-created under the same name since it was read.
    preconditions: { uid: ns.metadata?.uid ?? '' },
  });
}

/** Records the hold (keeping the first hold's time); its time. */
async function hold(deps: ProvisionDeps, ns: KubeObject, source: HoldSource): Promise<string> {
  const annotations = ns.metadata?.annotations ?? {};
  const heldAt = annotations[heldAtAnnotation] ?? new Date().toISOString();
  const requestedAt = source.requestedAt ?? annotations[heldRequestAnnotation];
  const request = annotations[heldKeyAnnotation] ?? source.request;
  await deps.cluster.resource(namespaceRef).apply(
    {
      ...namespaceRef,
      metadata: {
        name: ns.metadata?.name ?? '',
        labels: { [heldLabel]: 'true' },
        annotations: {
          [heldAtAnnotation]: heldAt,
          [heldViaAnnotation]: source.via,
          ...(requestedAt ? { [heldRequestAnnotation]: requestedAt } : {}),
          ...(request ? { [heldKeyAnnotation]: request } : {}),
        },
      },
    },
    { fieldManager: holdManager, force: true },
  );
  return heldAt;
}

/** Removes the hold: everything its field manager wrote goes. */
async function unhold(deps: ProvisionDeps, namespace: string): Promise<void> {
  await deps.cluster
    .resource(namespaceRef)
    .apply(
      { ...namespaceRef, metadata: { name: namespace } },
      { fieldManager: holdManager, force: true },
    );
}

/** This deployment's held deletions, oldest first, from one paginated, selected list. */
export async function heldDeletions(deps: ProvisionDeps): Promise<HeldDeletion[]> {
  const held: (HeldDeletion & { terminating: boolean })[] = [];
  for await (const ns of deps.cluster
    .resource(namespaceRef)
    .items({ labelSelector: `${tenantSelector},${heldLabel}=true` })) {
    const tenant = tenantOf(ns, deps.namespacePrefix);
    if (!tenant) continue;
    held.push(describe(ns, tenant.customerId, tenant.terminating));
  }
  return held
    .filter((h) => !h.terminating)
    .map(({ terminating: _, ...h }) => h)
    .sort(byHeldAt);
}

function describe(ns: KubeObject, customerId: string, terminating: boolean) {
  const annotations = ns.metadata?.annotations ?? {};
  const requestedAt = annotations[heldRequestAnnotation];
  const request = annotations[heldKeyAnnotation];
  return {
    customerId,
    namespace: ns.metadata?.name ?? '',
    heldAt: annotations[heldAtAnnotation] ?? '',
    via: annotations[heldViaAnnotation] ?? '',
    ...(requestedAt ? { requestedAt } : {}),
    ...(request ? { request } : {}),
    terminating,
  };
}

const byHeldAt = (a: HeldDeletion, b: HeldDeletion) =>
  a.heldAt.localeCompare(b.heldAt) || a.namespace.localeCompare(b.namespace);

/** A held cancel that a newer request (a resume, a sign-up) has overtaken is not done. */
function superseded(ns: KubeObject): boolean {
  const annotations = ns.metadata?.annotations ?? {};
  const cancel = annotations[heldRequestAnnotation];
  const newest = annotations[requestedAtAnnotation];
  return cancel !== undefined && newest !== undefined && Date.parse(newest) > Date.parse(cancel);
}

export type Released = { deleted: string[]; superseded: string[]; held: number };

/**
 * The held deletions the window now allows, oldest first (the scheduled check runs this); stops
 * at the first that finds no slot. Each namespace is read again before it is deleted.
 */
export async function releaseHeldDeletions(deps: DeletionDeps): Promise<Released> {
  const held = await heldDeletions(deps);
  const answer: Released = { deleted: [], superseded: [], held: 0 };
  for (const [i, entry] of held.entries()) {
    const ns = await deps.cluster.resource(namespaceRef).find(entry.namespace);
    if (!ns || ns.metadata?.deletionTimestamp || !isHeld(ns)) continue;
    if (superseded(ns)) {
      await unhold(deps, entry.namespace);
      answer.superseded.push(entry.customerId);
      await deps.outcomes?.emit(heldRequest(entry), 'failed', {
        code: 'deletion-superseded',
        reason: 'a newer request for this tenant replaced the held cancel; it is not done',
      });
      continue;
    }
    try {
      const via = entry.via === 'pubsub' ? 'pubsub' : 'http';
      await deleteTenant(deps, ns, { via, requestedAt: entry.requestedAt, dryRun: false });
      answer.deleted.push(entry.customerId);
      // The data a cancel done at once has: a replayed cancel yields the same outcome again.
      await deps.outcomes?.emit(heldRequest(entry), 'succeeded', { phase: 'Terminating' });
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'deletion-held')) throw error;
      answer.held = held.length - i;
      break;
    }
  }
  if (answer.deleted.length || answer.held)
    log('INFO', 'held tenant deletions', {
      deleted: answer.deleted.length,
      superseded: answer.superseded.length,
      held: answer.held,
    });
  return answer;
}

const isHeld = (ns: KubeObject) => ns.metadata?.labels?.[heldLabel] === 'true';

export type Decision = { customerId: string; outcome: 'deleted' | 'dropped' | 'not-held' };

/**
 * An operator's decision on named held deletions: `approve` deletes each at once, outside the
 * budget; `drop` removes the hold, so it is never done. A name that is not a held tenant of this
 * deployment is answered `not-held` and nothing is done to it.
 */
export async function decideHeldDeletions(
  deps: DeletionDeps,
  customerIds: readonly string[],
  decision: 'approve' | 'drop',
): Promise<Decision[]> {
  const decisions: Decision[] = [];
  for (const customerId of new Set(customerIds)) {
    const namespace = deps.namespacePrefix + customerId;
    const ns = await deps.cluster.resource(namespaceRef).find(namespace);
    const tenant = ns && tenantOf(ns, deps.namespacePrefix);
    if (!ns || tenant?.customerId !== customerId || tenant.terminating || !isHeld(ns)) {
      decisions.push({ customerId, outcome: 'not-held' });
      continue;
    }
    const held = heldRequest(describe(ns, customerId, false));
    if (decision === 'drop') {
      await unhold(deps, namespace);
      decisions.push({ customerId, outcome: 'dropped' });
      await deps.outcomes?.emit(held, 'failed', {
        code: 'deletion-dropped',
        reason: 'an operator dropped the held cancel; the tenant stays',
      });
      continue;
    }
    try {
      await deleteNamespace(deps, ns, false);
    } catch (error) {
      if (!(error instanceof KubeError && ['not-found', 'conflict'].includes(error.code)))
        throw error;
      decisions.push({ customerId, outcome: 'not-held' });
      continue;
    }
    log('WARNING', 'held tenant deletion approved by an operator', { namespace });
    decisions.push({ customerId, outcome: 'deleted' });
    await deps.outcomes?.emit(held, 'succeeded', { phase: 'Terminating' });
  }
  return decisions;
}
