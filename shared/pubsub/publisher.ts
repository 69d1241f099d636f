// Publishing from a function (provision's resync batches and tenant outcomes) with
// @google-cloud/pubsub, loaded on the first publish: a cold start that publishes nothing does
// not load it. The client retries a failed publish itself; what still fails rejects, for the
// caller to decide. By default for 60 s in all, and one attempt may take all 60 s: over a
// connection that drops every packet (a blackhole, not a refusal) the first attempt waits out
// the whole budget and the message is lost (test/faults/deletion-budget-outages.test.ts lost 6
// tenant outcomes so to a 30 s blackhole). `retryForMs` instead gives each attempt 10 s and
// keeps trying, with backoff up to 10 s, for that long in all.
//
// With `ordered`, messages with one ordering key are delivered in the order published. A failed
// publish pauses its key in the client (later ones would overtake it); it is resumed here, so the
// next message of that key is published, and the caller learns of the failure.

import { activeSpan } from '../trace/span.ts';
import { formatTraceparent } from '../trace/traceparent.ts';
import { traceparentAttribute } from './trace-attribute.ts';

export type PublishedMessage = {
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey?: string | undefined;
};
export type Publish = (message: PublishedMessage) => Promise<string>;

type Topic = {
  publishMessage(m: {
    data: Buffer;
    attributes: Record<string, string>;
    orderingKey?: string;
  }): Promise<string>;
  resumePublishing(orderingKey: string): void;
};

/** The client's retry settings for `retryForMs` (google-gax BackoffSettings). */
function patientBackoff(retryForMs: number) {
  return {
    initialRetryDelayMillis: 100,
    retryDelayMultiplier: 2,
    maxRetryDelayMillis: 10_000,
    // One attempt gives up after 10 s, so a dead connection costs 10 s, not the whole budget.
    initialRpcTimeoutMillis: 10_000,
    rpcTimeoutMultiplier: 1,
    maxRpcTimeoutMillis: 10_000,
    totalTimeoutMillis: retryForMs,
  };
}

export function pubsubPublisher(
  projectId: string,
  topic: string,
  options: { ordered?: boolean; retryForMs?: number } = {},
): Publish {
  let loaded: Promise<Topic> | undefined;
  return async (message) => {
    loaded ??= import('@google-cloud/pubsub').then(
      ({ PubSub }): Topic =>
        new PubSub({ projectId }).topic(topic, {
          messageOrdering: options.ordered ?? false,
          ...(options.retryForMs
            ? { gaxOpts: { retry: { backoffSettings: patientBackoff(options.retryForMs) } } }
            : {}),
        }),
    );
    const target: Topic = await loaded;
    const { orderingKey, ...rest } = message;
    // Published inside a traced request (a resync's fan-out, a tenant request's outcome): the
    // message carries its trace on, where Google's Pub/Sub clients look (./trace-attribute.ts).
    const span = activeSpan();
    if (span)
      rest.attributes = { ...rest.attributes, [traceparentAttribute]: formatTraceparent(span) };
    const keyed = options.ordered && orderingKey ? { ...rest, orderingKey } : rest;
    try {
      return await target.publishMessage(keyed);
    } catch (error) {
      if (options.ordered && orderingKey) target.resumePublishing(orderingKey);
      throw error;
    }
  };
}
