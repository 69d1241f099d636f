// Tenants that belong to a customer (a signed-in user of the SaaS, named by the signup backend):
// who owns a namespace, what each plan lets a customer do (templates/plans.json), and the
// per-customer lock that makes "count the customer's tenants, then create one" safe across
// stateless instances.
import { createHash, randomUUID } from 'node:crypto';
import * as v from 'valibot';
import { DomainError } from '../../shared/errors.ts';
import { systemNamespace } from '../../shared/identities.ts';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import {
  managedByLabel,
  managedByValue,
  ownerLabel,
  ownersAnnotation,
} from '../../shared/labels.ts';
import { Backoff } from '../../shared/retry/backoff.ts';
import { sleep } from '../../shared/retry/conflict.ts';
import type { Plan } from './render.ts';

/** The customer as the signup backend verified them: the user id, and what their token said. */
export type Owner = { uid: string; email?: string | undefined; entitlement?: string | undefined };

// A label value: at most 63 of [A-Za-z0-9._-], alphanumeric at both ends.
const labelSafe = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const hashedPrefix = 'sha256.';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The owner label's value for a user id. Identity Platform's own ids (28 letters and digits) are
 * kept as they are, readable beside the user in the console; any other id (custom ids may hold
 * any character, up to 128) is hashed. Nothing that starts like a hash is kept, so two ids never
 * share a value.
 */
export function ownerLabelValue(uid: string): string {
  if (labelSafe.test(uid) && !uid.startsWith(hashedPrefix)) return uid;
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

export const managedSelector = `${managedByLabel}=${managedByValue}`;
export const ownerSelector = (uid: string) =>
  `${managedSelector},${ownerLabel}=${ownerLabelValue(uid)}`;

const leaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' } as const;
type Lease = KubeObject & {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string };
};

export type LockOptions = {
  /** How long a lock left by an instance that died blocks the customer (default 15 s). */
  leaseSeconds?: number;
  /** How long a request waits for another sign-up of the same customer (default 20 s). */
  waitMs?: number;
};

/**
 * Runs `work` while this request holds the customer's sign-up lock, so that counting their
 * tenants and creating one is atomic across instances.
 *
 * Why a Lease: count-then-create races (two instances count 0, both create), and no label or
 * field makes the API server refuse a customer's second namespace. It does serialise creates of
 * one name: of concurrent creates of the customer's Lease exactly one succeeds, the others get
 * 409 and wait. The holder deletes it when done; one whose instance died expires after
 * `leaseSeconds` (its acquireTime and duration) and is removed by the next request, guarded by
 * its resourceVersion. `work` gets a deadline well inside the lease, so a slow holder cannot
 * still be creating when the lease is taken over. The lease holds no state: it exists only
 * while a sign-up is in flight.
 */
export async function withCustomerLock<T>(
  cluster: Cluster,
  uid: string,
  work: (timeoutMs: number) => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const leaseSeconds = options.leaseSeconds ?? 15;
  const deadline = Date.now() + (options.waitMs ?? 20_000);
  const leases = cluster.resource<Lease>(leaseRef);
  const name = signupLeaseName(uid);
  const backoff = new Backoff({ initialMs: 40, maxMs: 400 });
  for (;;) {
    const held = await take(leases, name, leaseSeconds);
    if (held) {
      try {
        // Each call inside gets a third of the lease: two calls, with room to spare.
        return await work((leaseSeconds * 1000) / 3);
      } finally {
        // If this fails the lease expires; the next sign-up of this customer waits for that.
        await leases
          .delete(name, { namespace: systemNamespace, preconditions: { uid: held } })
          .catch(() => {});
      }
    }
    const current = await leases.find(name, { namespace: systemNamespace });
    if (current && expired(current, leaseSeconds)) {
      await leases
        .delete(name, {
          namespace: systemNamespace,
          preconditions: { resourceVersion: current.metadata?.resourceVersion ?? '' },
        })
        .catch((error: unknown) => {
          // Someone else removed or took it first: try again.
          if (!(error instanceof KubeError && ['conflict', 'not-found'].includes(error.code)))
            throw error;
        });
      continue;
    }
    const delay = backoff.next();
    if (Date.now() + delay > deadline) {
      throw new DomainError(
        'signup-busy',
        'another sign-up of this account is in progress; try again in a moment',
        undefined,
        { retryable: true },
      );
    }
    await sleep(delay);
  }
}

/** The customer's sign-up Lease, in kubefn-system. */
export const signupLeaseName = (uid: string) => `kubefn-signup-${sha256(uid).slice(0, 40)}`;

/** Creates the lease: its uid when this request now holds it, undefined when another does. */
async function take(
  leases: ReturnType<Cluster['resource']>,
  name: string,
  leaseSeconds: number,
): Promise<string | undefined> {
  try {
    const lease = await leases.create({
      ...leaseRef,
      metadata: { name, namespace: systemNamespace },
      spec: {
        holderIdentity: randomUUID(),
        leaseDurationSeconds: leaseSeconds,
        // MicroTime: RFC 3339 with microseconds.
        acquireTime: new Date().toISOString().replace('Z', '000Z'),
      },
    } as Lease);
    return lease.metadata?.uid ?? 'unknown';
  } catch (error) {
    if (error instanceof KubeError && error.code === 'already-exists') return undefined;
    throw error;
  }
}

function expired(lease: Lease, fallbackSeconds: number): boolean {
  const acquired = Date.parse(lease.spec?.acquireTime ?? String(lease.metadata?.creationTimestamp));
  const seconds = lease.spec?.leaseDurationSeconds ?? fallbackSeconds;
  return !Number.isFinite(acquired) || Date.now() > acquired + seconds * 1000;
}
