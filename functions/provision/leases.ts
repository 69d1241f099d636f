// Leases in kubefn-system as provision's small locks and counters (customer-lock.ts: one per
// signing-up customer; deletion-budget.ts: one per deletion in the window). Of concurrent
// creators of one Lease, the API server lets exactly one succeed: that is the whole mechanism.
// Each Lease says how long it holds (leaseDurationSeconds from acquireTime), so one left by an
// instance that died expires and is removed by the next taker.
import { systemNamespace } from '../../shared/identities.ts';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';

export const leaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' } as const;
export type Lease = KubeObject & {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string };
};
export type Leases = ReturnType<Cluster['resource']>;

/** Creates the Lease: it, when this caller now holds it; undefined when another does. */
export async function createLease(
  leases: Leases,
  name: string,
  hold: { holder: string; seconds: number },
): Promise<Lease | undefined> {
  try {
    return (await leases.create({
      ...leaseRef,
      metadata: { name, namespace: systemNamespace },
      spec: {
        holderIdentity: hold.holder,
        leaseDurationSeconds: hold.seconds,
        // MicroTime: RFC 3339 with microseconds.
        acquireTime: new Date().toISOString().replace('Z', '000Z'),
      },
    } as Lease)) as Lease;
  } catch (error) {
    if (error instanceof KubeError && error.code === 'already-exists') return undefined;
    throw error;
  }
}

/** How long until the Lease frees; 0 or less once it has. One with no readable time has. */
export function leaseRemainingMs(lease: Lease, fallbackSeconds: number): number {
  const acquired = Date.parse(lease.spec?.acquireTime ?? String(lease.metadata?.creationTimestamp));
  const seconds = lease.spec?.leaseDurationSeconds ?? fallbackSeconds;
  return Number.isFinite(acquired) ? acquired + seconds * 1000 - Date.now() : 0;
}

/** Removes an expired Lease, guarded by the version read; another taker may have been first. */
export async function removeExpiredLease(
  leases: Leases,
  name: string,
  current: Lease,
): Promise<void> {
  await leases
    .delete(name, {
      namespace: systemNamespace,
      preconditions: { resourceVersion: current.metadata?.resourceVersion ?? '' },
    })
    .catch((error: unknown) => {
      if (!(error instanceof KubeError && ['conflict', 'not-found'].includes(error.code)))
        throw error;
    });
}
