// CloudEvents 1.0 over Pub/Sub in binary content mode, as Eventarc delivers them: the event's
// attributes are message attributes prefixed `ce-`, `datacontenttype` is the `content-type`
// attribute, and the message data is the event's data as it is (here JSON). A consumer that
// knows nothing of CloudEvents still reads the same data and its own attributes beside them.
// Spec: cloudevents/spec, cloudevents/bindings/pubsub (Google's binding, binary mode).

/** The context attributes kubefn sets; `id` with `source` identifies the event (dedup key). */
export type CloudEventContext = {
  id: string;
  /** A URI-reference naming what produced it, e.g. //kubefn.dev/clusters/NAME/watcher. */
  source: string;
  /** Reverse-DNS, e.g. dev.kubefn.object.modified. */
  type: string;
  subject?: string | undefined;
  /** RFC 3339. */
  time?: string | undefined;
  /** Extension attributes: lowercase letters and digits, at most 20 characters each. */
  extensions?: Record<string, string> | undefined;
};

export const specVersion = '1.0';

/** The message attributes that carry `context` for JSON data, binary mode. */
export function cloudEventAttributes(context: CloudEventContext): Record<string, string> {
  const attributes: Record<string, string> = {
    'ce-specversion': specVersion,
    'ce-id': context.id,
    'ce-source': context.source,
    'ce-type': context.type,
    'content-type': 'application/json',
  };
  if (context.subject !== undefined) attributes['ce-subject'] = context.subject;
  if (context.time !== undefined) attributes['ce-time'] = context.time;
  for (const [name, value] of Object.entries(context.extensions ?? {})) {
    if (!/^[a-z0-9]{1,20}$/.test(name))
      throw new Error(`not a CloudEvents extension name: ${name}`);
    attributes[`ce-${name}`] = value;
  }
  return attributes;
}

/** Where the events of a deployable in a cluster come from (ce-source). */
export const eventSource = (cluster: string, deployable: string) =>
  `//kubefn.dev/clusters/${encodeURIComponent(cluster)}/${deployable}`;
