// Verbs on one kind of resource, any kind: core or custom, namespaced or cluster-scoped.
import type { KubeClient, Query } from './client.ts';
import { collectionPath, type Discovery } from './discovery.ts';
import { KubeError } from './errors.ts';
import type { KubeList, KubeObject, ResourceInfo, ResourceRef } from './types.ts';
import { readWatchEvents, type WatchEvent } from './watch-stream.ts';

export type CallOptions = { signal?: AbortSignal | undefined; timeoutMs?: number | undefined };
export type Scope = { namespace?: string | undefined };

export type ListOptions = CallOptions &
  Scope & {
    labelSelector?: string | undefined;
    fieldSelector?: string | undefined;
    /** Page size; without it the server answers in one piece. */
    limit?: number | undefined;
    continue?: string | undefined;
    resourceVersion?: string | undefined;
  };

export type WriteOptions = CallOptions & {
  dryRun?: boolean | undefined;
  fieldManager?: string | undefined;
};

export type DeleteOptions = CallOptions &
  Scope & {
    dryRun?: boolean | undefined;
    propagationPolicy?: 'Foreground' | 'Background' | 'Orphan' | undefined;
    gracePeriodSeconds?: number | undefined;
    /** The delete happens only if the object still has this uid and/or resourceVersion. */
    preconditions?: { uid?: string; resourceVersion?: string } | undefined;
  };

export type PatchType = 'merge' | 'json' | 'strategic';
const patchContentType: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export type PatchOptions = WriteOptions & Scope & { type?: PatchType | undefined };
export type ApplyOptions = CallOptions & {
  fieldManager: string;
  force?: boolean | undefined;
  dryRun?: boolean | undefined;
};

export type WatchOptions = CallOptions &
  Scope & {
    labelSelector?: string | undefined;
    fieldSelector?: string | undefined;
    resourceVersion?: string | undefined;
    allowWatchBookmarks?: boolean | undefined;
    /** Server-side timeout; the server ends the stream cleanly after it. */
    timeoutSeconds?: number | undefined;
    /** Stream the current state as ADDED events first, ended by a bookmark (WatchList). */
    sendInitialEvents?: boolean | undefined;
    /** A silent connection is dropped after this long (ms); default 2 minutes. */
    inactivityMs?: number | undefined;
  };

export class Resource<T extends KubeObject = KubeObject> {
  readonly #client: KubeClient;
  readonly #discovery: Discovery;
  readonly #ref: ResourceRef;
  #info: Promise<ResourceInfo> | undefined;

  constructor(client: KubeClient, discovery: Discovery, ref: ResourceRef) {
    this.#client = client;
    this.#discovery = discovery;
    this.#ref = ref;
  }

