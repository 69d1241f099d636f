import { describe, expect, test } from 'vitest';
import type { WatcherEvent } from '../../shared/kube/index.ts';
import { Checkpoints, ResourceCheckpoint } from './checkpoint.ts';

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
