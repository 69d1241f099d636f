// relay: how fast the watcher deployable's relay forwards changes, against the same Pub/Sub client publishing the
// same messages straight to the emulator, in the same run, rounds interleaved.
//   throughput: RELAY_CHANGES modifications are made while no relay runs; then a Relay resumes
//     from the resourceVersion before them (the watch replays them) and publishes each one; timed
//     until Pub/Sub acknowledged the last. The direct side publishes the very messages that round
//     produced, all at once, through the same publisher.
//   latency: with the relay running, RELAY_LATENCY_SAMPLES changes are made at a steady pace and
//     each is timed from the API's answer to its arrival at a local push endpoint; beside each,
//     a message published directly is timed from publish to push (the emulator's own latency).
// Both for changes spread over many objects and for a few hot objects (see `shapes`).
// Last line: `relay_ratio <changes/s ours / changes/s direct>`, the worse shape's (goal >= 0.8).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ResourceCheckpoint } from '../../functions/watcher/checkpoint.ts';
import { createPublisher } from '../../functions/watcher/publisher.ts';
import { Relay } from '../../functions/watcher/relay.ts';
import { startStack } from '../../infra/local/stack.ts';
import { type ChangeMessage, changeMessage } from '../../shared/events/change.ts';
import { Cluster, fromKubeconfig, storeKey } from '../../shared/kube/index.ts';
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
  const modify = async (count: number, concurrency: number, objects: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const i = next++;
          await configMaps.patch(
            `cm-${i % objects}`,
            { data: { n: String(++serial) } },
            { namespace: ns },
          );
        }
      }),
    );
  };
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

  // Throughput, interleaved: each round's direct side publishes the messages that round's relay
  // produced (odd rounds publish directly first, with the previous round's messages).
  const rate = {
    spread: { ours: [] as number[], direct: [] as number[] },
    hot: { ours: [] as number[], direct: [] as number[] },
  };
  const messages: Record<Shape, ChangeMessage[]> = { spread: [], hot: [] };
  const direct = async (shape: Shape) => {
    const started = performance.now();
    await Promise.all(messages[shape].map((m) => publisher.publish(m)));
    rate[shape].direct.push(messages[shape].length / ((performance.now() - started) / 1000));
  };
  const ours = async (shape: Shape) => {
    const checkpoint = await checkpointNow();
    await modify(changes, 16, shapes[shape]);
    const produced: ChangeMessage[] = [];
    const started = performance.now();
    const { relay, stop } = startRelay(checkpoint, (m) => produced.push(m));
    while (relay.status.published < changes) await sleep(1);
    rate[shape].ours.push(changes / ((performance.now() - started) / 1000));
    await stop();
    if (produced.length !== changes)
      throw new Error(`the relay produced ${produced.length} messages for ${changes} changes`);
    messages[shape] = produced;
  };
  for (const shape of ['spread', 'hot'] as const) {
    await ours(shape); // warm-up: connections, discovery, the emulator's topic
    await direct(shape);
    rate[shape].ours.length = 0;
    rate[shape].direct.length = 0;
  }
  for (let r = 0; r < rounds; r++) {
    for (const shape of ['spread', 'hot'] as const) {
      if (r % 2) {
        await direct(shape);
        await ours(shape);
      } else {
        await ours(shape);
        await direct(shape);
      }
      console.log(
        `round ${r + 1} ${shape}: ours ${rate[shape].ours.at(-1)?.toFixed(0)}/s, direct ${rate[shape].direct.at(-1)?.toFixed(0)}/s`,
      );
    }
  }

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
    sent.ours.set(
      `${object.metadata?.uid}/${object.metadata?.resourceVersion}/MODIFIED`,
      performance.now(),
    );
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

  const ratio = (shape: Shape) => median(rate[shape].ours) / median(rate[shape].direct);
  console.log(
    `throughput (${changes} changes a round, ${rounds} rounds, window ${window}, medians):`,
  );
  for (const shape of ['spread', 'hot'] as const) {
    console.log(
      `  ${shape} (${shapes[shape]} objects): relay ${median(rate[shape].ours).toFixed(0)} changes/s, direct ${median(rate[shape].direct).toFixed(0)} messages/s, ratio ${ratio(shape).toFixed(2)}`,
    );
  }
  console.log(`latency (${latencySamples} changes, one every 50 ms, to a local push endpoint):`);
  console.log(
    `  change -> push: p50 ${ms(percentile(oursLatency.times, 50))}, p99 ${ms(percentile(oursLatency.times, 99))}${oursLatency.missing ? `, ${oursLatency.missing} never arrived` : ''}`,
  );
  console.log(
    `  publish -> push (emulator alone): p50 ${ms(percentile(directLatency.times, 50))}, p99 ${ms(percentile(directLatency.times, 99))}${directLatency.missing ? `, ${directLatency.missing} never arrived` : ''}`,
  );
  await admin.close();
  // The headline is the worse of the two shapes.
  console.log(`relay_ratio ${Math.min(ratio('spread'), ratio('hot')).toFixed(2)}`);
} finally {
  await publisher.close();
  await stack.stop();
}
