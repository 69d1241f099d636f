// How a Kubernetes change becomes a Pub/Sub message: the JSON body carries the event type and the
// object; attributes let subscribers filter without parsing; the ordering key keeps one object's
// changes in order; `eventKey` (uid/resourceVersion/type) lets every consumer drop duplicates.
import type { ChangeType, KubeObject, ResourceInfo } from '../../shared/kube/index.ts';

export type ChangeMessage = {
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey: string;
};

export function toMessage(
  info: ResourceInfo,
  change: { type: ChangeType; object: KubeObject },
  cluster: string,
): ChangeMessage {
  const meta = change.object.metadata ?? {};
  const object = { apiVersion: info.apiVersion, kind: info.kind, ...change.object };
  const uid = meta.uid ?? '';
  const resourceVersion = meta.resourceVersion ?? '';
  const attributes: Record<string, string> = {
    type: change.type,
    group: info.group,
    version: info.version,
    kind: info.kind,
    name: meta.name ?? '',
    uid,
    resourceVersion,
    cluster,
    eventKey: `${uid}/${resourceVersion}/${change.type}`,
  };
  if (meta.namespace) attributes.namespace = meta.namespace;
  return {
    data: Buffer.from(JSON.stringify({ type: change.type, object })),
    attributes,
    orderingKey: `${info.group}/${info.kind}/${meta.namespace ?? ''}/${meta.name ?? ''}`,
  };
}
