// relay: how fast the watcher deployable's relay forwards changes, against a plain publisher with the
// same client settings fed the same stream, in the same run, rounds interleaved.
//   the same stream: RELAY_CHANGES modifications on one schedule (RELAY_PACE a second) with a
//     synced relay running; timed from the first change to Pub/Sub's last ack. The direct side
//     makes the same modifications on the same schedule (no relay), and a publisher with the same
//     settings is handed the relay's message for each change as the API answers it; an unordered
//     side does the same with ordering off (what ordering itself costs).
//   backlog: a relay resuming over changes made before it started, against the same messages
//     published at once (ordered and not): the burst where per-key batching shows.
//   latency: with the relay running, RELAY_LATENCY_SAMPLES changes are made at a steady pace and
//     each is timed from the API's answer to its arrival at a local push endpoint; beside each,
//     a message published directly is timed from publish to push (the emulator's own latency).
// Both for changes spread over many objects and for a few hot objects (see `shapes`).
// On the paced stream both sides make at most RELAY_PACE changes a second, so their throughput
// ratio is about 1.00 for any relay that keeps up: it is printed, not the headline. What the
// stream shows is the relay's tail: `relay_tail_extra_ms` (the relay's median tail minus the
// direct side's, the worse shape). Last line, unpaced: `relay_backlog_ratio <changes/s relay /
// changes/s direct>` draining a backlog, the worse shape (goal >= 0.9).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ResourceCheckpoint } from '../../functions/watcher/checkpoint.ts';
import { createPublisher } from '../../functions/watcher/publisher.ts';
import { Relay } from '../../functions/watcher/relay.ts';
import { startStack } from '../../infra/local/stack.ts';
import { type ChangeMessage, changeMessage, eventKey } from '../../shared/events/change.ts';
import { Cluster, fromKubeconfig, type KubeObject, storeKey } from '../../shared/kube/index.ts';
import { median, ms, percentile } from './stats.ts';

const changes = Number(process.env.RELAY_CHANGES ?? 2000);
const rounds = Number(process.env.RELAY_ROUNDS ?? 5);
const latencySamples = Number(process.env.RELAY_LATENCY_SAMPLES ?? 200);
// Two shapes of the same number of changes: spread over as many objects (one change each, the
// common case: many tenants), and hot (200 objects, several changes each). With message ordering
// the client batches per ordering key, so the shape decides how many requests Pub/Sub sees.
const shapes = { spread: changes, hot: 200 } as const;
type Shape = keyof typeof shapes;
const objects = Math.max(shapes.spread, shapes.hot);
const window = Number(process.env.RELAY_WINDOW ?? 500); // the watcher's default KUBEFN_WINDOW
// Changes a second on the stream (both sides): below what this machine's API server takes
// unpaced (about 1,000-1,300 a second, 16 at a time), so both sides get the same input.
const pace = Number(process.env.RELAY_PACE ?? 800);

