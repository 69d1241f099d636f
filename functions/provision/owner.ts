// Tenants that belong to a customer (a signed-in user of the SaaS, named by the signup backend):
// who owns a namespace, who may access it (the owners record), what each plan lets a customer do
// (templates/plans.json), and how many tenants they hold. The lock that makes "count the
// customer's tenants, then create one" safe is customer-lock.ts.
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { DomainError } from '../../shared/errors.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { isLabelValue } from '../../shared/kube/names.ts';
import { ownersAnnotation } from '../../shared/labels.ts';
import type { Plan } from './render.ts';

/** The customer as the signup backend verified them: the user id, and what their token said. */
export type Owner = { uid: string; email?: string | undefined; entitlement?: string | undefined };

const hashedPrefix = 'sha256.';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The owner label's value for a user id. Identity Platform's own ids (28 letters and digits) are
 * kept as they are, readable beside the user in the console; any other id (custom ids may hold
 * any character, up to 128) is hashed. Nothing that starts like a hash is kept, so two ids never
 * share a value.
 */
export function ownerLabelValue(uid: string): string {
  if (uid !== '' && isLabelValue(uid) && !uid.startsWith(hashedPrefix)) return uid;
  return `${hashedPrefix}${sha256(uid).slice(0, 48)}`;
}

const OwnersRecordSchema = v.array(v.pipe(v.string(), v.maxLength(254), v.email()));

/** The owners record's value (the annotation on the tenant's namespace). */
export const ownersRecord = (owners: string[]): string => JSON.stringify(owners);

/**
 * The owners recorded on a tenant's namespace by its last sign-up or plan change; undefined when
 * there is no readable record (a tenant provisioned before kubefn kept one, or a hand edit).
 */
export function recordedOwners(ns: KubeObject | undefined): string[] | undefined {
  const raw = ns?.metadata?.annotations?.[ownersAnnotation];
  if (raw === undefined) return undefined;
  try {
    const parsed = v.safeParse(OwnersRecordSchema, JSON.parse(raw));
    return parsed.success ? parsed.output : undefined;
  } catch {
    return undefined;
  }
}

/** What a plan lets a customer do; a plan that does not say is not self-served. */
const PlanRulesSchema = v.object({
  /** How many tenants one customer may hold on this plan. */
  tenantsPerCustomer: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  /** Only a customer whose token carries this plan as their entitlement may sign up for it. */
  needsEntitlement: v.optional(v.boolean(), true),
  /** The customer's verified email is bound to kubefn-tenant-owner in the namespace. */
  ownerAccess: v.optional(v.boolean(), false),
});
export type PlanRules = v.InferOutput<typeof PlanRulesSchema>;

export function planRules(plan: Plan): PlanRules {
  return v.parse(PlanRulesSchema, plan);
}

/** The plans whose rules are not valid (for the settings check at load). */
export function badPlanRules(plans: Record<string, Plan>): string[] {
  return Object.entries(plans)
    .filter(([, plan]) => !v.is(PlanRulesSchema, plan))
    .map(([name]) => name);
}

/** A paid plan comes from the entitlement in the customer's token, never from the body alone. */
export function checkEntitlement(planName: string, rules: PlanRules, owner: Owner): void {
  if (rules.needsEntitlement && owner.entitlement !== planName) {
    throw new DomainError(
      'plan-not-entitled',
      `the ${planName} plan needs an entitlement this account does not have`,
    );
  }
}

/** Managed namespaces of this deployment (its prefix) matching the selector, not being deleted. */
/**
 * At most how many namespaces the cluster holds, all kinds, in one request of one item: the API
 * server counts the rest (remainingItemCount) when the list has no selector. Undefined when it
 * does not say. Below the ceiling on all tenants, the exact count (a list of every tenant, O(n):
 * 240 ms at 5,000 tenants, measured by `bench ready`) is not needed at all.
 */
export async function namespacesAtMost(
  cluster: Cluster,
  timeoutMs: number,
): Promise<number | undefined> {
  const page = await cluster.client.request<{
    metadata: { remainingItemCount?: number };
    items: KubeObject[] | null;
  }>('/api/v1/namespaces', {
    query: { limit: 1 },
    accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
    timeoutMs,
  });
  const remaining = page.metadata.remainingItemCount;
  const listed = (page.items ?? []).length;
  // No remainingItemCount with one item listed: there may be more, uncounted.
  return remaining === undefined ? (listed === 0 ? 0 : undefined) : listed + remaining;
}

export async function countTenants(
  cluster: Cluster,
  prefix: string,
  labelSelector: string,
  timeoutMs: number,
): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    // Metadata only: at tens of thousands of tenants the full objects are needlessly large.
    const page = await cluster.client.request<{
      metadata: { continue?: string };
      items: KubeObject[] | null;
    }>('/api/v1/namespaces', {
      query: { labelSelector, limit: 500, continue: token },
      accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
      timeoutMs,
    });
    // An empty metadata list comes as items: null.
    count += (page.items ?? []).filter(
      (ns) => ns.metadata?.name?.startsWith(prefix) && !ns.metadata?.deletionTimestamp,
    ).length;
    token = page.metadata.continue || undefined;
  } while (token);
  return count;
}
