// The relay's resume record: per watched resource, the acknowledged resourceVersion and the
// uid/resourceVersion of every object as last delivered. Kept in a ConfigMap so it survives the
// relay's restarts; after one, the watch resumes from it, or relists and diffs against it, so
// changes made while the relay was down (deletions included) are still delivered.
// Kept gzipped, over up to 8 ConfigMaps (CheckpointStore): some 220,000 objects.
//
// This module owns that state: a ResourceCheckpoint moves only through `acknowledge` (the relay
// calls it for each change Pub/Sub acknowledged, in watch order); Checkpoints holds one per
// resource and saves them every second while they move, and once more on stop.
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  type ChangeType,
  type Cluster,
  type EventKey,
  type KubeObject,
  type StoreEntry,
  storeKey,
  type WatcherEvent,
} from '../../shared/kube/index.ts';
import type { Logger } from '../../shared/log.ts';

export type Stored = { rv?: string; objects: Record<string, string> };

/**
 * What acknowledging a change needs of it: not the object, only its store key (the relay keeps
 * this, not the event, while the change awaits acknowledgement).
 */
export type Delivered =
  | { type: 'SYNCED' | 'BOOKMARK'; resourceVersion: string }
  | { type: ChangeType; storeKey: string; key: EventKey; initial: boolean };

export function delivered(event: WatcherEvent): Delivered {
  if (!('key' in event)) return event;
  const { type, key, initial } = event;
  return { type, storeKey: storeKey(event.object), key, initial };
}

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
  acknowledge(event: WatcherEvent | Delivered): void {
    if (!('key' in event)) {
      this.#resourceVersion = event.resourceVersion;
      return;
    }
    const key = 'storeKey' in event ? event.storeKey : storeKey(event.object);
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

/** At most this many ConfigMaps hold one watcher's checkpoints (its RBAC names each). */
export const maxCheckpointShards = 8;
/** Compressed bytes per ConfigMap: under its 1 MiB limit with room for the object itself. */
const shardBytes = 768 * 1024;

/** The ConfigMaps a watcher named `name` keeps its checkpoints in: NAME-state, NAME-state-1, ... */
export function checkpointNames(name: string): string[] {
  return Array.from({ length: maxCheckpointShards }, (_, i) => `${name}-state${i ? `-${i}` : ''}`);
}

/**
 * The ConfigMaps the checkpoints live in. Each resource's checkpoint is gzipped JSON under
 * `binaryData` (uids are most of it: about 27 bytes an object instead of 80), packed into
 * NAME-state and, when that is full, NAME-state-1 ... (NAME-state records how many): about
 * 220,000 objects in all, some 20,000 tenants with the default targets.
 */
export class CheckpointStore {
  readonly #cluster: Cluster;
  readonly #namespace: string;
  readonly #names: string[];
  /** Shards written by the last save (a save that needs fewer empties the rest). */
  #written = 1;
  readonly #packed = new Map<string, { fingerprint: string; packed: Buffer }>();

  constructor(cluster: Cluster, namespace: string, name: string) {
    this.#cluster = cluster;
    this.#namespace = namespace;
    // `name` is the first ConfigMap's: NAME-state.
    this.#names = checkpointNames(name.replace(/-state$/, ''));
  }

  async load(): Promise<Map<string, ResourceCheckpoint>> {
    const configMaps = this.#configMaps();
    const first = await configMaps.find(this.#names[0] ?? '', { namespace: this.#namespace });
    const shards = Number((first?.data as Record<string, string> | undefined)?.shards ?? 1);
    this.#written = shards;
    const rest = await Promise.all(
      this.#names
        .slice(1, shards)
        .map((name) => configMaps.find(name, { namespace: this.#namespace })),
    );
    const checkpoints = new Map<string, ResourceCheckpoint>();
    for (const configMap of [first, ...rest])
      for (const [resource, stored] of storedIn(configMap))
        checkpoints.set(resource, ResourceCheckpoint.fromStored(stored));
    return checkpoints;
  }

  async save(checkpoints: ReadonlyMap<string, ResourceCheckpoint>): Promise<void> {
    const shards: Record<string, string>[] = [{}];
    let used = 0;
    for (const [resource, checkpoint] of checkpoints) {
      const packed = this.#pack(resource, checkpoint);
      if (used + packed.length > shardBytes && used > 0) {
        shards.push({});
        used = 0;
      }
      used += packed.length;
      (shards.at(-1) as Record<string, string>)[`${resource}.json.gz`] = packed.toString('base64');
    }
    if (shards.length > this.#names.length)
      throw new Error(
        `the checkpoint needs ${shards.length} ConfigMaps, more than the ${this.#names.length} its RBAC names`,
      );
    // The later shards first: NAME-state, which says how many there are, is written last.
    const writes = Math.max(shards.length, this.#written);
    for (let i = writes - 1; i >= 0; i--)
      await this.#configMaps().apply(
        {
          metadata: { name: this.#names[i] ?? '', namespace: this.#namespace },
          ...(i === 0 ? { data: { shards: String(shards.length) } } : {}),
          binaryData: shards[i] ?? {},
        },
        { fieldManager: 'kubefn-watcher', force: true },
      );
    this.#written = shards.length;
  }

  /** A resource's compressed checkpoint, compressed again only when it moved. */
  #pack(resource: string, checkpoint: ResourceCheckpoint): Buffer {
    const fingerprint = checkpoint.fingerprint();
    const cached = this.#packed.get(resource);
    if (cached?.fingerprint === fingerprint) return cached.packed;
    const packed = gzipSync(JSON.stringify(checkpoint.toStored()));
    this.#packed.set(resource, { fingerprint, packed });
    return packed;
  }

  #configMaps() {
    return this.#cluster.resource({ apiVersion: 'v1', kind: 'ConfigMap' });
  }
}

/** The checkpoints one ConfigMap holds (also the plain JSON `data` an earlier version wrote). */
export function storedIn(configMap: KubeObject | undefined): [string, Stored][] {
  const binary = Object.entries((configMap?.binaryData ?? {}) as Record<string, string>).map(
    ([key, value]): [string, Stored] => [
      key.replace(/\.json\.gz$/, ''),
      JSON.parse(gunzipSync(Buffer.from(value, 'base64')).toString('utf8')) as Stored,
    ],
  );
  const plain = Object.entries((configMap?.data ?? {}) as Record<string, string>)
    .filter(([key]) => key !== 'shards')
    .map(([key, value]): [string, Stored] => [key, JSON.parse(value) as Stored]);
  return [...plain, ...binary];
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
