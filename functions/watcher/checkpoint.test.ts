import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import type { Cluster, KubeObject, WatcherEvent } from '../../shared/kube/index.ts';
import {
  CheckpointStore,
  Checkpoints,
  checkpointNames,
  maxCheckpointShards,
  ResourceCheckpoint,
  storedIn,
} from './checkpoint.ts';

const change = (
  type: 'ADDED' | 'MODIFIED' | 'DELETED',
  rv: string,
  initial = false,
): WatcherEvent => ({
  type,
  object: { metadata: { name: 'a', namespace: 'ns', uid: 'u', resourceVersion: rv } },
  key: { uid: 'u', resourceVersion: rv, type },
  initial,
});

describe('ResourceCheckpoint.acknowledge', () => {
  test.each([
    { event: change('ADDED', '5', true), rv: '1', objects: { 'ns/a': 'u 5' } }, // a list's: no resume point
    { event: change('ADDED', '5'), rv: '5', objects: { 'ns/a': 'u 5' } },
    { event: change('MODIFIED', '6'), rv: '6', objects: { 'ns/a': 'u 6' } },
    { event: change('DELETED', '7'), rv: '7', objects: {} },
    { event: { type: 'BOOKMARK', resourceVersion: '9' } as WatcherEvent, rv: '9', objects: {} },
    { event: { type: 'SYNCED', resourceVersion: '8' } as WatcherEvent, rv: '8', objects: {} },
  ])('$event.type (initial: $event.initial) -> $rv', ({ event, rv, objects }) => {
    const checkpoint = new ResourceCheckpoint('1');
    checkpoint.acknowledge(event);
    expect(checkpoint.resourceVersion).toBe(rv);
    expect(checkpoint.toStored()).toEqual({ rv, objects });
  });

  test('stored form round-trips; objects() is a copy', () => {
    const checkpoint = ResourceCheckpoint.fromStored({ rv: '3', objects: { 'ns/a': 'u 2' } });
    expect(checkpoint.toStored()).toEqual({ rv: '3', objects: { 'ns/a': 'u 2' } });
    checkpoint.objects().clear();
    expect(checkpoint.size).toBe(1);
    expect(new ResourceCheckpoint().toStored()).toEqual({ objects: {} });
  });
});

describe('Checkpoints', () => {
  test('saves once per move, never rejects, and reports the last error', async () => {
    const saves: string[] = [];
    let fail = false;
    const checkpoints = new Checkpoints(
      {
        load: async () => new Map(),
        save: async (all) => {
          if (fail) throw new Error('forbidden');
          saves.push(JSON.stringify([...all].map(([k, c]) => [k, c.toStored()])));
        },
      },
      { log: () => {} },
    );
    await checkpoints.load();
    const one = checkpoints.for('r');
    expect(checkpoints.for('r')).toBe(one);
    await checkpoints.save();
    await checkpoints.save(); // nothing moved
    expect(saves).toHaveLength(1);
    one.acknowledge({ type: 'SYNCED', resourceVersion: '4' });
    fail = true;
    await checkpoints.save();
    expect(checkpoints.status()).toMatchObject({ error: 'forbidden' });
    fail = false;
    await checkpoints.stop();
    expect(saves.at(-1)).toBe('[["r",{"objects":{},"rv":"4"}]]');
    expect(checkpoints.status()).toEqual({ savedAt: expect.any(String) });
  });
});

describe('CheckpointStore', () => {
  /** ConfigMaps kept in memory: what the store asks of a cluster. */
  function configMaps() {
    const stored = new Map<string, KubeObject>();
    const cluster = {
      resource: () => ({
        find: async (name: string) => stored.get(name),
        apply: async (object: KubeObject) => {
          stored.set(object.metadata?.name ?? '', object);
          return object;
        },
      }),
    } as unknown as Cluster;
    return { cluster, stored };
  }
  const big = (objects: number) =>
    new ResourceCheckpoint(
      '9',
      Array.from({ length: objects }, (_, i) => [
        `tenant-${i}/quota`,
        { uid: randomUUID(), resourceVersion: String(1_000_000 + i) },
      ]),
    );

  test('round-trips, gzipped, in one ConfigMap while it fits', async () => {
    const { cluster, stored } = configMaps();
    const store = new CheckpointStore(cluster, 'kubefn-system', 'w-state');
    await store.save(new Map([['a', big(3)]]));
    expect([...stored.keys()]).toEqual(['w-state']);
    expect(stored.get('w-state')?.data).toEqual({ shards: '1' });
    const loaded = await new CheckpointStore(cluster, 'kubefn-system', 'w-state').load();
    expect(loaded.get('a')?.size).toBe(3);
    expect(loaded.get('a')?.resourceVersion).toBe('9');
  });

  test('spreads over more ConfigMaps when one is full, and empties them when it shrinks', async () => {
    const { cluster, stored } = configMaps();
    const store = new CheckpointStore(cluster, 'kubefn-system', 'w-state');
    // 60,000 objects: about 1.6 MB compressed, more than two ConfigMaps hold.
    const checkpoints = new Map([
      ['a', big(20_000)],
      ['b', big(20_000)],
      ['c', big(20_000)],
    ]);
    await store.save(checkpoints);
    expect(stored.get('w-state')?.data).toEqual({ shards: '3' });
    for (const configMap of stored.values())
      expect(JSON.stringify(configMap.binaryData).length).toBeLessThan(1024 * 1024);
    const loaded = await new CheckpointStore(cluster, 'kubefn-system', 'w-state').load();
    expect([...loaded].map(([key, c]) => [key, c.size])).toEqual([
      ['a', 20_000],
      ['b', 20_000],
      ['c', 20_000],
    ]);

    const reloaded = new CheckpointStore(cluster, 'kubefn-system', 'w-state');
    await reloaded.load();
    await reloaded.save(new Map([['a', big(2)]]));
    expect(stored.get('w-state')?.data).toEqual({ shards: '1' });
    expect(stored.get('w-state-1')?.binaryData).toEqual({});
    expect(stored.get('w-state-2')?.binaryData).toEqual({});
  });

  test('more than its ConfigMaps hold is refused, not half-written', async () => {
    const { cluster, stored } = configMaps();
    const store = new CheckpointStore(cluster, 'kubefn-system', 'w-state');
    const many = new Map(
      Array.from({ length: maxCheckpointShards + 1 }, (_, i) => [`r${i}`, big(30_000)]),
    );
    await expect(store.save(many)).rejects.toThrow(/more than the 8 its RBAC names/);
    expect(stored.size).toBe(0);
    // It compresses 9 x 30,000 entries: about a second on a quiet machine, over 5 s under load.
  }, 30_000);

  test("reads an earlier version's plain JSON", () => {
    const stored = { rv: '3', objects: { 'ns/a': 'u 2' } };
    expect(storedIn({ data: { 'Namespace.v1._all': JSON.stringify(stored) } })).toEqual([
      ['Namespace.v1._all', stored],
    ]);
  });

  test("the watcher's RBAC names every ConfigMap it may write", () => {
    const rbac = readFileSync(new URL('../../infra/k8s/rbac.yaml', import.meta.url), 'utf8');
    const names = /resourceNames: \[(kubefn-watcher-state[^\]]*)\]/.exec(rbac)?.[1];
    expect(names?.split(',').map((n) => n.trim())).toEqual(checkpointNames('kubefn-watcher'));
  });
});
