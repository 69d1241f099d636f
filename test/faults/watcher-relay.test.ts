// The watcher's relay against the real kube-apiserver and the real Pub/Sub emulator: every change
// becomes a message with its attributes and dedupe key, and after a restart from the persisted
// checkpoint, the changes made while it was down (a deletion among them) are delivered.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CheckpointStore, ResourceCheckpoint } from '../../functions/watcher/checkpoint.ts';
import { createPublisher } from '../../functions/watcher/publisher.ts';
import { Relay } from '../../functions/watcher/relay.ts';
import { changeMessage } from '../../shared/events/change.ts';
import type { Cluster, KubeObject, ResourceInfo } from '../../shared/kube/index.ts';
import { closeTestNamespace, openTestNamespace, stack } from '../support/cluster.ts';
import { uniqueName } from '../support/kube.ts';
import { pubsub, topicPath } from '../support/pubsub.ts';
import { compactEtcd, restartApiserver } from '../support/stack-control.ts';

let cluster: Cluster;
let ns: string;
let configMapInfo: ResourceInfo;
const topic = uniqueName('changes');
const subscription = uniqueName('sub');
process.env.PUBSUB_EMULATOR_HOST = stack.pubsubEmulatorHost;
process.env.METADATA_SERVER_DETECTION = 'none';
const publisher = createPublisher({ projectId: stack.pubsubProject, topic, log: () => {} });
const configMaps = () => cluster.resource({ apiVersion: 'v1', kind: 'ConfigMap' });

beforeAll(async () => {
  ({ cluster, ns } = await openTestNamespace('relay'));
  configMapInfo = await configMaps().info();
  expect((await pubsub('PUT', `topics/${topic}`)).status).toBe(200);
  const sub = await pubsub('PUT', `subscriptions/${subscription}`, {
    topic: topicPath(topic),
    enableMessageOrdering: true,
  });
  expect(sub.status).toBe(200);
});
afterAll(async () => {
  await publisher.close();
  await closeTestNamespace(cluster, ns);
});

type Received = { attributes: Record<string, string>; body: { type: string; object: KubeObject } };
const received: Received[] = [];
const retries: string[] = [];
async function pullUntil(what: string, done: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) {
      const got = received.map((m) => `${m.attributes.type} ${m.attributes.name}`).join(', ');
      throw new Error(`${what}: not within ${timeoutMs} ms; received ${got}`);
    }
    await new Promise((r) => setTimeout(r, 100));
    const res = await pubsub('POST', `subscriptions/${subscription}:pull`, {
      maxMessages: 100,
      returnImmediately: true,
    });
    const messages = (res.body.receivedMessages ?? []) as {
      ackId: string;
      message: { data: string; attributes: Record<string, string> };
    }[];
    for (const { message } of messages) {
      received.push({
        attributes: message.attributes,
        body: JSON.parse(Buffer.from(message.data, 'base64').toString()),
      });
    }
    if (messages.length)
      await pubsub('POST', `subscriptions/${subscription}:acknowledge`, {
        ackIds: messages.map((m) => m.ackId),
      });
  }
}
const seen = (type: string, name: string) =>
  received.some((m) => m.attributes.type === type && m.attributes.name === name);

function startRelay(checkpoint: ResourceCheckpoint) {
  const controller = new AbortController();
  const resource = configMaps();
  const relay = new Relay({
    resource,
    scope: { namespace: ns, labelSelector: 'relay=yes' },
    checkpoint,
    toMessage: (change) => changeMessage(configMapInfo, change, 'local'),
    publish: publisher.publish,
    window: 50,
    signal: controller.signal,
    onRetry: (error) => retries.push(error.code),
  });
  const running = relay.run();
  return {
    relay,
    stop: async () => {
      controller.abort();
      await running;
    },
  };
}

test('changes become messages; a restart from the checkpoint delivers what changed while down, after a 410', async () => {
  const cm = (name: string) => ({
    metadata: { name, namespace: ns, labels: { relay: 'yes' } },
    data: { v: '0' },
  });
  await configMaps().create(cm('before'));
  const checkpoints = new CheckpointStore(cluster, ns, 'kubefn-watcher-state');
  const acknowledged = new ResourceCheckpoint();
  const first = startRelay(acknowledged);
  await pullUntil('initial state', () => seen('ADDED', 'before'));
  await configMaps().create(cm('live'));
  await configMaps().patch('before', { data: { v: '1' } }, { namespace: ns });
  await pullUntil('live changes', () => seen('ADDED', 'live') && seen('MODIFIED', 'before'));

  const message = received.find((m) => m.attributes.name === 'live');
  expect(message?.attributes).toMatchObject({
    type: 'ADDED',
    kind: 'ConfigMap',
    version: 'v1',
    namespace: ns,
    cluster: 'local',
  });
  expect(message?.attributes.eventKey).toBe(
    `${message?.attributes.uid}/${message?.attributes.resourceVersion}/ADDED`,
  );
  expect(message?.body.object).toMatchObject({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    data: { v: '0' },
  });

  await first.stop();
  expect(first.relay.status.inFlight).toBe(0);
  await checkpoints.save(new Map([['configmaps', acknowledged]]));

  // While it is down: a change, a deletion and a creation.
  await configMaps().patch('live', { data: { v: '2' } }, { namespace: ns });
  await configMaps().delete('before', { namespace: ns });
  await configMaps().create(cm('while-down'));
  // And its resume point is gone: the restart must relist and diff against the checkpoint.
  await compactEtcd();
  await restartApiserver();
  const mark = received.length;

  const restored = (await checkpoints.load()).get('configmaps');
  expect(restored?.resourceVersion).toBe(first.relay.status.resourceVersion);
  expect(restored?.size).toBe(2);
  const second = startRelay(restored ?? new ResourceCheckpoint());
  await pullUntil(
    'missed changes',
    () => seen('MODIFIED', 'live') && seen('DELETED', 'before') && seen('ADDED', 'while-down'),
  );
  const missed = received.slice(mark).map((m) => `${m.attributes.type} ${m.attributes.name}`);
  expect(missed).toEqual(
    expect.arrayContaining(['MODIFIED live', 'DELETED before', 'ADDED while-down']),
  );
  expect(retries).toContain('gone'); // it really had to relist and diff against the checkpoint
  await second.stop();
});
