// Held deletions against a cluster in memory: nothing is deleted that a complete list did not
// name, a list that fails deletes nothing, and the budget is never exceeded.
import { describe, expect, test } from 'vitest';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import type { ProvisionDeps } from './handler.ts';
import {
  decideHeldDeletions,
  deleteTenant,
  heldAtAnnotation,
  heldLabel,
  releaseHeldDeletions,
} from './held-deletions.ts';

const prefix = 'tenant-';
const tenant = (customerId: string, heldAt?: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: {
    name: prefix + customerId,
    uid: `uid-${customerId}`,
    labels: {
      'app.kubernetes.io/managed-by': 'kubefn',
      'kubefn.dev/customer': customerId,
      ...(heldAt ? { [heldLabel]: 'true' } : {}),
    },
    annotations: heldAt ? { [heldAtAnnotation]: heldAt } : {},
  },
});

/** Namespaces and Leases in memory; `failList` cuts the namespace list after so many. */
function fakeCluster(
  namespaces: KubeObject[],
  options: { failList?: number; failLeases?: boolean } = {},
) {
  const ns = new Map(namespaces.map((n) => [n.metadata?.name ?? '', n]));
  const leases = new Map<string, KubeObject>();
  const deleted: string[] = [];
  const leaseApi = {
    find: async (name: string) => {
      if (options.failLeases) throw new KubeError('network', 'unreachable');
      return leases.get(name);
    },
    create: async (object: KubeObject) => {
      const name = object.metadata?.name ?? '';
      if (leases.has(name)) throw new KubeError('already-exists', 'exists');
      const stored = {
        ...object,
        metadata: { ...object.metadata, uid: name, resourceVersion: '1' },
      };
      leases.set(name, stored);
      return stored;
    },
    delete: async (name: string) => {
      leases.delete(name);
    },
  };
  const namespaceApi = {
    find: async (name: string) => ns.get(name),
    async *items() {
      let n = 0;
      for (const object of ns.values()) {
        if (object.metadata?.labels?.[heldLabel] !== 'true') continue;
        if (options.failList !== undefined && n++ >= options.failList)
          throw new KubeError('network', 'the list was cut');
        yield object;
      }
    },
    delete: async (name: string) => {
      deleted.push(name);
      const object = ns.get(name);
      if (object?.metadata) object.metadata.deletionTimestamp = '2026-12-07T00:00:00Z';
    },
    apply: async (object: KubeObject) => {
      const live = ns.get(object.metadata?.name ?? '');
      if (live?.metadata) {
        live.metadata.labels = { ...live.metadata.labels, ...object.metadata?.labels };
        live.metadata.annotations = {
          ...live.metadata.annotations,
          ...object.metadata?.annotations,
        };
      }
      return live;
    },
  };
  const cluster = {
    resource: (kind: { kind: string }) => (kind.kind === 'Lease' ? leaseApi : namespaceApi),
  } as unknown as Cluster;
  return { cluster, deleted, leases };
}

const depsOf = (cluster: Cluster, perWindow: number) =>
  ({
    cluster,
    namespacePrefix: prefix,
    deletionBudget: { perWindow, windowSeconds: 3600 },
  }) as unknown as ProvisionDeps;

const held = ['a', 'b', 'c', 'd'].map((id, i) => tenant(id, `2026-12-07T10:00:0${i}Z`));

describe('releaseHeldDeletions', () => {
  test('the window allows two of four: the two oldest go, two stay held', async () => {
    const { cluster, deleted } = fakeCluster(held.map((n) => structuredClone(n)));
    const answer = await releaseHeldDeletions(depsOf(cluster, 2));
    expect(deleted).toEqual(['tenant-a', 'tenant-b']);
    expect(answer).toEqual({ deleted: ['a', 'b'], superseded: [], held: 2 });
  });

  test('a list cut short deletes nothing (it throws before any deletion)', async () => {
    const { cluster, deleted } = fakeCluster(
      held.map((n) => structuredClone(n)),
      { failList: 2 },
    );
    await expect(releaseHeldDeletions(depsOf(cluster, 10))).rejects.toThrow(/cut/);
    expect(deleted).toEqual([]);
  });

  test('an empty list deletes nothing, and takes no slot', async () => {
    const { cluster, deleted, leases } = fakeCluster([tenant('a'), tenant('b')]);
    expect(await releaseHeldDeletions(depsOf(cluster, 10))).toEqual({
      deleted: [],
      superseded: [],
      held: 0,
    });
    expect(deleted).toEqual([]);
    expect(leases.size).toBe(0);
  });
});

describe('deleteTenant', () => {
  test('a count that cannot be read deletes nothing', async () => {
    const { cluster, deleted } = fakeCluster([tenant('a')], { failLeases: true });
    await expect(
      deleteTenant(depsOf(cluster, 10), tenant('a'), { via: 'http', dryRun: false }),
    ).rejects.toThrow(/unreachable/);
    expect(deleted).toEqual([]);
  });

  test('beyond the budget: held (recorded on the namespace), not deleted', async () => {
    const { cluster, deleted } = fakeCluster([tenant('a'), tenant('b')]);
    const deps = depsOf(cluster, 1);
    await deleteTenant(deps, tenant('a'), { via: 'http', dryRun: false });
    await expect(
      deleteTenant(deps, tenant('b'), { via: 'pubsub', dryRun: false }),
    ).rejects.toMatchObject({ code: 'deletion-held' });
    expect(deleted).toEqual(['tenant-a']);
    const b = await cluster.resource({ apiVersion: 'v1', kind: 'Namespace' }).find('tenant-b');
    expect(b?.metadata?.labels?.[heldLabel]).toBe('true');
  });
});

describe('decideHeldDeletions', () => {
  test('approving a tenant that is not held does nothing to it', async () => {
    const { cluster, deleted } = fakeCluster([tenant('a'), structuredClone(held[1] as KubeObject)]);
    const decisions = await decideHeldDeletions(
      depsOf(cluster, 0),
      ['a', 'nobody', 'b'],
      'approve',
    );
    expect(decisions).toEqual([
      { customerId: 'a', outcome: 'not-held' },
      { customerId: 'nobody', outcome: 'not-held' },
      { customerId: 'b', outcome: 'deleted' },
    ]);
    expect(deleted).toEqual(['tenant-b']);
  });
});
