// The dead-letter command (infra/dead-letters.ts) on the real Pub/Sub emulator. The emulator
// applies a subscription's dead-letter policy: a message nacked maxDeliveryAttempts times is
// moved to the dead-letter topic with the attributes real Pub/Sub adds
// (CloudPubSubDeadLetterSourceSubscription, ...SubscriptionProject, ...DeliveryCount,
// ...TopicPublishTime), so the messages here are dead-lettered the real way. (Not on a subscription
// with message ordering: there the emulator fails the pull and moves nothing, so the source here
// is unordered; the ordering key still travels with the message.)
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { deadLetters } from '../../infra/dead-letters.ts';
import { uniqueName } from '../support/kube.ts';
import { pubsub, topicPath } from '../support/pubsub.ts';
import { stack } from '../support/stack.ts';

const env = {
  PUBSUB_EMULATOR_HOST: stack.pubsubEmulatorHost,
  PUBSUB_PROJECT_ID: stack.pubsubProject,
};
const maxDeliveryAttempts = 5;

type Pulled = {
  ackId: string;
  message: {
    data?: string;
    attributes?: Record<string, string>;
    messageId: string;
    orderingKey?: string;
  };
};

async function pull(subscription: string): Promise<Pulled[]> {
  const answer = await pubsub('POST', `subscriptions/${subscription}:pull`, {
    maxMessages: 100,
    returnImmediately: true,
  });
  expect(answer.status).toBe(200);
  return (answer.body.receivedMessages ?? []) as Pulled[];
}

