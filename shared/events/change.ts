// The change event contract, in one place: what the watcher deployable (functions/watcher)
// publishes for every Kubernetes change, and what every consumer (a function's /pubsub route, the
// tests) reads back. One Pub/Sub message per change:
//   data          JSON {type, object}: the change type and the whole object, with its apiVersion
//                 and kind filled in (watch events omit them)
//   attributes    see `ChangeAttributes`: subscribers filter on them without parsing the body
//   orderingKey   group/kind/namespace/name: one object's changes arrive in order
//   eventKey      (an attribute) uid/resourceVersion/type: the same change published twice (at
//                 least once) has the same key, so every consumer can drop the duplicate
//   ce-*          the same message is a CloudEvent 1.0 in Pub/Sub's binary mode (cloud-event.ts):
//                 ce-id is the eventKey, ce-source the watcher of this cluster, ce-type
//                 dev.kubefn.object.added|modified|deleted, ce-subject the object; the attributes
//                 above are all still there, so a consumer written before them reads the same
import * as v from 'valibot';
import { type ChangeType, changeTypes } from '../kube/index.ts';
import { isManaged } from '../labels.ts';
import { cloudEventAttributes, eventSource } from './cloud-event.ts';

/** The change types, as the list-watch reports them. */
export { type ChangeType, changeTypes };

/** A message's attributes (all strings; `namespace` only for a namespaced object). */
export type ChangeAttributes = {
  type: ChangeType;
  group: string;
  version: string;
  kind: string;
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  /** The cell of the watcher that published it (its KUBEFN_CELL, shared/cells.ts). */
  cluster: string;
  /** uid/resourceVersion/type: the duplicate-detection key. */
  eventKey: string;
  /** "true" when the object carries app.kubernetes.io/managed-by=kubefn (absent otherwise). */
  managed?: 'true';
  /**
   * "true" when the change comes from a list or relist (a diff of current state against what was
   * published), not the watch stream: versions between the previous message and this one were
   * never seen by anyone (compacted, or made while the watcher was away).
   */
  listed?: 'true';
  /** On a MODIFIED, "true" for each part that changed (functions/watcher/select.ts). */
  labelsChanged?: 'true';
  annotationsChanged?: 'true';
  specChanged?: 'true';
} & { [cloudEvent: `ce-${string}`]: string; 'content-type'?: string };

/** The parts of an object a MODIFIED reports changed: its labels, annotations, or the rest. */
export type ChangedPart = 'labels' | 'annotations' | 'spec';

/** A message as handed to Pub/Sub. */
export type ChangeMessage = {
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey: string;
};

/** The resource a change belongs to (shared/kube's ResourceInfo fits). */
export type ChangeResource = { apiVersion: string; group: string; version: string; kind: string };

/** The object a change carries: any Kubernetes object. */
export type ChangedObject = {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
};

export const eventKey = (key: { uid: string; resourceVersion: string; type: ChangeType }) =>
  `${key.uid}/${key.resourceVersion}/${key.type}`;

export const orderingKey = (resource: ChangeResource, object: ChangedObject) =>
  `${resource.group}/${resource.kind}/${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;

/** The message for one change. */
export function changeMessage(
  resource: ChangeResource,
  change: { type: ChangeType; object: ChangedObject; initial?: boolean },
  cluster: string,
  changed: readonly ChangedPart[] = [],
): ChangeMessage {
  const meta = change.object.metadata ?? {};
  const object = { apiVersion: resource.apiVersion, kind: resource.kind, ...change.object };
  const uid = meta.uid ?? '';
  const resourceVersion = meta.resourceVersion ?? '';
  const attributes: ChangeAttributes = {
    type: change.type,
    group: resource.group,
    version: resource.version,
    kind: resource.kind,
    name: meta.name ?? '',
    uid,
    resourceVersion,
    cluster,
    eventKey: eventKey({ uid, resourceVersion, type: change.type }),
  };
  if (meta.namespace) attributes.namespace = meta.namespace;
  if (isManaged(change.object)) attributes.managed = 'true';
  if (change.initial) attributes.listed = 'true';
  for (const part of changed) attributes[`${part}Changed`] = 'true';
  Object.assign(
    attributes,
    cloudEventAttributes({
      id: attributes.eventKey,
      source: eventSource(cluster, 'watcher'),
      type: `dev.kubefn.object.${change.type.toLowerCase()}`,
      subject: orderingKey(resource, change.object),
    }),
  );
  return {
    data: Buffer.from(JSON.stringify({ type: change.type, object })),
    attributes,
    orderingKey: orderingKey(resource, change.object),
  };
}

/** A message's body, as a consumer validates it (unknown fields of the object are dropped). */
export const ChangeSchema = v.object({
  type: v.picklist(changeTypes),
  object: v.object({
    apiVersion: v.optional(v.string()),
    kind: v.optional(v.string()),
    metadata: v.object({
      namespace: v.optional(v.string()),
      name: v.optional(v.string()),
      uid: v.optional(v.string()),
      resourceVersion: v.optional(v.string()),
    }),
  }),
});
export type ChangeBody = v.InferOutput<typeof ChangeSchema>;

/** Reads a message's data (bytes, or base64 as in a push or pull) against the schema. */
export function parseChange(data: Buffer | string): ChangeBody {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'base64') : data;
  return v.parse(ChangeSchema, JSON.parse(bytes.toString('utf8')));
}

/**
 * A message's body with the whole object kept, for consumers that compare it (self-healing, label
 * rules): apiVersion, kind and name required, everything else as sent.
 */
export const ObjectChangeSchema = v.object({
  type: v.picklist(changeTypes),
  object: v.looseObject({
    apiVersion: v.string(),
    kind: v.string(),
    metadata: v.looseObject({
      name: v.string(),
      namespace: v.optional(v.string()),
      labels: v.optional(v.record(v.string(), v.string())),
    }),
  }),
});
export type ObjectChange = v.InferOutput<typeof ObjectChangeSchema>;
