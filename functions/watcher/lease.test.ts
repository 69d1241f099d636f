import { expect, test } from 'vitest';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import { LeaseHolder } from './lease.ts';

/** One Lease kept in memory, with kube-apiserver's optimistic concurrency: a stale write is 409. */
function leaseStore() {
  let stored: KubeObject | undefined;
  let version = 0;
  const save = (lease: KubeObject) => {
    stored = { ...lease, metadata: { ...lease.metadata, resourceVersion: String(++version) } };
    return stored;
  };
  const leases = {
    find: async () => stored,
    create: async (lease: KubeObject) => save(lease),
    replace: async (lease: KubeObject) => {
      if (lease.metadata?.resourceVersion !== stored?.metadata?.resourceVersion)
        throw new KubeError('conflict', 'the object has been modified');
      return save(lease);
    },
  };
  return {
    cluster: { resource: () => leases } as unknown as Cluster,
    /** Writes the Lease behind the holder's back (as its own renewal in flight would). */
    touch: () => stored && save(stored),
    holder: () => (stored?.spec as { holderIdentity?: string } | undefined)?.holderIdentity,
  };
}

test('release gives the lease up even when a renewal wrote it after the last read', async () => {
  const store = leaseStore();
  const lease = new LeaseHolder(store.cluster, {
    namespace: 'kubefn-system',
    name: 'kubefn-watcher',
    identity: 'me',
    leaseDurationSeconds: 15,
    log: () => {},
  });
  await lease.acquire(new AbortController().signal);
  expect(store.holder()).toBe('me');
  store.touch();
  await lease.release();
  expect(store.holder()).toBe('');
  expect(lease.leader).toBe(false);
});
