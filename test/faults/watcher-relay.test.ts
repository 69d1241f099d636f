// The watcher's relay against the real kube-apiserver and the real Pub/Sub emulator: every change
// becomes a message with its attributes and dedupe key, and after a restart from the persisted
// checkpoint, the changes made while it was down (a deletion among them) are delivered. A relist
// cut short (a proxy drops its continue tokens) reports only the real deletion, never the objects
// its pages did not show.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CheckpointStore, ResourceCheckpoint } from '../../functions/watcher/checkpoint.ts';
import { createPublisher } from '../../functions/watcher/publisher.ts';
import { Relay, type RelayOptions } from '../../functions/watcher/relay.ts';
import { applyIdentities, mintToken } from '../../infra/local/identities.ts';
import { changeMessage } from '../../shared/events/change.ts';
import { accountId } from '../../shared/identities.ts';
import {
  type Cluster,
  type KubeError,
  type KubeObject,
  type ResourceInfo,
  Watcher,
} from '../../shared/kube/index.ts';
import { closeTestNamespace, openTestNamespace, stack, tokenCluster } from '../support/cluster.ts';
import { uniqueName } from '../support/kube.ts';
import { startListFaultProxy } from '../support/list-fault-proxy.ts';
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
type RelayScope = RelayOptions['scope'];

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

function startRelay(
  checkpoint: ResourceCheckpoint,
  watched: {
    resource: ReturnType<Cluster['resource']>;
    info: ResourceInfo;
    scope: RelayScope;
    /** Paginated lists, as on a server without WatchList (the relay falls back to them). */
    plainLists?: boolean;
  } = {
    resource: configMaps(),
    info: configMapInfo,
    scope: { namespace: ns, labelSelector: 'relay=yes' },
  },
) {
  const controller = new AbortController();
  const { resource, info, scope } = watched;
  const onRetry = (error: KubeError) => retries.push(error.code);
  const relay = new Relay({
    resource,
    scope,
    checkpoint,
    ...(watched.plainLists
      ? {
          events: (from) =>
            new Watcher(resource, {
              ...scope,
              ...from,
              sendInitialEvents: false,
              signal: controller.signal,
              onRetry,
            }),
        }
      : {}),
    toMessage: (change) => changeMessage(info, change, 'local'),
    publish: publisher.publish,
    window: 50,
    signal: controller.signal,
    onRetry,
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

test('a relist cut short (continue tokens dropped) reports the real deletion and no other', async () => {
  // Namespaces, which the watcher's own identity lists, reads and watches, through a proxy that
  // answers lists in pages of 2: five of them make a relist of three real pages.
  const run = uniqueName('cut');
  const names = [1, 2, 3, 4, 5].map((i) => `${run}-${i}`);
  const namespaces = cluster.resource({ apiVersion: 'v1', kind: 'Namespace' });
  for (const name of names) await namespaces.create({ metadata: { name, labels: { cut: run } } });
  const lists = await startListFaultProxy(stack, { pageSize: 2 });
  try {
    await applyIdentities(cluster); // the watcher's ServiceAccount and RBAC, as installed
    const watcherCluster = tokenCluster(await mintToken(cluster, accountId('watcher')), lists.url);
    const watched = {
      resource: watcherCluster.resource({ apiVersion: 'v1', kind: 'Namespace' }),
      info: await namespaces.info(),
      scope: { labelSelector: `cut=${run}` },
      // WatchList's initial events end with a bookmark that says so, and pass the proxy
      // untouched: the lists a server without WatchList answers are what can be cut short.
      plainLists: true,
    };
    const checkpoint = new ResourceCheckpoint();
    const first = startRelay(checkpoint, watched);
    await pullUntil('the five namespaces', () => names.every((n) => seen('ADDED', n)));
    await first.stop();

    // While it is down: one namespace deleted, and its resume point compacted away, so the
    // restart must relist; every relist page then comes without its continue token.
    await namespaces.delete(names[4] as string);
    await compactEtcd();
    await restartApiserver();
    lists.resetCounts();
    lists.fault = 'drop-continue';
    const mark = received.length;
    const retriesBefore = retries.length;
    const second = startRelay(checkpoint, watched);
    await pullUntil('the real deletion', () => seen('DELETED', names[4] as string), 60_000);
    // Anything the same relist reported comes with it: a second more of messages.
    const settle = Date.now() + 1_000;
    await pullUntil('a second more', () => Date.now() > settle);
    await second.stop();
    expect(lists.counts.broken).toBeGreaterThan(0); // the relist really was cut short
    expect(retries.slice(retriesBefore)).toContain('gone'); // and really a relist
    const deleted = received
      .slice(mark)
      .filter((m) => m.attributes.type === 'DELETED')
      .map((m) => m.attributes.name);
    expect(deleted).toEqual([names[4]]);
  } finally {
    lists.fault = 'none';
    await lists.close();
    for (const name of names) await namespaces.delete(name).catch(() => {});
  }
});