  /** What discovery says about this resource (plural, scope). */
  info(): Promise<ResourceInfo> {
    this.#info ??= this.#discovery.resolve(this.#ref);
    this.#info.catch(() => {
      this.#info = undefined;
    });
    return this.#info;
  }

  async path(namespace?: string, name?: string): Promise<string> {
    const info = await this.info();
    if (info.namespaced && name !== undefined && !namespace) {
      throw new KubeError('bad-request', `${info.kind} ${name} is namespaced: give its namespace`);
    }
    const collection = collectionPath(info, namespace);
    return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
  }

  async get(name: string, options: CallOptions & Scope = {}): Promise<T> {
    return this.#client.request<T>(await this.path(options.namespace, name), call(options));
  }

  /** The object, or undefined when it does not exist; every other failure is thrown. */
  async find(name: string, options: CallOptions & Scope = {}): Promise<T | undefined> {
    try {
      return await this.get(name, options);
    } catch (error) {
      if (error instanceof KubeError && error.code === 'not-found') return undefined;
      throw error;
    }
  }

  /** One list request (one page when `limit` is set). */
  async list(options: ListOptions = {}): Promise<KubeList<T>> {
    return this.#client.request<KubeList<T>>(await this.path(options.namespace), {
      ...call(options),
      query: {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        continue: options.continue,
        resourceVersion: options.resourceVersion,
      },
    });
  }

  /** Pages of `limit` items (default 500), each fetched only when the previous one is consumed. */
  async *pages(options: ListOptions = {}): AsyncGenerator<KubeList<T>> {
    let token = options.continue;
    do {
      const page = await this.list({ ...options, limit: options.limit ?? 500, continue: token });
      yield page;
      token = page.metadata.continue || undefined;
    } while (token);
  }

  /** Every item, page by page. */
  async *items(options: ListOptions = {}): AsyncGenerator<T> {
    for await (const page of this.pages(options)) yield* page.items;
  }

  async create(object: T, options: WriteOptions = {}): Promise<T> {
    return this.#client.request<T>(await this.path(object.metadata?.namespace), {
      ...call(options),
      method: 'POST',
      body: await this.#typed(object),
      query: writeQuery(options),
    });
  }

  /** PUT: the object's metadata.resourceVersion, if set, guards against lost updates (409). */
  async replace(object: T, options: WriteOptions = {}): Promise<T> {
    const name = requireName(object);
    return this.#client.request<T>(await this.path(object.metadata?.namespace, name), {
      ...call(options),
      method: 'PUT',
      body: await this.#typed(object),
      query: writeQuery(options),
    });
  }

  /** Answers the object as it is while being deleted (finalizers pending) or a Status. */
  async delete(name: string, options: DeleteOptions = {}): Promise<T | KubeObject> {
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
    if (options.propagationPolicy) body.propagationPolicy = options.propagationPolicy;
    if (options.gracePeriodSeconds !== undefined)
      body.gracePeriodSeconds = options.gracePeriodSeconds;
    if (options.preconditions) body.preconditions = options.preconditions;
    if (options.dryRun) body.dryRun = ['All'];
    return this.#client.request(await this.path(options.namespace, name), {
      ...call(options),
      method: 'DELETE',
      body,
      // A delete with preconditions is still safe to repeat: it cannot remove a newer object.
      idempotent: true,
    });
  }

  async patch(name: string, patch: unknown, options: PatchOptions = {}): Promise<T> {
    const type = options.type ?? 'merge';
    return this.#client.request<T>(await this.path(options.namespace, name), {
      ...call(options),
      method: 'PATCH',
      body: patch,
      contentType: patchContentType[type],
      query: writeQuery(options),
      // A JSON patch's ops may not repeat cleanly; a merge patch sets values and may.
      idempotent: type !== 'json',
    });
  }

  /** Server-side apply: declares the fields `fieldManager` owns; repeating it is harmless. */
  async apply(object: T, options: ApplyOptions): Promise<T> {
    const name = requireName(object);
    return this.#client.request<T>(await this.path(object.metadata?.namespace, name), {
      ...call(options),
      method: 'PATCH',
      body: await this.#typed(object),
      contentType: 'application/apply-patch+yaml', // JSON is valid YAML
      query: { fieldManager: options.fieldManager, force: options.force, ...dryRun(options) },
      idempotent: true,
    });
  }

  /** Custom resources (and apply) need apiVersion and kind in the body; fill them in. */
  async #typed(object: T): Promise<T> {
    if (object.apiVersion && object.kind) return object;
    const info = await this.info();
    return { apiVersion: info.apiVersion, kind: info.kind, ...object };
  }

  /** One watch connection: events until the server ends it, an error, or the caller aborts. */
  async *watch(options: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const path = await this.path(options.namespace);
    const query: Query = {
      watch: true,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      resourceVersion: options.resourceVersion,
      allowWatchBookmarks: options.allowWatchBookmarks ?? true,
      timeoutSeconds: options.timeoutSeconds,
    };
    if (options.sendInitialEvents) {
      query.sendInitialEvents = true;
      query.resourceVersionMatch = 'NotOlderThan';
      query.resourceVersion ??= '';
    }
    const body = await this.#client.stream(path, { ...call(options), query });
    yield* readWatchEvents<T>(body, path, options.inactivityMs ?? 120_000);
  }
}

function call(options: CallOptions): CallOptions {
  return { signal: options.signal, timeoutMs: options.timeoutMs };
}

function dryRun(options: { dryRun?: boolean | undefined }): Query {
  return options.dryRun ? { dryRun: 'All' } : {};
}

function writeQuery(options: WriteOptions): Query {
  return { fieldManager: options.fieldManager, ...dryRun(options) };
}

function requireName(object: KubeObject): string {
  const name = object.metadata?.name;
  if (!name) throw new KubeError('bad-request', 'the object has no metadata.name');
  return name;
}
