// Reads a Pub/Sub message kubefn published as a CloudEvent with the `cloudevents` SDK (npm), as a
// consumer would. Pub/Sub's binary mode maps `ce-*` attributes and `content-type` one for one to
// the HTTP binding's headers, so the SDK's HTTP.toEvent reads them; validate() then checks the
// event against the spec's schema (toEvent alone accepts a missing source, and makes up a time).
import { type CloudEvent, HTTP } from 'cloudevents';

export type { CloudEvent };

export function readCloudEvent(
  attributes: Record<string, string>,
  data: Buffer | string,
): CloudEvent<unknown> {
  const headers = Object.fromEntries(
    Object.entries(attributes).filter(([k]) => k.startsWith('ce-') || k === 'content-type'),
  );
  const read = HTTP.toEvent({ headers, body: data.toString() });
  if (Array.isArray(read)) throw new Error('a batch, not one event');
  // toEvent builds a CloudEvent; its declared type is the plain interface.
  const event = read as CloudEvent<unknown>;
  event.validate();
  return event;
}
