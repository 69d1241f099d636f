// The per-customer lock that makes "count the customer's tenants, then create one" safe across
// stateless instances: a Lease in kubefn-system that the API server serialises.
import { createHash, randomUUID } from 'node:crypto';
import { DomainError } from '../../shared/errors.ts';
import { systemNamespace } from '../../shared/identities.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { Backoff } from '../../shared/retry/backoff.ts';
import { sleep } from '../../shared/retry/conflict.ts';
import {
  createLease,
  type Lease,
  type Leases,
  leaseRef,
  leaseRemainingMs,
  removeExpiredLease,
} from './leases.ts';

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
    if (current && leaseRemainingMs(current, leaseSeconds) <= 0) {
      // Someone else may remove or take it first: then try again.
      await removeExpiredLease(leases, name, current);
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
export const signupLeaseName = (uid: string) =>
  `kubefn-signup-${createHash('sha256').update(uid).digest('hex').slice(0, 40)}`;

/** Creates the lease: its uid when this request now holds it, undefined when another does. */
async function take(leases: Leases, name: string, seconds: number): Promise<string | undefined> {
  const lease = await createLease(leases, name, { holder: randomUUID(), seconds });
  return lease && (lease.metadata?.uid ?? 'unknown');
}
