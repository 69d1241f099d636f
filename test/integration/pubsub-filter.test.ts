// Subscription filters on the real Pub/Sub emulator: it keeps a subscription's filter but
// delivers every message regardless, so the local stack's push forwarder applies the filter
// (infra/local/push-forwarder.ts). The recording endpoint below stands where a function's route
// would be: what is checked is what the forwarder passes on, acknowledges and reports.
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startPushForwarder } from '../../infra/local/push-forwarder.ts';
import { FilterError } from '../../infra/pubsub-filter.ts';
import { triggers } from '../../infra/subscriptions.ts';
import { changeMessage } from '../../shared/events/change.ts';
import { managedByLabel, managedByValue } from '../../shared/labels.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { pubsub, topicPath } from '../support/pubsub.ts';

type Pulled = { ackId: string; message: { attributes?: Record<string, string> } };

const ingressFilter = triggers.ingressTimeoutChanges.filter;
const provisionFilter = triggers.provisionChanges.filter;

const publish = (topic: string, messages: { attributes: Record<string, string>; data: Buffer }[]) =>
  pubsub('POST', `topics/${topic}:publish`, {
    messages: messages.map((m) => ({ attributes: m.attributes, data: m.data.toString('base64') })),
  });

const change = (kind: string, type: 'ADDED' | 'MODIFIED' | 'DELETED', managed: boolean) =>
  changeMessage(
    { apiVersion: 'v1', group: '', version: 'v1', kind },
    {
      type,
      object: {
        metadata: {
          name: uniqueName('obj'),
          namespace: 'kubefn-t-filter',
          uid: uniqueName('uid'),
          resourceVersion: '1',
          ...(managed ? { labels: { [managedByLabel]: managedByValue } } : {}),
        },
      },
    },
    'local',
  );

test('the emulator stores a filter but delivers what it excludes (why the forwarder filters)', async () => {
  const topic = uniqueName('filter-topic');
  const subscription = uniqueName('filter-pull');
  expect((await pubsub('PUT', `topics/${topic}`)).status).toBe(200);
  const created = await pubsub('PUT', `subscriptions/${subscription}`, {
    topic: topicPath(topic),
    filter: ingressFilter,
  });
  expect(created.status).toBe(200);
  expect((await pubsub('GET', `subscriptions/${subscription}`)).body.filter).toBe(ingressFilter);
  await publish(topic, [change('Namespace', 'MODIFIED', true)]);
  const pulled = await pubsub('POST', `subscriptions/${subscription}:pull`, { maxMessages: 10 });
  const received = (pulled.body.receivedMessages ?? []) as Pulled[];
  // Real Pub/Sub would never deliver a Namespace change here. If this fails, the emulator has
  // learnt to filter: the forwarder's filtering and this note can go.
  expect(received.map((r) => r.message.attributes?.kind)).toEqual(['Namespace']);
});

const received: { headers: IncomingMessage['headers']; attributes: Record<string, string> }[] = [];
const filteredOut: { messageId: string; attributes: Record<string, string> }[] = [];
const answers: number[] = [];
const endpoint = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    received.push({ headers: req.headers, attributes: JSON.parse(body).message.attributes ?? {} });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"outcome":"applied"}');
  });
});
let forwarder: { url: string; close(): Promise<void> };
const topic = uniqueName('filtered');

beforeAll(async () => {
  endpoint.listen(0, '127.0.0.1');
  await once(endpoint, 'listening');
  const target = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/pubsub/changes`;
  forwarder = await startPushForwarder(target, 'push-token', (status) => answers.push(status), {
    filter: provisionFilter,
    onFilteredOut: (message) => filteredOut.push(message),
  });
  expect((await pubsub('PUT', `topics/${topic}`)).status).toBe(200);
  const created = await pubsub('PUT', `subscriptions/${topic}-push`, {
    topic: topicPath(topic),
    pushConfig: { pushEndpoint: forwarder.url },
    filter: provisionFilter,
    ackDeadlineSeconds: 10,
  });
  expect(created.status).toBe(200);
});

afterAll(async () => {
  await pubsub('DELETE', `subscriptions/${topic}-push`);
  await forwarder?.close();
  endpoint.close();
});

test("the forwarder passes on only what the subscription's filter takes, and acknowledges the rest", async () => {
  const deleted = change('ResourceQuota', 'DELETED', true);
  const added = change('ResourceQuota', 'ADDED', true);
  const unmanaged = change('ResourceQuota', 'DELETED', false);
  const namespace = change('Namespace', 'MODIFIED', true);
  const published = await publish(topic, [added, deleted, unmanaged, namespace]);
  expect(published.status).toBe(200);
  const ids = published.body.messageIds as string[];

  await eventually('one pushed, three filtered out', 15_000, async () =>
    received.length >= 1 && filteredOut.length >= 3 ? true : undefined,
  );
  expect(received[0]?.attributes).toEqual(deleted.attributes);
  expect(received[0]?.headers.authorization).toBe('Bearer push-token');
  expect(answers).toEqual([200]);
  expect(filteredOut.map((m) => m.messageId).sort()).toEqual(
    [ids[0], ids[2], ids[3]].map(String).sort(),
  );
  expect(filteredOut.map((m) => m.attributes.eventKey).sort()).toEqual(
    [added, unmanaged, namespace].map((m) => m.attributes.eventKey).sort(),
  );
  // Acknowledged: the emulator redelivers an unacknowledged push within about a second.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  expect([received.length, filteredOut.length]).toEqual([1, 3]);
});

test('a filter Pub/Sub would refuse is an error before anything is forwarded', async () => {
  await expect(
    startPushForwarder('http://127.0.0.1:1/', 't', () => {}, {
      filter: 'attributes:a AND attributes:b OR attributes:c',
    }),
  ).rejects.toThrow(FilterError);
});
