// What landed on the dead-letter topic, looked at and put back: a push that kept failing (5xx)
// for maxDeliveryAttempts is moved there by Pub/Sub, with attributes naming where it came from.
//
//   npm run dead-letters -- list   [--subscription S] [--attribute k=v ...] [--max N]
//   npm run dead-letters -- replay [--subscription S] [--attribute k=v ...] [--max N] [--topic T] [--dry-run]
//
// list     one JSON line per message: id, source subscription, publish times, delivery count, the
//          other attributes and the data's size. Never the data: it may hold anything.
// replay   publishes each selected message again (its data, its attributes without Pub/Sub's
//          dead-letter ones, its ordering key) to the topic its source subscription reads
//          (infra/subscriptions.ts), or to --topic; the dead-lettered copy is acknowledged only
//          after that publish succeeded. A failure leaves it where it is and is reported (exit 1).
// --attribute k=v  only messages with these attributes (all of them); the rest are left alone
// --max N          read at most N messages (default 100); it also stops once the subscription
//                  has nothing more to give
// --dry-run        says what replay would publish where, and changes nothing
// Reading holds messages from other readers until the command ends (then everything not replayed
// is released at once, as unread); a command killed midway leaves them invisible for at most
// `holdSeconds`, not lost.
//
// Real Pub/Sub with application default credentials, or the emulator with PUBSUB_EMULATOR_HOST;
// the project is PUBSUB_PROJECT_ID or GOOGLE_CLOUD_PROJECT (shared/pubsub/project.ts).
import { parseArgs } from 'node:util';
import { PubSub, type Topic, v1 } from '@google-cloud/pubsub';
import * as v from 'valibot';
import { CellNameSchema } from '../shared/cells.ts';
import { EnvError } from '../shared/env.ts';
import { pubsubProject } from '../shared/pubsub/project.ts';
import { topics, triggers } from './subscriptions.ts';

const usage = [
  'usage: npm run dead-letters -- list   [--subscription S] [--attribute k=v ...] [--max N]',
  '       npm run dead-letters -- replay [--subscription S] [--attribute k=v ...] [--max N] [--topic T] [--dry-run]',
].join('\n');

/** The attributes Pub/Sub adds to a message it dead-letters. */
export const deadLetterAttributes = {
  subscription: 'CloudPubSubDeadLetterSourceSubscription',
  subscriptionProject: 'CloudPubSubDeadLetterSourceSubscriptionProject',
  deliveryCount: 'CloudPubSubDeadLetterSourceDeliveryCount',
  publishTime: 'CloudPubSubDeadLetterSourceTopicPublishTime',
} as const;
const added = new Set<string>(Object.values(deadLetterAttributes));

/** How long a read message stays hidden from other readers while the command runs. */
export const holdSeconds = 300;
const maxLimit = 10_000;