async function create(path: string, body: unknown = {}) {
  const answer = await pubsub('PUT', path, body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
}

type Published = { data: string; attributes: Record<string, string>; orderingKey?: string };

/**
 * A source topic with a subscription whose dead-letter policy sends to a topic of this test, and
 * `messages` dead-lettered there by being nacked until Pub/Sub gives up on them.
 */
async function deadLettered(messages: Published[]) {
  const names = {
    source: uniqueName('dl-source'),
    sourceSubscription: uniqueName('dl-source-sub'),
    // Where replays land (a subscription sees only what is published after it exists).
    arrivals: uniqueName('dl-arrivals'),
    deadLetterTopic: uniqueName('dl-topic'),
    deadLetterSubscription: uniqueName('dl-sub'),
  };
  await create(`topics/${names.source}`);
  await create(`topics/${names.deadLetterTopic}`);
  await create(`subscriptions/${names.deadLetterSubscription}`, {
    topic: topicPath(names.deadLetterTopic),
    ackDeadlineSeconds: 60,
  });
  await create(`subscriptions/${names.sourceSubscription}`, {
    topic: topicPath(names.source),
    ackDeadlineSeconds: 10,
    deadLetterPolicy: { deadLetterTopic: topicPath(names.deadLetterTopic), maxDeliveryAttempts },
  });
  const published = await pubsub('POST', `topics/${names.source}:publish`, {
    messages: messages.map((m) => ({ ...m, data: Buffer.from(m.data).toString('base64') })),
  });
  expect(published.status).toBe(200);
  // Nack every delivery until none is left: each message is then on the dead-letter topic.
  for (let quiet = 0, rounds = 0; quiet < 3; rounds++) {
    expect(rounds).toBeLessThan(100);
    const received = await pull(names.sourceSubscription);
    if (received.length === 0) {
      quiet++;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    quiet = 0;
    await pubsub('POST', `subscriptions/${names.sourceSubscription}:modifyAckDeadline`, {
      ackIds: received.map((r) => r.ackId),
      ackDeadlineSeconds: 0,
    });
  }
  await create(`subscriptions/${names.arrivals}`, { topic: topicPath(names.source) });
  return names;
}

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await deadLetters(argv, env, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, lines: out.map((line) => JSON.parse(line) as Record<string, unknown>), err };
}

const three = (tag: string): Published[] => [
  {
    data: `{"n":1,"secret":"${tag}"}`,
    attributes: { kind: 'Ingress', n: '1' },
    orderingKey: 'k/1',
  },
  { data: `{"n":2,"secret":"${tag}"}`, attributes: { kind: 'Namespace', n: '2' } },
  { data: `{"n":3,"secret":"${tag}"}`, attributes: { kind: 'Ingress', n: '3' } },
];

test('list shows each dead-lettered message and where it came from, never its data, and leaves it', async () => {
  const secret = uniqueName('secret');
  const names = await deadLettered(three(secret));
  const listing = await run('list', '--subscription', names.deadLetterSubscription);
  expect(listing.code).toBe(0);
  expect(listing.lines).toHaveLength(3);
  const byN = Object.fromEntries(listing.lines.map((l) => [(l.attributes as { n: string }).n, l]));
  expect(byN['1']).toMatchObject({
    sourceSubscription: names.sourceSubscription,
    sourceProject: stack.pubsubProject,
    deliveryCount: maxDeliveryAttempts,
    attributes: { kind: 'Ingress', n: '1' },
    bytes: Buffer.byteLength(three(secret)[0]?.data ?? ''),
  });
  expect(typeof byN['1']?.firstPublished).toBe('string');
  expect(typeof byN['1']?.deadLettered).toBe('string');
  expect(JSON.stringify(listing)).not.toContain(secret);
  expect(listing.err.join('\n')).toContain('3 message(s) listed of 3 read');

  const filtered = await run(
    'list',
    '--subscription',
    names.deadLetterSubscription,
    '--attribute',
    'kind=Ingress',
  );
  expect(filtered.lines.map((l) => (l.attributes as { n: string }).n).sort()).toEqual(['1', '3']);
  // Still all there: listing released what it read.
  expect(await pull(names.deadLetterSubscription)).toHaveLength(3);
});

test('--max bounds what is read', async () => {
  const names = await deadLettered(three('max'));
  const listing = await run('list', '--subscription', names.deadLetterSubscription, '--max', '2');
  expect(listing.code).toBe(0);
  expect(listing.lines).toHaveLength(2);
});

test('a dry run says what would be replayed where, and changes nothing', async () => {
  const names = await deadLettered(three('dry'));
  const dry = await run(
    'replay',
    '--subscription',
    names.deadLetterSubscription,
    '--topic',
    names.source,
    '--dry-run',
  );
  expect(dry.code).toBe(0);
  expect(dry.lines.map((l) => [l.outcome, l.topic])).toEqual([
    ['would replay', names.source],
    ['would replay', names.source],
    ['would replay', names.source],
  ]);
  expect(await pull(names.arrivals)).toEqual([]);
  expect(await pull(names.deadLetterSubscription)).toHaveLength(3);
});

test('replay by attribute republishes only those, as first published; the rest stay', async () => {
  const names = await deadLettered(three('replay'));
  const replay = await run(
    'replay',
    '--subscription',
    names.deadLetterSubscription,
    '--topic',
    names.source,
    '--attribute',
    'kind=Ingress',
  );
  expect(replay.code).toBe(0);
  expect(replay.lines.map((l) => l.outcome)).toEqual(['replayed', 'replayed']);
  const arrived = await pull(names.arrivals);
  const got = arrived
    .map((r) => ({
      data: Buffer.from(r.message.data ?? '', 'base64').toString(),
      attributes: r.message.attributes,
      orderingKey: r.message.orderingKey ?? '',
    }))
    .sort((a, b) => a.data.localeCompare(b.data));
  const [first, , third] = three('replay');
  expect(got).toEqual([
    { data: first?.data, attributes: first?.attributes, orderingKey: 'k/1' },
    { data: third?.data, attributes: third?.attributes, orderingKey: '' },
  ]);
  // Only the Namespace change is left on the dead-letter subscription.
  const left = await pull(names.deadLetterSubscription);
  expect(left.map((r) => r.message.attributes?.n)).toEqual(['2']);
});

test('what cannot be replayed is left where it is and reported, exit 1', async () => {
  const names = await deadLettered(three('left').slice(0, 1));
  // Its source subscription is not one of infra/subscriptions.ts's: no topic without --topic.
  const unknown = await run('replay', '--subscription', names.deadLetterSubscription);
  expect(unknown.code).toBe(1);
  expect(unknown.lines).toMatchObject([
    { outcome: 'left', sourceSubscription: names.sourceSubscription },
  ]);
  // A topic that does not exist: the publish fails, the message stays.
  const missing = await run(
    'replay',
    '--subscription',
    names.deadLetterSubscription,
    '--topic',
    uniqueName('no-such-topic'),
  );
  expect(missing.code).toBe(1);
  expect(missing.lines[0]?.outcome).toBe('left');
  expect(String(missing.lines[0]?.reason)).toMatch(/^publish failed: /);
  expect(await pull(names.deadLetterSubscription)).toHaveLength(1);
});

test('a subscription that does not exist is a clear failure, exit 1', async () => {
  const result = await run('list', '--subscription', uniqueName('no-such-sub'));
  expect(result.code).toBe(1);
  expect(result.err.join('\n')).toMatch(/dead-letters list failed: .*NOT_FOUND/);
});

test('a bad argument is a usage error with exit code 2, from npm run dead-letters too', async () => {
  const inProcess = await run('list', '--max', 'many');
  expect(inProcess.code).toBe(2);
  expect(inProcess.err.join('\n')).toContain('usage: npm run dead-letters -- list');
  const child = spawn('npm', ['run', '--silent', 'dead-letters', '--', 'resend'], {
    cwd: resolve(import.meta.dirname, '../..'),
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise((done) => child.on('exit', done));
  expect(code).toBe(2);
  expect(stderr).toContain('unknown command "resend"');
});
