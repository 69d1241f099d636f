// Sets and removes labels on one object, or on every object a selector matches, in namespaces
// kubefn manages. Each write is a merge patch carrying the resourceVersion it was computed from:
// a concurrent change gets 409, and the object is read again and the change recomputed (bounded).
// Nothing is written when the labels are already as asked.

import { mapLimit } from '../../shared/concurrency.ts';
import { DomainError } from '../../shared/errors.ts';
import { type Cluster, KubeError, type Resource } from '../../shared/kube/index.ts';
import { isKubefnKey, isManaged } from '../../shared/labels.ts';
import { retryOnConflict } from '../../shared/retry/conflict.ts';
import { isReservedKey, type LabelRequest } from './schema.ts';

export type LabelPolicy = {
  /** Allow kubernetes.io/ and k8s.io/ keys (KUBEFN_LABEL_ALLOW_RESERVED). */
  allowReserved: boolean;
  /** Namespaces allowed besides managed ones (KUBEFN_LABEL_NAMESPACES); system ones only here. */
  extraNamespaces: string[];
};
export type LabelDeps = { cluster: Cluster; policy: LabelPolicy };

export type ObjectResult = {
  namespace?: string;
  name: string;
  outcome: 'updated' | 'unchanged' | 'would-update' | 'conflict' | 'not-found' | 'forbidden';
  labels?: Record<string, string>;
};

const systemNamespaces = new Set([
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'default',
  'kubefn-system',
]);
/**
 * What kubefn-label may patch, by API group and resource (infra/k8s/rbac.yaml's kubefn-label and
 * kubefn-label-namespaces; kinds.test.ts keeps the two the same). Checked before any call, so a
 * kind outside it (Secret, Pod) is the caller's 403, not kube-apiserver's refusal of kubefn.
 */
export const labelableResources: Record<string, string[]> = {
  '': ['configmaps', 'services', 'serviceaccounts', 'namespaces'],
  apps: ['deployments'],
  'networking.k8s.io': ['ingresses'],
};
const labelableKinds =
  'ConfigMaps, Services, ServiceAccounts, Namespaces, Deployments and Ingresses';
const concurrency = 8;
// Writers racing on one object each lose at most once per other writer; jitter spreads them out.
const attempts = 8;

export async function applyLabels(
  request: LabelRequest,
  deps: LabelDeps,
): Promise<{ dryRun: boolean; results: ObjectResult[] }> {
  const keys = [...Object.keys(request.set), ...request.remove];
  const kubefnKeys = keys.filter(isKubefnKey);
  if (kubefnKeys.length)
    throw new DomainError('kubefn-key', "kubefn's own labels are set by kubefn only", {
      keys: kubefnKeys,
    });
  const reservedKeys = keys.filter(isReservedKey);
  if (reservedKeys.length && !deps.policy.allowReserved)
    throw new DomainError('reserved-key', 'kubernetes.io/ and k8s.io/ keys are reserved', {
      keys: reservedKeys,
    });
  const resource = deps.cluster.resource({
    apiVersion: request.target.apiVersion,
    kind: request.target.kind,
  });
  const info = await resource.info().catch((error: unknown) => {
    if (error instanceof KubeError && error.code === 'not-found')
      throw new DomainError('unknown-kind', 'the cluster does not serve this apiVersion and kind');
    throw error;
  });
  if (!labelableResources[info.group]?.includes(info.plural))
    throw new DomainError('not-allowed', `kubefn labels only ${labelableKinds}`);
  const namespace = request.target.namespace;
  if (info.namespaced) {
    if (!namespace) throw new DomainError('invalid-input', 'target.namespace is required');
    await checkNamespace(deps, namespace);
  }

  const names = request.target.name
    ? [request.target.name]
    : await matching(resource, namespace, request.target.labelSelector ?? '');
  if (!info.namespaced) for (const name of names) await checkNamespace(deps, name);
  const results = await mapLimit(names, concurrency, (name) =>
    labelOne(resource, name, namespace, request),
  );
  results.sort((a, b) => a.name.localeCompare(b.name));
  return { dryRun: request.dryRun, results };
}

async function labelOne(
  resource: Resource,
  name: string,
  namespace: string | undefined,
  request: LabelRequest,
): Promise<ObjectResult> {
  const where = namespace ? { namespace, name } : { name };
  try {
    // Each try reads the object again and writes what it computed, guarded by its resourceVersion.
    return await retryOnConflict(
      async (): Promise<ObjectResult> => {
        const object = await resource.get(name, { namespace });
        const labels = { ...object.metadata?.labels };
        const patch: Record<string, string | null> = {};
        for (const [key, value] of Object.entries(request.set))
          if (labels[key] !== value) patch[key] = labels[key] = value;
        for (const key of request.remove)
          if (key in labels) {
            patch[key] = null;
            delete labels[key];
          }
        if (Object.keys(patch).length === 0) return { ...where, outcome: 'unchanged', labels };
        if (request.dryRun) return { ...where, outcome: 'would-update', labels };
        const updated = await resource.patch(
          name,
          { metadata: { resourceVersion: object.metadata?.resourceVersion, labels: patch } },
          { namespace, fieldManager: 'kubefn-label' },
        );
        return { ...where, outcome: 'updated', labels: updated.metadata?.labels ?? {} };
      },
      { attempts },
    );
  } catch (error) {
    return { ...where, outcome: outcomeOf(error) };
  }
}

/** Per-object outcomes for what a retry cannot fix; anything else fails the whole request. */
function outcomeOf(error: unknown): ObjectResult['outcome'] {
  if (error instanceof KubeError) {
    if (error.code === 'not-found') return 'not-found';
    if (error.code === 'forbidden') return 'forbidden';
    if (error.code === 'conflict') return 'conflict';
  }
  throw error;
}

async function matching(
  resource: Resource,
  namespace: string | undefined,
  labelSelector: string,
): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const object of resource.items({ namespace, labelSelector, limit: 500 }))
      names.push(object.metadata?.name ?? '');
  } catch (error) {
    // kube-apiserver parses the selector: its 400 is the caller's mistake, not ours.
    if (error instanceof KubeError && error.code === 'bad-request')
      throw new DomainError('invalid-input', 'target.labelSelector is not a valid selector', {
        fields: [{ field: 'target.labelSelector', expected: 'a Kubernetes label selector' }],
      });
    throw error;
  }
  return names;
}

/** Managed namespaces, or ones configuration names; system namespaces only when named. */
async function checkNamespace(deps: LabelDeps, namespace: string): Promise<void> {
  if (deps.policy.extraNamespaces.includes(namespace)) return;
  const refuse = () => {
    throw new DomainError(
      'namespace-not-allowed',
      `namespace ${namespace} is not managed by kubefn`,
    );
  };
  if (systemNamespaces.has(namespace)) refuse();
  const ns = await deps.cluster.resource({ apiVersion: 'v1', kind: 'Namespace' }).find(namespace);
  if (!isManaged(ns)) refuse();
}
