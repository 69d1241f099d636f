// The real Pub/Sub emulator: topics, pull subscriptions and push delivery to a local endpoint.
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from 'vitest';
import { uniqueName } from '../support/kube.ts';
import { pubsub, topicPath } from '../support/pubsub.ts';
import { stack } from '../support/stack.ts';

const base64 = (text: string) => Buffer.from(text).toString('base64');

test('a published message is pulled from a subscription', async () => {
  const topic = uniqueName('topic');
  const subscription = uniqueName('pull');
  expect((await pubsub('PUT', `topics/${topic}`)).status).toBe(200);
  const sub = await pubsub('PUT', `subscriptions/${subscription}`, { topic: topicPath(topic) });
  expect(sub.status).toBe(200);

  const published = await pubsub('POST', `topics/${topic}:publish`, {
    messages: [{ data: base64('{"hello":"kubefn"}'), attributes: { kind: 'Namespace' } }],
  });
  expect(published.status).toBe(200);
  const [messageId] = published.body.messageIds as string[];

  const pulled = await pubsub('POST', `subscriptions/${subscription}:pull`, { maxMessages: 10 });
  expect(pulled.status).toBe(200);
  const received = pulled.body.receivedMessages as {
    ackId: string;
    message: { data: string; attributes: Record<string, string>; messageId: string };
  }[];
  expect(received).toHaveLength(1);
  expect(received[0]?.message).toMatchObject({
    messageId,
    data: base64('{"hello":"kubefn"}'),
    attributes: { kind: 'Namespace' },
  });
  const ack = await pubsub('POST', `subscriptions/${subscription}:acknowledge`, {
    ackIds: [received[0]?.ackId],
  });
  expect(ack.status).toBe(200);
});

test('a push subscription delivers the wrapped message to a local HTTP endpoint', async () => {
  const deliveries: { request: IncomingMessage; body: string }[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      deliveries.push({ request, body });
      response.writeHead(204).end(); // 204 acks; the emulator redelivers a 202 (real Pub/Sub does not)
      server.emit('delivered');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`;
  try {
    const topic = uniqueName('topic');
    const subscription = uniqueName('push');
    expect((await pubsub('PUT', `topics/${topic}`)).status).toBe(200);
    const sub = await pubsub('PUT', `subscriptions/${subscription}`, {
      topic: topicPath(topic),
      pushConfig: { pushEndpoint: endpoint },
      ackDeadlineSeconds: 10,
    });
    expect(sub.status).toBe(200);

    const delivered = once(server, 'delivered');
    const published = await pubsub('POST', `topics/${topic}:publish`, {
      messages: [{ data: base64('pushed'), attributes: { type: 'ADDED' } }],
    });
    const [messageId] = published.body.messageIds as string[];
    await delivered;

    const [first] = deliveries;
    expect(first?.request.method).toBe('POST');
    expect(first?.request.url).toBe('/push');
    expect(JSON.parse(first?.body ?? '')).toMatchObject({
      subscription: `projects/${stack.pubsubProject}/subscriptions/${subscription}`,
      message: { data: base64('pushed'), attributes: { type: 'ADDED' }, messageId },
    });
  } finally {
    server.close();
  }
});
