// The labels and annotations kubefn puts on what it manages, and checks before it touches
// anything where RBAC cannot (cluster-scoped Namespaces).
export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'kubefn';
export const customerLabel = 'kubefn.dev/customer';
export const planLabel = 'kubefn.dev/plan';
/** On a suspended tenant's namespace (functions/provision/lifecycle.ts). */
export const suspendedLabel = 'kubefn.dev/suspended';
/**
 * The customer who owns a tenant (functions/provision/owner.ts): their Identity Platform user id
 * as a label value (hashed when it is not one), and the id itself as an annotation.
 */
export const ownerLabel = 'kubefn.dev/owner';
export const ownerUidAnnotation = 'kubefn.dev/owner-uid';
/**
 * Who may access a tenant (functions/provision/owner.ts): the emails bound to its owners'
 * RoleBinding, as JSON, on the namespace. Written by each sign-up and plan change; self-healing
 * and the scheduled check render the binding from it, never from a message.
 */
export const ownersAnnotation = 'kubefn.dev/owners';

/**
 * A tenant moving to another cell (functions/provision/move.ts): on the source's namespace, the
 * target cell, from the moment its state is read until it is deleted; while it is there nothing
 * changes the tenant in that cell but the move. On the target's copy, the cell it came from.
 */
export const movingToLabel = 'kubefn.dev/moving-to';
export const movedFromAnnotation = 'kubefn.dev/moved-from';

/**
 * Annotations where kubefn records what it did (its own bookkeeping, not anyone's wish): a change
 * to them alone is nothing a consumer needs to hear about (the watcher does not publish it).
 */
export const recordAnnotations = {
  backendTimeoutApplied: 'kubefn.dev/backend-timeout-applied',
} as const;

export function isManaged(
  object: { metadata?: { labels?: Record<string, string> } } | undefined,
): boolean {
  return object?.metadata?.labels?.[managedByLabel] === managedByValue;
}

/**
 * Keys kubefn decides: its own prefix and the managed-by label. A caller who could set them could
 * change a tenant's plan (and so its quota) or its owner, or take a namespace out of kubefn's care.
 */
export function isKubefnKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : '';
  return key === managedByLabel || prefix === 'kubefn.dev' || prefix.endsWith('.kubefn.dev');
}
