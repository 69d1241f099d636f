// The relay's resume record: per watched resource, the acknowledged resourceVersion and the
// uid/resourceVersion of every object as last delivered. Kept in a ConfigMap so it survives the
// relay's restarts; after one, the watch resumes from it, or relists and diffs against it, so
// changes made while the relay was down (deletions included) are still delivered.
// A ConfigMap holds at most 1 MiB: about 12,000 objects at ~80 bytes each.
//
// This module owns that state: a ResourceCheckpoint moves only through `acknowledge` (the relay
// calls it for each change Pub/Sub acknowledged, in watch order); Checkpoints holds one per
// resource and saves them every second while they move, and once more on stop.
import {
  type Cluster,
  type StoreEntry,
  storeKey,
  type WatcherEvent,
} from '../../shared/kube/index.ts';
import type { Logger } from '../../shared/log.ts';

type Stored = { rv?: string; objects: Record<string, string> };

/** One resource's resume point. */
export class ResourceCheckpoint {
  #resourceVersion: string | undefined;
  readonly #objects: Map<string, StoreEntry>;

  constructor(resourceVersion?: string, objects: Iterable<[string, StoreEntry]> = []) {
    this.#resourceVersion = resourceVersion;
    this.#objects = new Map(
      [...objects].map(([k, v]) => [k, { uid: v.uid, resourceVersion: v.resourceVersion }]),
    );
  }

  /** The acknowledged resume point; undefined: start with a fresh list. */
  get resourceVersion(): string | undefined {
    return this.#resourceVersion;
  }

  get size(): number {
    return this.#objects.size;
  }

  /** A copy of the objects as delivered (for a list-watch to diff a relist against). */
  objects(): Map<string, StoreEntry> {
    return new Map([...this.#objects].map(([k, v]) => [k, { ...v }]));
  }

  /** Moves over one event whose change Pub/Sub acknowledged (events in watch order). */
  acknowledge(event: WatcherEvent): void {
    if (event.type === 'SYNCED' || event.type === 'BOOKMARK') {
      this.#resourceVersion = event.resourceVersion;
      return;
    }
    const key = storeKey(event.object);
    if (event.type === 'DELETED') this.#objects.delete(key);
    else this.#objects.set(key, { uid: event.key.uid, resourceVersion: event.key.resourceVersion });
    // A list's objects carry their own, unordered versions: only the watch stream's are a resume
    // point (the list's own comes with SYNCED).
    if (!event.initial) this.#resourceVersion = event.key.resourceVersion;
  }

  /** What changes when it moves: the saver skips a save that would write the same. */
  fingerprint(): string {
    return `${this.#resourceVersion ?? ''} ${this.#objects.size}`;
  }

  toStored(): Stored {
    const objects: Record<string, string> = {};
    for (const [key, entry] of this.#objects)
      objects[key] = `${entry.uid} ${entry.resourceVersion}`;
    return { objects, ...(this.#resourceVersion ? { rv: this.#resourceVersion } : {}) };
  }

  static fromStored(stored: Stored): ResourceCheckpoint {
    const objects: [string, StoreEntry][] = Object.entries(stored.objects).map(([key, value]) => {
      const [uid = '', resourceVersion = ''] = value.split(' ');
      return [key, { uid, resourceVersion }];
    });
    return new ResourceCheckpoint(stored.rv, objects);
  }
}

/** The ConfigMap the checkpoints live in. */
export class CheckpointStore {
  readonly #cluster: Cluster;
  readonly #namespace: string;
  readonly #name: string;

  constructor(cluster: Cluster, namespace: string, name: string) {
    this.#cluster = cluster;
    this.#namespace = namespace;
    this.#name = name;
  }

  async load(): Promise<Map<string, ResourceCheckpoint>> {
    const configMap = await this.#configMaps().find(this.#name, { namespace: this.#namespace });
    const checkpoints = new Map<string, ResourceCheckpoint>();
    for (const [resource, json] of Object.entries(
      (configMap?.data ?? {}) as Record<string, string>,
    ))
      checkpoints.set(resource, ResourceCheckpoint.fromStored(JSON.parse(json) as Stored));
    return checkpoints;
  }

  async save(checkpoints: ReadonlyMap<string, ResourceCheckpoint>): Promise<void> {
    const data: Record<string, string> = {};
    for (const [resource, checkpoint] of checkpoints)
      data[resource] = JSON.stringify(checkpoint.toStored());
    await this.#configMaps().apply(
      { metadata: { name: this.#name, namespace: this.#namespace }, data },
      { fieldManager: 'kubefn-watcher', force: true },
    );
  }

  #configMaps() {
    return this.#cluster.resource({ apiVersion: 'v1', kind: 'ConfigMap' });
  }
}

/** When the checkpoints were last saved, and the last error since (shown on /status). */
export type CheckpointStatus = { savedAt?: string; error?: string };

type Persistence = Pick<CheckpointStore, 'load' | 'save'>;

/** Every resource's checkpoint, loaded once, saved every `intervalMs` while they move. */
export class Checkpoints {
  readonly #store: Persistence;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #checkpoints = new Map<string, ResourceCheckpoint>();
  #status: CheckpointStatus = {};
  #saved = '';
  #saver: NodeJS.Timeout | undefined;
  #saving: Promise<void> | undefined;

  constructor(store: Persistence, options: { log: Logger; intervalMs?: number }) {
    this.#store = store;
    this.#log = options.log;
    this.#intervalMs = options.intervalMs ?? 1000;
  }

  async load(): Promise<void> {
    this.#checkpoints = await this.#store.load();
  }

  /** The resource's checkpoint (a fresh one if none was saved). */
  for(resource: string): ResourceCheckpoint {
    let checkpoint = this.#checkpoints.get(resource);
    if (!checkpoint) {
      checkpoint = new ResourceCheckpoint();
      this.#checkpoints.set(resource, checkpoint);
    }
    return checkpoint;
  }

  status(): CheckpointStatus {
    return { ...this.#status };
  }

  /** Starts the save loop. */
  start(): void {
    this.#saver ??= setInterval(() => void this.save(), this.#intervalMs);
  }

  /** Stops the save loop and saves once more. */
  async stop(): Promise<void> {
    clearInterval(this.#saver);
    this.#saver = undefined;
    await this.save();
  }

  /** Saves if anything moved since the last save; never rejects (the error goes to status). */
  async save(): Promise<void> {
    // One save at a time: a slow one is not overtaken by the next tick's.
    while (this.#saving) await this.#saving;
    const now = this.#fingerprint();
    if (now === this.#saved) return;
    this.#saving = this.#store.save(this.#checkpoints).then(
      () => {
        this.#saved = now;
        this.#status = { savedAt: new Date().toISOString() };
      },
      (error: Error) => {
        this.#status = { ...this.#status, error: error.message };
        this.#log('ERROR', 'checkpoint not saved', { detail: error.message });
      },
    );
    await this.#saving;
    this.#saving = undefined;
  }

  #fingerprint(): string {
    return JSON.stringify([...this.#checkpoints].map(([k, c]) => [k, c.fingerprint()]));
  }
}
