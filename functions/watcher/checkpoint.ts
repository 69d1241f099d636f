// The relay's resume record: per watched resource, the acknowledged resourceVersion and the
// uid/resourceVersion of every object as last delivered. Kept in a ConfigMap so it survives the
// watcher's restarts; after one, the watch resumes from it, or relists and diffs against it, so
// changes made while the watcher was down (deletions included) are still delivered.
// A ConfigMap holds at most 1 MiB: about 12,000 objects at ~80 bytes each.
import { type Cluster, KubeError, type StoreEntry } from '../../shared/kube/index.ts';

export type Checkpoint = { resourceVersion: string | undefined; objects: Map<string, StoreEntry> };
type Stored = { rv?: string; objects: Record<string, string> };

export class CheckpointStore {
  readonly #cluster: Cluster;
  readonly #namespace: string;
  readonly #name: string;

  constructor(cluster: Cluster, namespace: string, name: string) {
    this.#cluster = cluster;
    this.#namespace = namespace;
    this.#name = name;
  }

  async load(): Promise<Map<string, Checkpoint>> {
    const configMap = await this.#configMaps()
      .get(this.#name, { namespace: this.#namespace })
      .catch((error: unknown) => {
        if (error instanceof KubeError && error.code === 'not-found') return undefined;
        throw error;
      });
    const checkpoints = new Map<string, Checkpoint>();
    for (const [resource, json] of Object.entries(
      (configMap?.data ?? {}) as Record<string, string>,
    )) {
      const stored = JSON.parse(json) as Stored;
      const objects = new Map<string, StoreEntry>();
      for (const [key, value] of Object.entries(stored.objects)) {
        const [uid = '', resourceVersion = ''] = value.split(' ');
        objects.set(key, { uid, resourceVersion });
      }
      checkpoints.set(resource, { resourceVersion: stored.rv, objects });
    }
    return checkpoints;
  }

  async save(checkpoints: Map<string, Checkpoint>): Promise<void> {
    const data: Record<string, string> = {};
    for (const [resource, checkpoint] of checkpoints) {
      const objects: Record<string, string> = {};
      for (const [key, entry] of checkpoint.objects)
        objects[key] = `${entry.uid} ${entry.resourceVersion}`;
      const stored: Stored = {
        objects,
        ...(checkpoint.resourceVersion ? { rv: checkpoint.resourceVersion } : {}),
      };
      data[resource] = JSON.stringify(stored);
    }
    await this.#configMaps().apply(
      { metadata: { name: this.#name, namespace: this.#namespace }, data },
      { fieldManager: 'kubefn-watcher', force: true },
    );
  }

  #configMaps() {
    return this.#cluster.resource({ apiVersion: 'v1', kind: 'ConfigMap' });
  }
}
