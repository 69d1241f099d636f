// What the watcher publishes of what it reads:
//   - NamespaceSelection: Kubernetes cannot select objects by their namespace's labels, so a
//     target with a `namespaceSelector` watches every namespace and keeps only objects whose
//     namespace matches. The matching names come from a list-watch of Namespaces with that
//     selector; a name it has not reported yet (an object read before its namespace's event) is
//     asked of the API server once, so no object of a new namespace is dropped.
//   - ChangeDigests: a MODIFIED change that alters nothing a consumer reads (status, the
//     resourceVersion, managedFields, kubefn's own record annotations) is not published, and one
//     that does says which part changed (labels, annotations, the rest), so a subscription can
//     take only what its consumer acts on. This keeps kubefn's own bookkeeping writes, controllers'
//     status updates and label-only changes from becoming pushes that do no work.
import { createHash } from 'node:crypto';
import type { ChangedPart } from '../../shared/events/change.ts';
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

const parts: ChangedPart[] = ['labels', 'annotations', 'spec'];
/** Characters of each part's digest: 64 bits, base64url; a collision (2^-64) hides one change. */
const partLength = 11;

/** The digests of each object's last published state, per resource. */
export class ChangeDigests {
  /** One short string an object (its parts' digests end to end): kept for every object watched. */
  readonly #digests = new Map<string, string>();

  /**
   * Undefined when the change is no news (a MODIFIED that alters nothing a consumer reads);
   * otherwise the parts a MODIFIED changed (all of them when the earlier state is unknown, as
   * after a restart), and none for ADDED and DELETED.
   */
  changes(change: { type: string; object: KubeObject }): ChangedPart[] | undefined {
    const key = storeKey(change.object);
    if (change.type === 'DELETED') {
      this.#digests.delete(key);
      return [];
    }
    const digest = digestOf(change.object);
    const before = this.#digests.get(key);
    this.#digests.set(key, digest);
    if (change.type !== 'MODIFIED') return [];
    const changed = parts.filter((_, i) => {
      const at = i * partLength;
      return before?.slice(at, at + partLength) !== digest.slice(at, at + partLength);
    });
    return changed.length ? changed : undefined;
  }
}

/** Digests of what consumers read (no status, no server or kubefn bookkeeping), in `parts` order. */
export function digestOf(object: KubeObject): string {
  const { status: _status, metadata = {}, ...rest } = object as KubeObject & { status?: unknown };
  const {
    resourceVersion: _rv,
    managedFields: _managed,
    generation: _generation,
    labels = {},
    annotations = {},
    ...meta
  } = metadata as Record<string, unknown> & {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  const kept = Object.fromEntries(
    Object.entries(annotations).filter(([key]) => !bookkeeping.has(key)),
  );
  const hash = (value: unknown) =>
    createHash('sha1').update(JSON.stringify(value)).digest().subarray(0, 8).toString('base64url');
  // join: one string, where + would keep a rope of three (kept for every object watched).
  return [hash(labels), hash(kept), hash({ ...rest, meta })].join('');
}

const bookkeeping = new Set<string>(Object.values(recordAnnotations));
