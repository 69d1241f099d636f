// Publishes change messages with @google-cloud/pubsub, retrying until Pub/Sub acknowledges: the
// relay advances its resume point only after that, so nothing is dropped while Pub/Sub is slow
// or down (the relay's bounded window holds the watch back meanwhile).
import { PubSub, type Topic } from '@google-cloud/pubsub';
import type { ChangeMessage } from '../../shared/events/change.ts';
import type { Logger } from '../../shared/log.ts';
import { traceparentAttribute } from '../../shared/pubsub/trace-attribute.ts';
import { Backoff } from '../../shared/retry/backoff.ts';
import { inSpan } from '../../shared/trace/span.ts';
import { formatTraceparent } from '../../shared/trace/traceparent.ts';

export type Publish = (message: ChangeMessage, signal?: AbortSignal) => Promise<string>;

export function createPublisher(options: {
  projectId: string;
  topic: string;
  log: Logger;
  /** Off only to measure what ordering costs (bench relay): consumers rely on it. */
  ordering?: boolean;
}): {
  publish: Publish;
  close(): Promise<void>;
} {
  const ordered = options.ordering ?? true;
  const pubsub = new PubSub({ projectId: options.projectId });
  const topic: Topic = pubsub.topic(options.topic, {
    messageOrdering: ordered,
    // Small batches, sent quickly: changes are small and latency matters more than throughput;
    // the relay's window (not the client's flow control) bounds what is in flight.
    batching: { maxMessages: 100, maxMilliseconds: 10, maxBytes: 1024 * 1024 },
  });
  const backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  // Each change starts a trace, its span lasting until Pub/Sub acknowledges; the consumers'
  // spans continue it (shared/pubsub/push.ts), recorded when the watcher's is (sampled flag).
  const publish: Publish = (change, signal) =>
    inSpan(
      `${change.attributes.type} ${change.attributes.kind}`,
      {
        kind: 'producer',
        parent: null,
        attributes: {
          'messaging.system': 'gcp_pubsub',
          'messaging.destination.name': options.topic,
          'k8s.namespace.name': change.attributes.namespace,
          'kubefn.object': change.attributes.name,
          'kubefn.event_key': change.attributes.eventKey,
        },
      },
      async (span) => {
        const attributes = {
          ...change.attributes,
          [traceparentAttribute]: formatTraceparent(span.context),
        };
        return publishOnce({ ...change, attributes }, signal);
      },
    );
  const publishOnce: Publish = async (message, signal) => {
    for (;;) {
      try {
        // The client orders whatever carries a key, whatever messageOrdering says.
        return await topic.publishMessage(
          ordered ? message : { data: message.data, attributes: message.attributes },
        );
      } catch (error) {
        if (signal?.aborted) throw error;
        // An ordering key stops after a failure until it is resumed.
        if (message.orderingKey) topic.resumePublishing(message.orderingKey);
        const delay = backoff.next();
        options.log('WARNING', 'publish failed; retrying', {
          reason: (error as { code?: number | string }).code ?? 'unknown',
          orderingKey: message.orderingKey,
          delayMs: Math.round(delay),
        });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
  return {
    publish,
    close: async () => {
      await topic.flush();
      await pubsub.close();
    },
  };
}
