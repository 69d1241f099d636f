// The Pub/Sub emulator's REST API, as the foundation tests use it.
import { type CloudEvent, readCloudEvent } from './cloud-events.ts';
import { stack } from './stack.ts';

const base = `http://${stack.pubsubEmulatorHost}/v1/projects/${stack.pubsubProject}`;

export const topicPath = (topic: string) => `projects/${stack.pubsubProject}/topics/${topic}`;

export async function pubsub(method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

type Pulled = { message: { data: string; attributes: Record<string, string> }; ackId: string };

/**
 * Pulls (and acknowledges) the events on `subscription` until `expected` have come (a count, or
 * a check of the events so far), or `timeoutMs` has passed; with `drain`, then on until three
 * pulls in a row find nothing (what was published before is out). Each is read by the SDK, which
 * throws unless it is a valid CloudEvent.
 */
export async function pullCloudEvents(
  subscription: string,
  expected: number | ((events: CloudEvent<unknown>[]) => boolean),
  drain = false,
  timeoutMs = 30_000,
): Promise<CloudEvent<unknown>[]> {
  const events: CloudEvent<unknown>[] = [];
  const enough = () =>
    typeof expected === 'number' ? events.length >= expected : expected(events);
  const deadline = Date.now() + timeoutMs;
  let empty = 0;
  while ((!enough() || (drain && empty < 3)) && Date.now() < deadline) {
    const pulled = await pubsub('POST', `subscriptions/${subscription}:pull`, {
      maxMessages: 1000,
      // The emulator otherwise holds an empty pull open for seconds.
      returnImmediately: true,
    });
    const received = (pulled.body.receivedMessages ?? []) as Pulled[];
    for (const { message } of received)
      events.push(readCloudEvent(message.attributes, Buffer.from(message.data, 'base64')));
    if (received.length)
      await pubsub('POST', `subscriptions/${subscription}:acknowledge`, {
        ackIds: received.map((r) => r.ackId),
      });
    else await new Promise((resolve) => setTimeout(resolve, 200));
    empty = received.length ? 0 : empty + 1;
  }
  return events;
}
