// What each identity may do in Kubernetes, as the column "Kubernetes identity and RBAC" of the
// table in docs/security-model.md (moved there from the README) says, by where: `everywhere`
// (cluster-wide grants, which hold in every namespace too), `tenant` (a namespace the provisioner
// manages, where the tenant bundle binds label and ingress-timeout), `kubefn-system`.
// rbac.test.ts asks the server about every verb on every resource named here and requires exactly
// these, so a grant the table does not state, or a statement RBAC does not grant, fails it.
// Entries marked "not in the table" are granted by infra/k8s/rbac.yaml and missing from the
// table's row (said in the session's note).
import type { ClusterIdentity } from '../../shared/identities.ts';

export const verbs = [
  'get',
  'list',
  'watch',
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
] as const;

export type Grant = {
  group?: string;
  resource: string;
  verbs: readonly string[];
  /** Only this object (resourceNames); others of the kind are refused. */
  name?: string;
};
export type Scope = 'everywhere' | 'tenant' | 'kubefn-system';

const all = ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'];
const bundle = ['get', 'list', 'create', 'patch', 'update', 'delete'];
const read = ['get', 'list', 'watch'];
const labelVerbs = ['get', 'list', 'patch'];
const stateNames = ['', '-1', '-2', '-3', '-4', '-5', '-6', '-7'].map(
  (n) => `kubefn-watcher-state${n}`,
);

export const rows: Record<ClusterIdentity, Partial<Record<Scope, Grant[]>>> = {
  provision: {
    everywhere: [
      { resource: 'namespaces', verbs: all },
      // watch: not in the table (a quota is watched until it is counted).
      { resource: 'resourcequotas', verbs: [...bundle, 'watch'] },
      ...['limitranges', 'serviceaccounts', 'services'].map((resource) => ({
        resource,
        verbs: bundle,
      })),
      ...['networkpolicies', 'ingresses'].map((resource) => ({
        group: 'networking.k8s.io',
        resource,
        verbs: bundle,
      })),
      { group: 'apps', resource: 'deployments', verbs: bundle },
      { group: 'apps', resource: 'statefulsets', verbs: ['get', 'list', 'patch'] },
      { group: 'rbac.authorization.k8s.io', resource: 'rolebindings', verbs: bundle },
      // Not in the table: readiness reads a tenant's pods and EndpointSlices.
      { resource: 'pods', verbs: ['list'] },
      { group: 'discovery.k8s.io', resource: 'endpointslices', verbs: ['list'] },
    ],
    'kubefn-system': [
      { group: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'delete'] },
    ],
  },
  label: {
    everywhere: [{ resource: 'namespaces', verbs: labelVerbs }],
    tenant: [
      ...['configmaps', 'services', 'serviceaccounts'].map((resource) => ({
        resource,
        verbs: labelVerbs,
      })),
      { group: 'apps', resource: 'deployments', verbs: labelVerbs },
      { group: 'networking.k8s.io', resource: 'ingresses', verbs: labelVerbs },
    ],
  },
  'ingress-timeout': {
    everywhere: [
      { group: 'networking.k8s.io', resource: 'ingresses', verbs: read },
      { resource: 'services', verbs: read },
      { group: 'cloud.google.com', resource: 'backendconfigs', verbs: read },
    ],
    tenant: [
      { resource: 'services', verbs: ['patch'] },
      { group: 'networking.k8s.io', resource: 'ingresses', verbs: ['patch'] },
      {
        group: 'cloud.google.com',
        resource: 'backendconfigs',
        verbs: ['get', 'list', 'create', 'patch', 'update'],
      },
    ],
  },
  watcher: {
    everywhere: [
      ...['namespaces', 'services', 'serviceaccounts', 'resourcequotas', 'limitranges'].map(
        (resource) => ({ resource, verbs: read }),
      ),
      ...['ingresses', 'networkpolicies'].map((resource) => ({
        group: 'networking.k8s.io',
        resource,
        verbs: read,
      })),
      { group: 'apps', resource: 'deployments', verbs: read },
      { group: 'rbac.authorization.k8s.io', resource: 'rolebindings', verbs: read },
    ],
    'kubefn-system': [
      { group: 'coordination.k8s.io', resource: 'leases', verbs: ['create'] },
      // patch: not in the table (it says get/update by name).
      {
        group: 'coordination.k8s.io',
        resource: 'leases',
        name: 'kubefn-watcher',
        verbs: ['get', 'update', 'patch'],
      },
      { resource: 'configmaps', verbs: ['create'] },
      ...stateNames.map((name) => ({
        resource: 'configmaps',
        name,
        verbs: ['get', 'update', 'patch'],
      })),
    ],
  },
};

/** Cluster-scoped kinds: asked once, with no namespace. */
export const clusterScoped = new Set(['namespaces', 'clusterrolebindings']);

/** Kinds no identity may touch anywhere, asked beside each identity's own. */
export const neverGranted: Grant[] = [
  { resource: 'secrets', verbs: [] },
  { group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', verbs: [] },
  { group: 'rbac.authorization.k8s.io', resource: 'roles', verbs: [] },
];