const stack = await startStack();
process.env.PUBSUB_EMULATOR_HOST = stack.pubsubEmulatorHost;
process.env.METADATA_SERVER_DETECTION = 'none';
const publisher = createPublisher({
  projectId: stack.pubsubProject,
  topic: 'relay',
  log: () => {},
});
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const ns = 'relay-bench';
  await admin.resource({ apiVersion: 'v1', kind: 'Namespace' }).create({ metadata: { name: ns } });
  const configMaps = admin.resource({ apiVersion: 'v1', kind: 'ConfigMap' });
  const scope = { namespace: ns, labelSelector: 'bench=relay' };
  const base = `http://${stack.pubsubEmulatorHost}/v1/projects/${stack.pubsubProject}`;
  const emulator = (method: string, path: string, body?: unknown) =>
    fetch(`${base}/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  await emulator('PUT', 'topics/relay');

  let created = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = created++; i < objects; i = created++)
        await configMaps.create({
          metadata: { name: `cm-${i}`, namespace: ns, labels: { bench: 'relay' } },
          data: { n: '0' },
        });
    }),
  );
  let serial = 0;
  // The message's eventKey for a change this benchmark made (always a modification).
  const modifiedKey = (object: KubeObject) =>
    eventKey({
      uid: object.metadata?.uid ?? '',
      resourceVersion: object.metadata?.resourceVersion ?? '',
      type: 'MODIFIED',
    });
  const checkpointNow = async (): Promise<ResourceCheckpoint> => {
    const list = await configMaps.list({ ...scope });
    return new ResourceCheckpoint(
      list.metadata?.resourceVersion,
      list.items.map((o) => [
        storeKey(o),
        { uid: o.metadata?.uid ?? '', resourceVersion: o.metadata?.resourceVersion ?? '' },
      ]),
    );
  };
  const info = await configMaps.info();
  const startRelay = (checkpoint: ResourceCheckpoint, onMessage?: (m: ChangeMessage) => void) => {
    const controller = new AbortController();
    const relay = new Relay({
      resource: configMaps,
      scope,
      checkpoint,
      toMessage: (change) => {
        const message = changeMessage(info, change, 'bench');
        onMessage?.(message);
        return message;
      },
      publish: (message) => publisher.publish(message, controller.signal),
      window,
      signal: controller.signal,
    });
    const running = relay.run().catch(() => {});
    return {
      relay,
      stop: async () => {
        controller.abort();
        await running;
      },
    };
  };

  // Throughput on the same stream. Both sides make the same `changes` modifications (16 at a
  // time) on one schedule, change i not before i / RELAY_PACE seconds (as fast as the API
  // server allows when it is behind), so the input is the same and does not depend on which
  // side runs. A relay round: a synced relay watches and publishes each change; timed from the
  // first change to Pub/Sub's last ack. A direct round: no relay; as the API answers each change,
  // a plain publisher with the same settings is handed the message the previous relay round made
  // of the same change (its interleaved order kept); timed the same way. So the ratio and the
  // tail (last change answered to last ack) are the relay's own cost: the watch, decoding, the
  // window, the checkpoint, and its CPU beside the changes' on this machine; the client's per-key
  // batching is the same on both sides. An unordered side (ordering off) measures ordering.
  // Backlog: what a restarted relay drains (all changes made first, then the relay resumes from
  // before them), against the same messages handed to the publisher at once, ordered and not:
  // the burst where the client's one batch in flight per ordering key shows.
  type Mode = 'stream' | 'backlog';
  type Side = 'relay' | 'direct' | 'unordered';
  type Run = { perSecond: number[]; tailMs: number[] };
  const run = (): Run => ({ perSecond: [], tailMs: [] });
  const emptySides = (): Record<Side, Run> => ({ relay: run(), direct: run(), unordered: run() });
  const results: Record<Mode, Record<Shape, Record<Side, Run>>> = {
    stream: { spread: emptySides(), hot: emptySides() },
    backlog: { spread: emptySides(), hot: emptySides() },
  };
  const record = (run: Run, started: number, lastChange: number) => {
    const now = performance.now();
    run.perSecond.push(changes / ((now - started) / 1000));
    run.tailMs.push(now - lastChange);
  };
  /** Makes the changes (paced when `pace` is given); returns when the first started, the last answered. */
  const modify = async (
    objectCount: number,
    options: { pace?: number; onAnswer?: (key: string) => void } = {},
  ) => {
    const started = performance.now();
    let next = 0;
    let lastAnswer = started;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < changes) {
          const i = next++;
          const due = options.pace ? started + (i * 1000) / options.pace - performance.now() : 0;
          if (due > 1) await sleep(due);
          const object = await configMaps.patch(
            `cm-${i % objectCount}`,
            { data: { n: String(++serial) } },
            { namespace: ns },
          );
          lastAnswer = performance.now();
          options.onAnswer?.(modifiedKey(object));
        }
      }),
    );
    return { started, lastAnswer };
  };
  // The relay's messages of its last round, in the order their changes were answered.
  const made: Record<Shape, ChangeMessage[]> = { spread: [], hot: [] };
  const relayRound = async (shape: Shape, mode: Mode) => {
    const produced = new Map<string, ChangeMessage>();
    const answered: string[] = [];
    const onAnswer = (key: string) => answered.push(key);
    const checkpoint = await checkpointNow();
    // Backlog: the changes are all made before the relay starts.
    if (mode === 'backlog') await modify(shapes[shape], { onAnswer });
    const relayStarted = performance.now();
    const { relay, stop } = startRelay(checkpoint, (m) =>
      produced.set(m.attributes.eventKey ?? '', m),
    );
    let timed = { started: relayStarted, lastAnswer: relayStarted };
    if (mode === 'stream') {
      while (!relay.status.synced) await sleep(5);
      timed = await modify(shapes[shape], { pace, onAnswer });
    }
    while (relay.status.published < changes) await sleep(1);
    record(results[mode][shape].relay, timed.started, timed.lastAnswer);
    await stop();
    const inOrder = answered.flatMap((key) => {
      const message = produced.get(key);
      return message ? [message] : [];
    });
    if (inOrder.length !== changes || produced.size !== changes)
      throw new Error(
        `the relay made ${produced.size} messages for ${changes} changes (${inOrder.length} matched)`,
      );
    made[shape] = inOrder;
  };
  const directRound = async (shape: Shape, mode: Mode, side: 'direct' | 'unordered') => {
    const through = side === 'direct' ? publisher : unordered;
    const acks: Promise<unknown>[] = [];
    if (mode === 'backlog') {
      const started = performance.now();
      for (const message of made[shape]) acks.push(through.publish(message));
      await Promise.all(acks);
      record(results.backlog[shape][side], started, started);
      return;
    }
    const messages = made[shape].values();
    const timed = await modify(shapes[shape], {
      pace,
      onAnswer: () => {
        const message = messages.next().value;
        if (message) acks.push(through.publish(message));
      },
    });
    await Promise.all(acks);
    record(results.stream[shape][side], timed.started, timed.lastAnswer);
  };
  const unordered = createPublisher({
    projectId: stack.pubsubProject,
    topic: 'relay',
    log: () => {},
    ordering: false,
  });
  const roundOf = (shape: Shape, mode: Mode, r: number) => {
    const relaySide = () => relayRound(shape, mode);
    const others = [
      () => directRound(shape, mode, 'direct'),
      () => directRound(shape, mode, 'unordered'),
    ];
    // Interleaved, the order turned each round (the direct sides then use the previous
    // relay round's messages).
    return r % 2 ? [...others, relaySide] : [relaySide, ...others];
  };
  for (const mode of ['stream', 'backlog'] as const)
    for (const shape of ['spread', 'hot'] as const) {
      // Warm-up: connections, discovery, the emulator's topic; not counted.
      for (const step of roundOf(shape, mode, 0)) await step();
      results[mode][shape] = emptySides();
    }
  for (let r = 0; r < rounds; r++)
    for (const mode of ['stream', 'backlog'] as const)
      for (const shape of ['spread', 'hot'] as const) {
        for (const step of roundOf(shape, mode, r)) await step();
        const runs = results[mode][shape];
        const last = (side: Side) => runs[side].perSecond.at(-1)?.toFixed(0);
        console.log(
          `round ${r + 1} ${mode} ${shape}: relay ${last('relay')}/s, direct ${last('direct')}/s, unordered ${last('unordered')}/s`,
        );
      }
  await unordered.close();

  // Latency: changes through the running relay and direct publishes, both pushed to one endpoint.
  const arrived = new Map<string, number>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk;
    });
    req.on('end', () => {
      const now = performance.now();
      const { message } = JSON.parse(body) as { message: { attributes: Record<string, string> } };
      const key = message.attributes.eventKey ?? message.attributes.probe ?? '';
      if (!arrived.has(key)) arrived.set(key, now);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await emulator('PUT', 'subscriptions/relay-push', {
    topic: `projects/${stack.pubsubProject}/topics/relay`,
    pushConfig: { pushEndpoint: `http://127.0.0.1:${port}/push` },
  });
  const live = startRelay(await checkpointNow());
  while (!live.relay.status.synced) await sleep(10);
  const sent = { ours: new Map<string, number>(), direct: new Map<string, number>() };
  for (let i = 0; i < latencySamples; i++) {
    const object = await configMaps.patch(
      `cm-${i % shapes.hot}`,
      { data: { n: String(++serial) } },
      { namespace: ns },
    );
    sent.ours.set(modifiedKey(object), performance.now());
    const probe = `probe-${i}`;
    sent.direct.set(probe, performance.now());
    void publisher.publish({
      data: Buffer.from('{}'),
      attributes: { probe },
      orderingKey: `probe/${i % shapes.hot}`,
    });
    await sleep(50);
  }
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50))
    if ([...sent.ours.keys(), ...sent.direct.keys()].every((k) => arrived.has(k))) break;
  await live.stop();
  server.close();
  const latency = (side: Map<string, number>) => {
    const times = [...side].flatMap(([k, t]) =>
      arrived.has(k) ? [(arrived.get(k) ?? 0) - t] : [],
    );
    return { times, missing: side.size - times.length };
  };
  const oursLatency = latency(sent.ours);
  const directLatency = latency(sent.direct);

  const ratio = (runs: Record<Side, Run>, side: Side = 'direct') =>
    median(runs.relay.perSecond) / median(runs[side].perSecond);
  for (const mode of ['stream', 'backlog'] as const) {
    console.log(
      mode === 'stream'
        ? `the same stream (${changes} changes a round at up to ${pace}/s, 16 at a time, ${rounds} rounds, window ${window}; medians; changes/s from the first change to the last ack, tail = last change answered to last ack):`
        : `backlog (the relay resuming over ${changes} changes made before it started, against the same messages published at once):`,
    );
    for (const shape of ['spread', 'hot'] as const) {
      const runs = results[mode][shape];
      const m = (side: Side) =>
        `${median(runs[side].perSecond).toFixed(0)}/s${mode === 'stream' ? `, tail ${ms(median(runs[side].tailMs))}` : ''}`;
      console.log(
        `  ${shape} (${shapes[shape]} objects): relay ${m('relay')}; direct ${m('direct')}; ratio ${ratio(runs).toFixed(2)}; unordered ${m('unordered')} (ordered direct / unordered ${(median(runs.direct.perSecond) / median(runs.unordered.perSecond)).toFixed(2)})`,
      );
    }
  }
  console.log(`latency (${latencySamples} changes, one every 50 ms, to a local push endpoint):`);
  console.log(
    `  change -> push: p50 ${ms(percentile(oursLatency.times, 50))}, p99 ${ms(percentile(oursLatency.times, 99))}${oursLatency.missing ? `, ${oursLatency.missing} never arrived` : ''}`,
  );
  console.log(
    `  publish -> push (emulator alone): p50 ${ms(percentile(directLatency.times, 50))}, p99 ${ms(percentile(directLatency.times, 99))}${directLatency.missing ? `, ${directLatency.missing} never arrived` : ''}`,
  );
  await admin.close();
  // What the paced stream shows: the relay's own delay past the last change.
  const extraTail = (shape: Shape) =>
    median(results.stream[shape].relay.tailMs) - median(results.stream[shape].direct.tailMs);
  console.log(`relay_tail_extra_ms ${Math.max(extraTail('spread'), extraTail('hot')).toFixed(1)}`);
  // The headline, unpaced: the relay draining a backlog against the same messages published at
  // once, the worse shape.
  console.log(
    `relay_backlog_ratio ${Math.min(ratio(results.backlog.spread), ratio(results.backlog.hot)).toFixed(2)}`,
  );
} finally {
  await publisher.close();
  await stack.stop();
}
