// The labels and annotations kubefn puts on what it manages, and checks before it touches
// anything where RBAC cannot (cluster-scoped Namespaces).
export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'kubefn';
export const customerLabel = 'kubefn.dev/customer';
export const planLabel = 'kubefn.dev/plan';

export function isManaged(
  object: { metadata?: { labels?: Record<string, string> } } | undefined,
): boolean {
  return object?.metadata?.labels?.[managedByLabel] === managedByValue;
}
