// The pleasant layer over the client: a cluster entry point, collections that are
// async iterable and filterable by labels, and items that are read-only snapshots. Changing an
// item's labels sends a patch guarded by the item's resourceVersion, so a stale item fails
// loudly (KubeError 'conflict') instead of overwriting someone else's change.
import { type ClientOptions, KubeClient, type RawResponse, type RequestOptions } from './client.ts';
import { type ClusterConfig, type KubeconfigOptions, loadConfig } from './config.ts';
import { Discovery } from './discovery.ts';
import { type DeleteOptions, type ListOptions, Resource } from './resources.ts';
import type { KubeObject, ResourceRef } from './types.ts';
import { Watcher, type WatcherOptions } from './watcher.ts';

export class Cluster {
  readonly client: KubeClient;
  readonly discovery: Discovery;

  constructor(config: ClusterConfig, options: ClientOptions = {}) {
    this.client = new KubeClient(config, options);
    this.discovery = new Discovery(this.client);
  }

  /** From the kubeconfig, or from the pod's service account when running in a cluster. */
  static async connect(options: KubeconfigOptions & ClientOptions = {}): Promise<Cluster> {
    return new Cluster(await loadConfig(options), options);
  }

  /** Verbs on any kind: `cluster.resource({apiVersion: 'v1', kind: 'ConfigMap'})`. */
  resource<T extends KubeObject = KubeObject>(ref: ResourceRef): Resource<T> {
    return new Resource<T>(this.client, this.discovery, ref);
  }

  /** A collection of items of one kind, optionally in one namespace. */
  collection<T extends KubeObject = KubeObject>(
    ref: ResourceRef,
    namespace?: string,
  ): Collection<T> {
    return new Collection<T>(this.resource<T>(ref), namespace === undefined ? {} : { namespace });
  }

  get namespaces(): Collection {
    return this.collection({ apiVersion: 'v1', kind: 'Namespace' });
  }

  /** The escape hatch: any path, with the configured credentials; any status comes back. */
  raw(path: string, options?: RequestOptions): Promise<RawResponse> {
    return this.client.raw(path, options);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export class Collection<T extends KubeObject = KubeObject> implements AsyncIterable<Item<T>> {
  readonly resource: Resource<T>;
  readonly #filter: ListOptions;

  constructor(resource: Resource<T>, filter: ListOptions) {
    this.resource = resource;
    this.#filter = filter;
  }

  /** Narrows by labels: `{app: 'web'}` means app=web; `{app: null}` means the label is absent. */
  filter(labels: Record<string, string | null>): Collection<T> {
    const selector = Object.entries(labels).map(([key, value]) =>
      value === null ? `!${key}` : `${key}=${value}`,
    );
    const combined = [this.#filter.labelSelector, ...selector].filter(Boolean).join(',');
    return new Collection(this.resource, { ...this.#filter, labelSelector: combined });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Item<T>> {
    for await (const object of this.resource.items(this.#filter))
      yield new Item(this.resource, object);
  }

  async get(name: string): Promise<Item<T>> {
    return new Item(this.resource, await this.resource.get(name, this.#scope()));
  }

  async create(object: T): Promise<Item<T>> {
    const namespaced = { ...object, metadata: { ...this.#scope(), ...object.metadata } };
    return new Item(this.resource, await this.resource.create(namespaced));
  }

  async delete(name: string, options: DeleteOptions = {}): Promise<void> {
    await this.resource.delete(name, { ...this.#scope(), ...options });
  }

  /** A list-watch of this collection (see Watcher). */
  watch(options: WatcherOptions = {}): Watcher<T> {
    const scope = { ...this.#scope(), ...options };
    if (this.#filter.labelSelector) scope.labelSelector = this.#filter.labelSelector;
    return new Watcher(this.resource, scope);
  }

  #scope(): { namespace?: string } {
    return this.#filter.namespace === undefined ? {} : { namespace: this.#filter.namespace };
  }
}

/** A read-only snapshot of one object. Changes return a new Item at the new version. */
export class Item<T extends KubeObject = KubeObject> {
  readonly object: Readonly<T>;
  readonly #resource: Resource<T>;

  constructor(resource: Resource<T>, object: T) {
    this.#resource = resource;
    this.object = deepFreeze(object);
  }

  get name(): string {
    return this.object.metadata?.name ?? '';
  }
  get namespace(): string | undefined {
    return this.object.metadata?.namespace;
  }
  get uid(): string {
    return this.object.metadata?.uid ?? '';
  }
  get resourceVersion(): string {
    return this.object.metadata?.resourceVersion ?? '';
  }
  get labels(): Readonly<Record<string, string>> {
    return this.object.metadata?.labels ?? {};
  }

  setLabel(key: string, value: string): Promise<Item<T>> {
    return this.#patchLabels({ [key]: value });
  }

  /** Sets several labels in one guarded patch; `null` removes a label. */
  setLabels(labels: Record<string, string | null>): Promise<Item<T>> {
    return this.#patchLabels(labels);
  }

  deleteLabel(key: string): Promise<Item<T>> {
    return this.#patchLabels({ [key]: null });
  }

  /** Deletes this object only if it is still this version. */
  async delete(): Promise<void> {
    await this.#resource.delete(this.name, {
      ...(this.namespace ? { namespace: this.namespace } : {}),
      preconditions: { uid: this.uid, resourceVersion: this.resourceVersion },
    });
  }

  async #patchLabels(labels: Record<string, string | null>): Promise<Item<T>> {
    // A merge patch carrying metadata.resourceVersion is applied only if the object is still at
    // that version; otherwise the server answers 409 Conflict.
    const patch = { metadata: { resourceVersion: this.resourceVersion, labels } };
    const updated = await this.#resource.patch(this.name, patch, {
      type: 'merge',
      ...(this.namespace ? { namespace: this.namespace } : {}),
    });
    return new Item(this.#resource, updated);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
