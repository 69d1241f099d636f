// Applies a multi-document YAML manifest with server-side apply: idempotent, and each object's
// kind resolved through discovery.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';

export const fieldManager = 'kubefn-infra';

export async function readManifests(file: string): Promise<KubeObject[]> {
  const docs = parseAllDocuments(await readFile(file, 'utf8'));
  return docs.map((doc) => doc.toJS() as KubeObject).filter((object) => object?.kind);
}

/** Applies every object in `file`, in order; `namespace` fills in namespaced objects without one. */
export async function applyManifests(
  cluster: Cluster,
  file: string,
  options: ApplyOptions = {},
): Promise<KubeObject[]> {
  return applyObjects(cluster, await readManifests(file), options);
}

type ApplyOptions = { namespace?: string; fieldManager?: string; dryRun?: boolean };

/** Applies `objects` in order. */
export async function applyObjects(
  cluster: Cluster,
  objects: KubeObject[],
  options: ApplyOptions = {},
): Promise<KubeObject[]> {
  const applied: KubeObject[] = [];
  for (const object of objects) {
    const resource = cluster.resource({
      apiVersion: object.apiVersion ?? 'v1',
      kind: object.kind ?? '',
    });
    const info = await resource.info();
    const metadata = { ...object.metadata };
    if (info.namespaced && !metadata.namespace && options.namespace)
      metadata.namespace = options.namespace;
    applied.push(
      await resource.apply(
        { ...object, metadata },
        {
          fieldManager: options.fieldManager ?? fieldManager,
          force: true,
          dryRun: options.dryRun,
        },
      ),
    );
  }
  return applied;
}
