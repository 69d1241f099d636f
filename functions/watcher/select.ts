// What the watcher publishes of what it reads:
//   - NamespaceSelection: Kubernetes cannot select objects by their namespace's labels, so a
//     target with a `namespaceSelector` watches every namespace and keeps only objects whose
//     namespace matches. The matching names come from a list-watch of Namespaces with that
//     selector; a name it has not reported yet (an object read before its namespace's event) is
//     asked of the API server once, so no object of a new namespace is dropped.
//   - ChangeDigests: a MODIFIED change that alters nothing a consumer reads (status, the
//     resourceVersion, managedFields, kubefn's own record annotations) is not published. This is
//     what keeps kubefn's own bookkeeping writes, and controllers' status updates, from becoming
//     pushes that do no work.
import { createHash } from 'node:crypto';
import { type Cluster, type KubeObject, storeKey, Watcher } from '../../shared/kube/index.ts';
import { recordAnnotations } from '../../shared/labels.ts';
import type { Logger } from '../../shared/log.ts';
import { Backoff } from '../../shared/retry/backoff.ts';
import { sleep } from '../../shared/retry/conflict.ts';

const namespaceRef = { apiVersion: 'v1', kind: 'Namespace' } as const;

export class NamespaceSelection {
  readonly #selected = new Set<string>();
  /** Answers the API server gave for names the watch had not reported; the watch overrides them. */
  readonly #asked = new Map<string, boolean>();
  readonly #cluster: Cluster;
  readonly #selector: string;
  readonly #signal: AbortSignal;

  constructor(cluster: Cluster, selector: string, signal: AbortSignal) {
    this.#cluster = cluster;
    this.#selector = selector;
    this.#signal = signal;
  }

  /** Follows the selected Namespaces until the signal aborts (the list-watch never gives up). */
  async follow(log: Logger): Promise<void> {
    const namespaces = new Watcher(this.#cluster.resource(namespaceRef), {
      labelSelector: this.#selector,
      keepObjects: false,
      signal: this.#signal,
      onRetry: (error, delayMs) =>
        log('WARNING', 'namespace watch interrupted; recovering', {
          selector: this.#selector,
          reason: error.code,
          delayMs: Math.round(delayMs),
        }),
    });
    for await (const event of namespaces) {
      if (event.type === 'BOOKMARK' || event.type === 'SYNCED') continue;
      const name = event.object.metadata?.name ?? '';
      this.#asked.delete(name);
      // A namespace whose labels stop matching leaves a selector's watch as DELETED.
      if (event.type === 'DELETED') this.#selected.delete(name);
      else this.#selected.add(name);
    }
  }

  /**
   * Whether `namespace` matches the selector now. Asking the API server is retried until it
   * answers (a change is never dropped for want of an answer); rejects only once stopped.
   */
  async has(namespace: string): Promise<boolean> {
    if (this.#selected.has(namespace)) return true;
    const known = this.#asked.get(namespace);
    if (known !== undefined) return known;
    const backoff = new Backoff();
    let list: { items: unknown[] } | undefined;
    while (!list) {
      this.#signal.throwIfAborted();
      // The API server evaluates the selector itself: any selector syntax means the same here.
      list = await this.#cluster
        .resource(namespaceRef)
        .list({ labelSelector: this.#selector, fieldSelector: `metadata.name=${namespace}` })
        .catch(() => sleep(backoff.next(), this.#signal).then(() => undefined));
    }
    const matches = list.items.length > 0;
    // Bounded: names asked about are few (system namespaces, tenants not yet reported).
    if (this.#asked.size >= 10_000) this.#asked.clear();
    this.#asked.set(namespace, matches);
    return matches;
  }
}

/** The recorded digest of each object's last published state, per resource. */
export class ChangeDigests {
  readonly #digests = new Map<string, string>();

  /** Whether the change is news: anything but a MODIFIED that alters nothing a consumer reads. */
  isNews(change: { type: string; object: KubeObject }): boolean {
    const key = storeKey(change.object);
    if (change.type === 'DELETED') {
      this.#digests.delete(key);
      return true;
    }
    const digest = digestOf(change.object);
    const before = this.#digests.get(key);
    this.#digests.set(key, digest);
    return change.type !== 'MODIFIED' || before !== digest;
  }
}

/** A digest of what consumers read: the object without status and server or kubefn bookkeeping. */
export function digestOf(object: KubeObject): string {
  const { status: _status, metadata = {}, ...rest } = object as KubeObject & { status?: unknown };
  const {
    resourceVersion: _rv,
    managedFields: _managed,
    generation: _generation,
    annotations = {},
    ...meta
  } = metadata as Record<string, unknown> & { annotations?: Record<string, string> };
  const kept = Object.fromEntries(
    Object.entries(annotations).filter(([key]) => !bookkeeping.has(key)),
  );
  return createHash('sha1')
    .update(JSON.stringify({ ...rest, metadata: { ...meta, annotations: kept } }))
    .digest('base64');
}

const bookkeeping = new Set<string>(Object.values(recordAnnotations));
