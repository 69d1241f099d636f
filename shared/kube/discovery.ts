// Resolves apiVersion + kind (or plural) to a URL path through the API's own discovery
// documents, one request per group/version, cached. A kind that is missing is looked up once
// more before failing, so a CustomResourceDefinition installed after the first lookup is found.
import type { KubeClient } from './client.ts';
import { KubeError } from './errors.ts';
import type { ResourceInfo, ResourceRef } from './types.ts';

type ApiResourceList = {
  resources: { name: string; kind: string; namespaced: boolean; verbs?: string[] }[];
};

export class Discovery {
  readonly #client: KubeClient;
  readonly #cache = new Map<string, Promise<ResourceInfo[]>>();

  constructor(client: KubeClient) {
    this.#client = client;
  }

  async resolve(ref: ResourceRef): Promise<ResourceInfo> {
    const match = (info: ResourceInfo) =>
      'kind' in ref ? info.kind === ref.kind : info.plural === ref.plural;
    const found = (await this.#groupVersion(ref.apiVersion)).find(match);
    if (found) return found;
    this.#cache.delete(ref.apiVersion);
    const retried = (await this.#groupVersion(ref.apiVersion)).find(match);
    if (retried) return retried;
    const name = 'kind' in ref ? `kind ${ref.kind}` : `resource ${ref.plural}`;
    throw new KubeError('not-found', `the server has no ${name} in ${ref.apiVersion}`);
  }

  /** Forgets everything, e.g. after installing or removing CRDs. */
  invalidate(): void {
    this.#cache.clear();
  }

  #groupVersion(apiVersion: string): Promise<ResourceInfo[]> {
    let cached = this.#cache.get(apiVersion);
    if (!cached) {
      cached = this.#fetch(apiVersion);
      // A failed lookup is not cached: the next call asks again.
      cached.catch(() => this.#cache.delete(apiVersion));
      this.#cache.set(apiVersion, cached);
    }
    return cached;
  }

  async #fetch(apiVersion: string): Promise<ResourceInfo[]> {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const list = await this.#client.request<ApiResourceList>(path).catch((error: unknown) => {
      if (error instanceof KubeError && error.code === 'not-found') {
        throw new KubeError('not-found', `the server does not serve ${apiVersion}`);
      }
      throw error;
    });
    return list.resources
      .filter((r) => !r.name.includes('/')) // subresources such as pods/log
      .map((r) => ({
        group: group ?? '',
        version: version ?? '',
        apiVersion,
        kind: r.kind,
        plural: r.name,
        namespaced: r.namespaced,
        verbs: r.verbs ?? [],
      }));
  }
}

/** /api/v1 or /apis/GROUP/VERSION, then the namespace when there is one, then the plural. */
export function collectionPath(info: ResourceInfo, namespace?: string): string {
  const base = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
  if (!info.namespaced) {
    if (namespace) {
      throw new KubeError('bad-request', `${info.kind} is cluster-scoped; it takes no namespace`);
    }
    return `${base}/${info.plural}`;
  }
  return namespace
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${info.plural}`
    : `${base}/${info.plural}`;
}
