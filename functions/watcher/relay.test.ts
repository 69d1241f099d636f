import { describe, expect, test } from 'vitest';
import type { ChangeType } from '../../shared/events/change.ts';
import type { KubeObject, Resource, WatcherEvent } from '../../shared/kube/index.ts';
import { ResourceCheckpoint } from './checkpoint.ts';
import { PublishWindow } from './publish-window.ts';
import { Relay } from './relay.ts';

const change = (
  type: ChangeType,
  name: string,
  resourceVersion: string,
  initial = false,
): WatcherEvent => ({
  type,
  object: { metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion } },
  key: { uid: `uid-${name}`, resourceVersion, type },
  initial,
});
const synced = (resourceVersion: string): WatcherEvent => ({ type: 'SYNCED', resourceVersion });
const bookmark = (resourceVersion: string): WatcherEvent => ({
  type: 'BOOKMARK',
  resourceVersion,
});

/** A fake event stream: yields the events, then waits until the relay's signal aborts. */
function stream(events: WatcherEvent[], signal: AbortSignal) {
  return async function* () {
    yield* events;
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  };
}

/** Runs a relay over `events` with a publish whose promises the test settles, in any order. */
function harness(
  events: WatcherEvent[],
  checkpoint = new ResourceCheckpoint(),
  select: (change: { object: KubeObject }) => boolean | Promise<boolean> = () => true,
) {
  const controller = new AbortController();
  const published: { name: string; acked: boolean; ack: () => void; fail: () => void }[] = [];
  const relay = new Relay({
    resource: {} as Resource,
    scope: {},
    checkpoint,
    toMessage: async (c) =>
      (await select(c))
        ? {
            data: Buffer.from(''),
            attributes: { name: c.object.metadata?.name ?? '' },
            orderingKey: '',
          }
        : undefined,
    publish: (message) =>
      new Promise((resolve, reject) =>
        published.push({
          name: message.attributes.name ?? '',
          acked: false,
          ack: () => resolve('id'),
          fail: () => reject(new Error('aborted')),
        }),
      ),
    window: 100,
    signal: controller.signal,
    events: () => stream(events, controller.signal)(),
  });
  const running = relay.run();
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return {
    relay,
    checkpoint,
    published,
    settle,
    /** Acknowledges the oldest unacknowledged publish of the object `name`. */
    ack: async (name: string) => {
      const next = published.find((p) => p.name === name && !p.acked);
      if (!next) throw new Error(`nothing of ${name} awaits acknowledgement`);
      next.acked = true;
      next.ack();
      await settle();
    },
    stop: async () => {
      controller.abort();
      for (const p of published) p.fail();
      await running;
    },
  };
}