export type Command = {
  command: 'list' | 'replay';
  subscription: string;
  attributes: [key: string, value: string][];
  max: number;
  topic?: string;
  dryRun: boolean;
  /** Only these messages (the operator console replays the ones an operator picked). */
  messageIds?: string[];
};

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command line, or a UsageError saying what is wrong with it. */
const options = {
  subscription: { type: 'string' },
  attribute: { type: 'string', multiple: true },
  max: { type: 'string' },
  topic: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

export function parseCommand(argv: string[]): Command {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...extra] = positionals;
  if (command !== 'list' && command !== 'replay')
    throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : 'no command');
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  if (command === 'list' && (values.topic !== undefined || values['dry-run']))
    throw new UsageError('--topic and --dry-run are for replay');
  const attributes = (values.attribute ?? []).map((pair): [string, string] => {
    const at = pair.indexOf('=');
    if (at < 1) throw new UsageError(`--attribute ${JSON.stringify(pair)}: expected key=value`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
  const max = values.max === undefined ? 100 : Number(values.max);
  if (!Number.isInteger(max) || max < 1 || max > maxLimit)
    throw new UsageError(`--max: a whole number from 1 to ${maxLimit}`);
  const subscription = values.subscription ?? 'kubefn-dead-letter';
  if (!subscription) throw new UsageError('--subscription: a subscription name');
  if (values.topic !== undefined && (!values.topic || values.topic === topics.deadLetter))
    throw new UsageError('--topic: the topic to replay to (not the dead-letter topic)');
  return {
    command,
    subscription,
    attributes,
    max,
    ...(values.topic !== undefined ? { topic: values.topic } : {}),
    dryRun: values['dry-run'] === true,
  };
}

/** The topic a subscription in infra/subscriptions.ts reads; a full name is shortened first. */
export function sourceTopic(subscription: string | undefined): string | undefined {
  const name = subscription?.replace(/^projects\/[^/]+\/subscriptions\//, '');
  // A per-cell trigger's subscription is named after its cell (cellTrigger): kubefn-...-eu1.
  const trigger = Object.values(triggers).find(
    (t) =>
      t.subscription === name ||
      (t.scope === 'cell' &&
        name?.startsWith(`${t.subscription}-`) &&
        v.is(CellNameSchema, name.slice(t.subscription.length + 1))),
  );
  return trigger ? topics[trigger.topic] : undefined;
}

export type DeadLetter = {
  ackId: string;
  messageId: string;
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey: string;
  /** When it was published to the dead-letter topic. */
  publishTime: string | undefined;
};

/** What Pub/Sub is asked to do: pull and settle on the subscription, publish to topics. */
export type PubsubOps = {
  pull(subscription: string, max: number): Promise<DeadLetter[]>;
  /** 0 releases the messages: redelivered as if never read. */
  setDeadline(subscription: string, ackIds: string[], seconds: number): Promise<void>;
  acknowledge(subscription: string, ackIds: string[]): Promise<void>;
  publish(
    topic: string,
    message: Pick<DeadLetter, 'data' | 'attributes' | 'orderingKey'>,
  ): Promise<string>;
  close(): Promise<void>;
};

export function pubsubOps(projectId: string, emulatorHost?: string): PubsubOps {
  const pubsub = new PubSub({ projectId, ...(emulatorHost ? { apiEndpoint: emulatorHost } : {}) });
  let subscriber: Promise<v1.SubscriberClient> | undefined;
  const client = () => {
    subscriber ??= pubsub.getClientConfig().then(
      // The library's own settings (emulator endpoint and credentials, or Google's and ADC).
      (config) =>
        new v1.SubscriberClient(config as ConstructorParameters<typeof v1.SubscriberClient>[0]),
    );
    return subscriber;
  };
  const path = (subscription: string) => `projects/${projectId}/subscriptions/${subscription}`;
  const publishers = new Map<string, Topic>();
  return {
    async pull(subscription, max) {
      const [response] = await (await client()).pull({
        subscription: path(subscription),
        maxMessages: max,
        // Answer now when there is nothing: the command stops instead of waiting.
        returnImmediately: true,
      });
      return (response.receivedMessages ?? []).map((received) => {
        const message = received.message ?? {};
        const seconds = Number(message.publishTime?.seconds ?? Number.NaN);
        return {
          ackId: received.ackId ?? '',
          messageId: message.messageId ?? '',
          data: Buffer.from(message.data ?? ''),
          attributes: { ...(message.attributes ?? {}) },
          orderingKey: message.orderingKey ?? '',
          publishTime: Number.isFinite(seconds)
            ? new Date(seconds * 1000 + (message.publishTime?.nanos ?? 0) / 1e6).toISOString()
            : undefined,
        };
      });
    },
    async setDeadline(subscription, ackIds, seconds) {
      if (ackIds.length === 0) return;
      await (await client()).modifyAckDeadline({
        subscription: path(subscription),
        ackIds,
        ackDeadlineSeconds: seconds,
      });
    },
    async acknowledge(subscription, ackIds) {
      if (ackIds.length === 0) return;
      await (await client()).acknowledge({ subscription: path(subscription), ackIds });
    },
    async publish(topic, message) {
      let publisher = publishers.get(topic);
      if (!publisher) {
        publisher = pubsub.topic(topic, { messageOrdering: true });
        publishers.set(topic, publisher);
      }
      try {
        return await publisher.publishMessage({
          data: message.data,
          attributes: message.attributes,
          ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
        });
      } catch (error) {
        // A failed ordering key refuses later publishes until resumed.
        if (message.orderingKey) publisher.resumePublishing(message.orderingKey);
        throw error;
      }
    },
    async close() {
      if (subscriber) await (await subscriber).close();
      await pubsub.close();
    },
  };
}

/**
 * Reads up to `max` messages, each once, holding them from other readers. Stops at --max, or
 * after three pulls in a row bring nothing new (a pull may come back empty while a few remain).
 */
async function readAll(
  ops: PubsubOps,
  subscription: string,
  max: number,
  read: Map<string, DeadLetter>,
): Promise<void> {
  for (let empty = 0; read.size < max && empty < 3; ) {
    const batch = await ops.pull(subscription, Math.min(max - read.size, 1000));
    await ops.setDeadline(
      subscription,
      batch.map((m) => m.ackId),
      holdSeconds,
    );
    const fresh = batch.filter((m) => !read.has(m.messageId));
    // The same message again (its hold ran out): keep the newest ack id, the old one is void.
    for (const m of batch) read.set(m.messageId, m);
    if (fresh.length > 0) empty = 0;
    else {
      empty++;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const withAttributes = (attributes: Command['attributes']) => (m: DeadLetter) =>
  attributes.every(([key, value]) => m.attributes[key] === value);

/** A message as listed: what identifies it and where it came from, never its data. */
export function summary(m: DeadLetter) {
  const { [deadLetterAttributes.subscription]: source, ...rest } = m.attributes;
  const other = Object.fromEntries(Object.entries(rest).filter(([key]) => !added.has(key)));
  return {
    messageId: m.messageId,
    sourceSubscription: source ?? null,
    sourceProject: m.attributes[deadLetterAttributes.subscriptionProject] ?? null,
    firstPublished: m.attributes[deadLetterAttributes.publishTime] ?? null,
    deadLettered: m.publishTime ?? null,
    deliveryCount: Number(m.attributes[deadLetterAttributes.deliveryCount] ?? Number.NaN) || null,
    orderingKey: m.orderingKey || null,
    attributes: other,
    bytes: m.data.length,
  };
}

/** The message as it was first published: Pub/Sub's dead-letter attributes taken off. */
export function original(m: DeadLetter): Pick<DeadLetter, 'data' | 'attributes' | 'orderingKey'> {
  const attributes = Object.fromEntries(
    Object.entries(m.attributes).filter(([key]) => !added.has(key)),
  );
  return { data: m.data, attributes, orderingKey: m.orderingKey };
}

export type Output = { out(line: string): void; err(line: string): void };

/** Runs a parsed command; the exit code (0 all done, 1 something failed or was left). */
export async function runCommand(
  command: Command,
  ops: PubsubOps,
  output: Output,
): Promise<number> {
  const { subscription } = command;
  const held = new Map<string, DeadLetter>();
  const settled = new Set<string>();
  let failures = 0;
  try {
    await readAll(ops, subscription, command.max, held);
    const read = [...held.values()];
    const picked = command.messageIds && new Set(command.messageIds);
    const selected = read
      .filter(withAttributes(command.attributes))
      .filter((m) => !picked || picked.has(m.messageId));
    if (command.command === 'list') {
      for (const m of selected) output.out(JSON.stringify(summary(m)));
      output.err(
        `${selected.length} message(s) listed of ${read.length} read from ${subscription}; all left in place`,
      );
      return 0;
    }
    for (const m of selected) {
      const source = m.attributes[deadLetterAttributes.subscription];
      const topic = command.topic ?? sourceTopic(source);
      const line = {
        messageId: m.messageId,
        sourceSubscription: source ?? null,
        topic: topic ?? null,
      };
      if (!topic) {
        failures++;
        output.out(
          JSON.stringify({
            ...line,
            outcome: 'left',
            reason: 'no known topic for its source subscription: pass --topic',
          }),
        );
        continue;
      }
      if (command.dryRun) {
        output.out(JSON.stringify({ ...line, outcome: 'would replay', bytes: m.data.length }));
        continue;
      }
      let republished: string;
      try {
        republished = await ops.publish(topic, original(m));
      } catch (error) {
        failures++;
        output.out(
          JSON.stringify({ ...line, outcome: 'left', reason: `publish failed: ${reason(error)}` }),
        );
        continue;
      }
      // Published: from here on the copy on the dead-letter subscription is a duplicate.
      try {
        await ops.acknowledge(subscription, [m.ackId]);
        settled.add(m.ackId);
        output.out(JSON.stringify({ ...line, outcome: 'replayed', newMessageId: republished }));
      } catch (error) {
        failures++;
        output.out(
          JSON.stringify({
            ...line,
            outcome: 'replayed, not acknowledged',
            newMessageId: republished,
            reason: `${reason(error)}; it stays and may be replayed again (consumers drop the duplicate by its eventKey)`,
          }),
        );
      }
    }
    const replayed = settled.size;
    output.err(
      command.dryRun
        ? `dry run: ${selected.length} of ${read.length} read would be replayed; nothing changed`
        : `${replayed} replayed, ${failures} not, of ${selected.length} selected (${read.length} read from ${subscription})`,
    );
    return failures > 0 ? 1 : 0;
  } finally {
    // Everything not replayed is released at once, as if never read.
    await ops.setDeadline(
      subscription,
      [...held.values()].filter((m) => !settled.has(m.ackId)).map((m) => m.ackId),
      0,
    );
  }
}

const reason = (error: unknown) =>
  error instanceof Error ? error.message.split('\n')[0] : String(error);

/** The command line's entry point: its exit code (2: a usage error, nothing done). */
export async function deadLetters(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  output: Output = { out: (line) => console.log(line), err: (line) => console.error(line) },
): Promise<number> {
  let command: Command;
  let projectId: string;
  try {
    command = parseCommand(argv);
    projectId = pubsubProject('dead-letters', env);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof EnvError)) throw error;
    output.err(`${error.message}\n${usage}`);
    return 2;
  }
  // On the emulator there is no metadata server to look for (the library warns at each call).
  if (env.PUBSUB_EMULATOR_HOST) process.env.METADATA_SERVER_DETECTION ??= 'none';
  const ops = pubsubOps(projectId, env.PUBSUB_EMULATOR_HOST);
  try {
    return await runCommand(command, ops, output);
  } catch (error) {
    output.err(`dead-letters ${command.command} failed: ${reason(error)}`);
    return 1;
  } finally {
    await ops.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await deadLetters(process.argv.slice(2));
}
