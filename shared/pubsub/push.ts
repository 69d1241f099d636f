// Pub/Sub push, the same for every function: the envelope is validated, its data decoded and
// checked against the handler's schema, duplicates are recognised by the event key, and the
// answer tells Pub/Sub what to do:
//   2xx  done, a duplicate, or a permanent failure (bad envelope or data, refused by Kubernetes'
//        rules or RBAC): retrying cannot help, so it is acknowledged and logged at ERROR (a
//        dead-letter topic is for messages that keep failing with 5xx)
//   503  a failure a retry can fix (the cluster or an API unavailable, throttled, no answer):
//        Pub/Sub redelivers with backoff
//   500  a bug (not a KubefnError): kept for redelivery and the dead-letter topic
//   400  a query parameter on the push URL (none is taken): a misconfigured subscription, so
//        the message is kept (redelivered, then dead-lettered) rather than acknowledged unread
// Push is at least once: handlers are idempotent; the recent-keys memory only saves work.
//
// The handler runs in a consumer span whose parent is the publisher's, from the message's
// `googclient_traceparent` attribute (./trace-attribute.ts), so a watch event's trace goes on
// through the function's writes; without it, the push request's.
import type { Context } from 'hono';
import * as v from 'valibot';
import { isRetryable, KubefnError } from '../errors.ts';
import { readQuery } from '../http/query.ts';
import { jsonLogger, type Logger } from '../log.ts';
import { inSpan } from '../trace/span.ts';
import { parseTraceparent } from '../trace/traceparent.ts';
import { traceparentAttribute } from './trace-attribute.ts';

const EnvelopeSchema = v.object({
  message: v.object({
    data: v.optional(v.string()),
    attributes: v.optional(v.record(v.string(), v.string())),
    messageId: v.optional(v.string()),
    message_id: v.optional(v.string()),
    publishTime: v.optional(v.string()),
    orderingKey: v.optional(v.string()),
  }),
  subscription: v.string(),
  deliveryAttempt: v.optional(v.number()),
});

export type PushMessage<T> = {
  data: T;
  attributes: Record<string, string>;
  messageId: string;
  /** The watcher's `eventKey` (uid/resourceVersion/type) when present, else the messageId. */
  eventKey: string;
  subscription: string;
  deliveryAttempt: number | undefined;
  /** When Pub/Sub took the message (RFC 3339), when the envelope says. */
  publishTime?: string | undefined;
};

export type PushOutcome = { outcome: string; [detail: string]: unknown };

/**
 * Keys of recently finished events, per instance, bounded: a redelivery that reaches the same
 * instance is answered at once. Correctness does not depend on it (instances come and go).
 */
export class RecentKeys {
  readonly #keys = new Set<string>();
  constructor(readonly capacity = 10_000) {}
  has(key: string): boolean {
    return this.#keys.has(key);
  }
  add(key: string): void {
    this.#keys.delete(key);
    this.#keys.add(key);
    if (this.#keys.size > this.capacity) {
      const oldest = this.#keys.values().next().value;
      if (oldest !== undefined) this.#keys.delete(oldest);
    }
  }
}

export type PushOptions = {
  log?: Logger;
  recent?: RecentKeys;
  /**
   * This function's cell (shared/cells.ts): a message whose `cluster` attribute names another
   * is acknowledged and not handled. Its subscription's filter keeps such messages away; this
   * is the function's own check that a message about one cluster never acts on another's.
   */
  cell?: () => Promise<string>;
};

