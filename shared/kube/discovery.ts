// Resolves apiVersion + kind (or plural) to a URL path through the API's own discovery
// documents, one request per group/version, cached. A kind that is missing is looked up once
// more before failing, so a CustomResourceDefinition installed after the first lookup is found.
//
// The stable built-in kinds below are known without asking: every Kubernetes version still
// supported serves them under these names and scopes, which can no longer change (GA APIs). A
// cold start then sends no discovery request before its first real call (the provisioning
// function's first status read made four, on fresh TLS connections, and waited for them).
// test/integration/builtin-kinds.test.ts checks the table against the real API server.
import type { KubeClient } from './client.ts';
import { KubeError } from './errors.ts';
import type { ResourceInfo, ResourceRef } from './types.ts';

type ApiResourceList = {
  resources: { name: string; kind: string; namespaced: boolean }[];
};

/** apiVersion -> kind -> plural; `!` marks the cluster-scoped ones. */
const stableKinds: Record<string, Record<string, string>> = {
  v1: {
    Namespace: '!namespaces',
    Node: '!nodes',
    PersistentVolume: '!persistentvolumes',
    Pod: 'pods',
    Service: 'services',
    ServiceAccount: 'serviceaccounts',
    ConfigMap: 'configmaps',
    Secret: 'secrets',
    PersistentVolumeClaim: 'persistentvolumeclaims',
    ResourceQuota: 'resourcequotas',
    LimitRange: 'limitranges',
    Event: 'events',
  },
  'apps/v1': {
    Deployment: 'deployments',
    StatefulSet: 'statefulsets',
    DaemonSet: 'daemonsets',
    ReplicaSet: 'replicasets',
  },
  'batch/v1': { Job: 'jobs', CronJob: 'cronjobs' },
  'networking.k8s.io/v1': {
    Ingress: 'ingresses',
    IngressClass: '!ingressclasses',
    NetworkPolicy: 'networkpolicies',
  },
  'rbac.authorization.k8s.io/v1': {
    Role: 'roles',
    RoleBinding: 'rolebindings',
    ClusterRole: '!clusterroles',
    ClusterRoleBinding: '!clusterrolebindings',
  },
  'policy/v1': { PodDisruptionBudget: 'poddisruptionbudgets' },
  'autoscaling/v2': { HorizontalPodAutoscaler: 'horizontalpodautoscalers' },
  'apiextensions.k8s.io/v1': { CustomResourceDefinition: '!customresourcedefinitions' },
};

/** The built-in kinds known without discovery, as discovery would describe them. */
export const builtInKinds: ResourceInfo[] = Object.entries(stableKinds).flatMap(
  ([apiVersion, kinds]) =>
    Object.entries(kinds).map(([kind, plural]) =>
      resourceInfo(apiVersion, {
        kind,
        name: plural.replace('!', ''),
        namespaced: !plural.startsWith('!'),
      }),
    ),
);

export class Discovery {
  readonly #client: KubeClient;
  readonly #cache = new Map<string, Promise<ResourceInfo[]>>();

  constructor(client: KubeClient) {
    this.#client = client;
  }

  async resolve(ref: ResourceRef): Promise<ResourceInfo> {
    const match = (info: ResourceInfo) =>
      info.apiVersion === ref.apiVersion &&
      ('kind' in ref ? info.kind === ref.kind : info.plural === ref.plural);
    const builtIn = builtInKinds.find(match);
    if (builtIn) return builtIn;
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
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = await this.#client.request<ApiResourceList>(path).catch((error: unknown) => {
      if (error instanceof KubeError && error.code === 'not-found') {
        throw new KubeError('not-found', `the server does not serve ${apiVersion}`);
      }
      throw error;
    });
    return list.resources
      .filter((r) => !r.name.includes('/')) // subresources such as pods/log
      .map((r) => resourceInfo(apiVersion, r));
  }
}

function resourceInfo(
  apiVersion: string,
  resource: { kind: string; name: string; namespaced: boolean },
): ResourceInfo {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return {
    group: group ?? '',
    version: version ?? '',
    apiVersion,
    kind: resource.kind,
    plural: resource.name,
    namespaced: resource.namespaced,
  };
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