describe('Relay checkpoint', () => {
  // Events a..d from the watch stream (rv 11..14) after a list (a at rv 5, SYNCED at 10).
  const events = [
    change('ADDED', 'a', '5', true),
    synced('10'),
    change('MODIFIED', 'a', '11'),
    change('ADDED', 'b', '12'),
    bookmark('12'),
    change('ADDED', 'c', '13'),
    change('DELETED', 'a', '14'),
  ];
  test.each([
    { acks: [], rv: undefined, objects: [], synced: false },
    // The list's object is acknowledged: the list's own resourceVersion comes with SYNCED.
    { acks: ['a'], rv: '10', objects: ['ns/a 5'], synced: true },
    // Acknowledged out of order: nothing moves past the first unacknowledged change.
    { acks: ['c', 'b'], rv: undefined, objects: [], synced: false },
    { acks: ['c', 'b', 'a'], rv: '10', objects: ['ns/a 5'], synced: true },
    { acks: ['a', 'c', 'b'], rv: '10', objects: ['ns/a 5'], synced: true },
    { acks: ['a', 'c', 'a', 'b'], rv: '13', objects: ['ns/a 11', 'ns/b 12', 'ns/c 13'] },
    { acks: ['a', 'a', 'a', 'b'], rv: '12', objects: ['ns/a 11', 'ns/b 12'], synced: true },
    // All of them, the last first: the deletion leaves the checkpoint too.
    { acks: ['a', 'a', 'a', 'c', 'b'], rv: '14', objects: ['ns/b 12', 'ns/c 13'] },
  ])('acknowledged $acks -> resume at $rv', async ({ acks, rv, objects, synced = true }) => {
    const h = harness(events);
    await h.settle();
    expect(h.published.map((p) => p.name)).toEqual(['a', 'a', 'b', 'c', 'a']);
    for (const name of acks) await h.ack(name);
    expect(h.checkpoint.resourceVersion).toBe(rv);
    expect(h.relay.status.resourceVersion).toBe(rv);
    expect([...h.checkpoint.objects()].map(([k, e]) => `${k} ${e.resourceVersion}`).sort()).toEqual(
      objects,
    );
    expect(h.relay.status.synced).toBe(synced);
    expect(h.relay.status.published).toBe(acks.length);
    expect(h.relay.status.inFlight).toBe(5 - acks.length);
    await h.stop();
    // Abandoned publishes leave the checkpoint where it was: they are delivered again.
    expect(h.checkpoint.resourceVersion).toBe(rv);
    expect(h.relay.status.inFlight).toBe(0);
  });

  test('resuming from a checkpoint is synced at once, and diffs against a copy', async () => {
    const checkpoint = new ResourceCheckpoint('20', [
      ['ns/a', { uid: 'uid-a', resourceVersion: '19' }],
    ]);
    const h = harness([change('MODIFIED', 'a', '21')], checkpoint);
    expect(h.relay.status.synced).toBe(true);
    await h.settle();
    await h.ack('a');
    expect(checkpoint.resourceVersion).toBe('21');
    expect(checkpoint.objects().get('ns/a')?.resourceVersion).toBe('21');
    await h.stop();
  });

  test('a full window stops reading until a publish is acknowledged', async () => {
    const controller = new AbortController();
    let read = 0;
    const pending: (() => void)[] = [];
    const relay = new Relay({
      resource: {} as Resource,
      scope: {},
      checkpoint: new ResourceCheckpoint(),
      toMessage: () => ({ data: Buffer.from(''), attributes: {}, orderingKey: '' }),
      publish: () => new Promise((resolve) => pending.push(() => resolve('id'))),
      window: 2,
      signal: controller.signal,
      events: async function* () {
        for (let i = 1; i <= 5 && !controller.signal.aborted; i++) {
          read++;
          yield change('ADDED', `o${i}`, String(i));
        }
      },
    });
    const running = relay.run();
    await new Promise((r) => setTimeout(r, 0));
    expect(read).toBe(2);
    pending.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
    expect(read).toBe(3);
    controller.abort();
    for (const resolve of pending) resolve();
    await running;
  });

  test('relays sharing a window have at most its size in flight between them', async () => {
    const controller = new AbortController();
    const window = new PublishWindow(3);
    const reads = { a: 0, b: 0 };
    const pending: (() => void)[] = [];
    const relay = (name: 'a' | 'b') =>
      new Relay({
        resource: {} as Resource,
        scope: {},
        checkpoint: new ResourceCheckpoint(),
        toMessage: () => ({ data: Buffer.from(''), attributes: {}, orderingKey: '' }),
        publish: () => new Promise((resolve) => pending.push(() => resolve('id'))),
        window,
        signal: controller.signal,
        events: async function* () {
          for (let i = 1; i <= 5 && !controller.signal.aborted; i++) {
            reads[name]++;
            yield change('ADDED', `${name}${i}`, String(i));
          }
        },
      });
    const running = [relay('a').run(), relay('b').run()];
    await new Promise((r) => setTimeout(r, 0));
    expect(pending).toHaveLength(3);
    // One change read ahead at most, waiting for a slot: the other relay's watch is held back.
    expect(reads.a + reads.b).toBeLessThanOrEqual(4);
    pending.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
    expect(pending).toHaveLength(3);
    controller.abort();
    for (const resolve of pending) resolve();
    await Promise.all(running);
    expect(window.used).toBe(0);
  });

  test('a change with no message is not published, and the checkpoint moves over it in its place', async () => {
    const events = [
      change('MODIFIED', 'a', '11'),
      change('MODIFIED', 'skip', '12'),
      change('MODIFIED', 'b', '13'),
    ];
    const h = harness(
      events,
      new ResourceCheckpoint('10'),
      (c) => c.object.metadata?.name !== 'skip',
    );
    await h.settle();
    expect(h.published.map((p) => p.name)).toEqual(['a', 'b']);
    // The skipped change waits behind the unacknowledged one before it...
    await h.ack('b');
    expect(h.checkpoint.resourceVersion).toBe('10');
    // ...and is passed with it.
    await h.ack('a');
    expect(h.checkpoint.resourceVersion).toBe('13');
    expect(h.relay.status).toMatchObject({ published: 2, skipped: 1, inFlight: 0 });
    await h.stop();
  });

  test('stopping while the message is being made leaves that change after the checkpoint', async () => {
    let abort = () => {};
    const h = harness([change('MODIFIED', 'a', '11')], new ResourceCheckpoint('10'), () => {
      abort();
      return Promise.reject(new Error('stopped'));
    });
    abort = () => void h.stop();
    await h.settle();
    expect(h.published).toEqual([]);
    expect(h.checkpoint.resourceVersion).toBe('10');
  });
});