export function pushRoute<T>(
  dataSchema: v.GenericSchema<unknown, T>,
  handle: (message: PushMessage<T>) => Promise<PushOutcome>,
  options: PushOptions = {},
) {
  const log = options.log ?? jsonLogger;
  const recent = options.recent ?? new RecentKeys();
  return async (c: Context): Promise<Response> => {
    readQuery(c, {});
    const decoded = decode(await c.req.text(), dataSchema);
    if (!decoded.ok) {
      // Never retried: it cannot get better. Logged with what identifies it, not its content.
      log('ERROR', 'push message rejected', {
        code: decoded.code,
        reason: decoded.reason,
        messageId: decoded.messageId,
      });
      logHandled(log, 'rejected', 200, undefined);
      return c.json({ outcome: 'rejected', code: decoded.code, reason: decoded.reason }, 200);
    }
    const message = decoded.message;
    const parent = parseTraceparent(message.attributes[traceparentAttribute]);
    return inSpan(
      `process ${message.subscription.split('/').pop()}`,
      {
        kind: 'consumer',
        ...(parent ? { parent } : {}),
        attributes: {
          'messaging.system': 'gcp_pubsub',
          'messaging.message.id': message.messageId,
          'messaging.destination.subscription.name': message.subscription,
          'messaging.gcp_pubsub.message.delivery_attempt': message.deliveryAttempt,
          'kubefn.event_key': message.eventKey,
        },
      },
      async (span) => {
        const [outcome, status] = await answer(message);
        logHandled(log, outcome.outcome, status, message);
        span.set({ 'http.response.status_code': status });
        return c.json(outcome, status);
      },
    );
  };

  async function answer(message: PushMessage<T>): Promise<Answer> {
    const ids = { messageId: message.messageId, eventKey: message.eventKey };
    if (recent.has(message.eventKey)) return [{ outcome: 'duplicate' }, 200];
    const cluster = message.attributes.cluster;
    if (cluster !== undefined && options.cell && cluster !== (await options.cell())) {
      log('WARNING', 'push message of another cell ignored', { ...ids, cluster });
      return [{ outcome: 'other-cell', cluster }, 200];
    }
    try {
      const result = await handle(message);
      recent.add(message.eventKey);
      return [result, 200];
    } catch (error) {
      if (!(error instanceof KubefnError)) {
        // A bug, not the message's fault: 500, so Pub/Sub keeps the message (redelivered, then
        // dead-lettered) until a fixed version takes it.
        log('ERROR', 'push message hit a bug', {
          ...ids,
          deliveryAttempt: message.deliveryAttempt,
          detail: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
        return [{ outcome: 'error' }, 500];
      }
      const retryable = isRetryable(error);
      log(retryable ? 'WARNING' : 'ERROR', 'push message failed', {
        ...ids,
        code: error.code,
        retryable,
        deliveryAttempt: message.deliveryAttempt,
        detail: error.message,
      });
      if (retryable) return [{ outcome: 'retry' }, 503];
      recent.add(message.eventKey);
      return [{ outcome: 'failed' }, 200];
    }
  }
}

/** What a push is answered: the outcome, and the status that tells Pub/Sub what to do. */
type Answer = [PushOutcome, 200 | 500 | 503];

/**
 * One line per push, 'push handled', which the metrics kubefn/push_outcomes reads
 * (infra/gcp/metrics.ts): `result` done (acknowledged) or retried (Pub/Sub delivers it again, then
 * dead-letters it), the handler's `outcome`, and `ageMs` from Pub/Sub's publish time to the answer.
 */
function logHandled(
  log: Logger,
  outcome: string,
  status: number,
  message: PushMessage<unknown> | undefined,
): void {
  const published = Date.parse(message?.publishTime ?? '');
  log('INFO', 'push handled', {
    subscription: message?.subscription.split('/').pop(),
    outcome,
    result: status < 300 ? 'done' : 'retried',
    status,
    deliveryAttempt: message?.deliveryAttempt,
    ageMs: Number.isFinite(published) ? Math.max(0, Date.now() - published) : undefined,
  });
}

type Decoded<T> =
  | { ok: true; message: PushMessage<T> }
  | { ok: false; code: RejectCode; reason: string; messageId?: string | undefined };

/** Why a push was refused before its handler ran (never retried: it cannot get better). */
export type RejectCode =
  | 'not-json'
  | 'not-an-envelope'
  | 'no-message-id'
  | 'data-not-json'
  | 'data-mismatch';

export function decode<T>(body: string, dataSchema: v.GenericSchema<unknown, T>): Decoded<T> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, code: 'not-json', reason: 'the body is not JSON' };
  }
  const envelope = v.safeParse(EnvelopeSchema, json);
  if (!envelope.success)
    return { ok: false, code: 'not-an-envelope', reason: 'not a Pub/Sub push envelope' };
  const { message, subscription, deliveryAttempt } = envelope.output;
  const messageId = message.messageId ?? message.message_id;
  if (!messageId) return { ok: false, code: 'no-message-id', reason: 'the message has no id' };
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(message.data ?? '', 'base64').toString('utf8'));
  } catch {
    return { ok: false, code: 'data-not-json', reason: 'the data is not base64 JSON', messageId };
  }
  const parsed = v.safeParse(dataSchema, data);
  if (!parsed.success)
    return {
      ok: false,
      code: 'data-mismatch',
      reason: `the data does not match: ${parsed.issues
        .slice(0, 3)
        // What was expected, never what was received: the data may hold anything.
        .map(
          (i) => `${i.path?.map((p) => String(p.key)).join('.') || 'data'}: expected ${i.expected}`,
        )
        .join('; ')}`,
      messageId,
    };
  const attributes = message.attributes ?? {};
  return {
    ok: true,
    message: {
      data: parsed.output,
      attributes,
      messageId,
      eventKey: attributes.eventKey ?? messageId,
      subscription,
      deliveryAttempt,
      ...(message.publishTime ? { publishTime: message.publishTime } : {}),
    },
  };
}
