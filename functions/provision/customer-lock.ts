// The per-customer lock that makes "count the customer's tenants, then create one" safe across
// stateless instances: a Lease in kubefn-system that the API server serialises.
import { createHash, randomUUID } from 'node:crypto';
import { DomainError } from '../../shared/errors.ts';
import { systemNamespace } from '../../shared/identities.ts';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import { Backoff } from '../../shared/retry/backoff.ts';
import { sleep } from '../../shared/retry/conflict.ts';

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
export const signupLeaseName = (uid: string) =>
  `kubefn-signup-${createHash('sha256').update(uid).digest('hex').slice(0, 40)}`;

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
