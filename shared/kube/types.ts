// The few shapes every Kubernetes object and list share. No generated models: objects stay the
// JSON the server sent, so no field is ever dropped.

export type ObjectMeta = {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  /** Who wrote which fields, and when (RFC 3339, second resolution). */
  managedFields?: { manager?: string; operation?: string; subresource?: string; time?: string }[];
  [field: string]: unknown;
};

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
};

export type KubeList<T extends KubeObject = KubeObject> = {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
};

/** Addresses a resource by apiVersion and kind (`{apiVersion: 'apps/v1', kind: 'Deployment'}`) or plural. */
export type ResourceRef =
  | { apiVersion: string; kind: string }
  | { apiVersion: string; plural: string };

/** What discovery knows about a resource. */
export type ResourceInfo = {
  group: string;
  version: string;
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
};
