// kubefn's RBAC for one cluster: infra/k8s/rbac.yaml with every binding's subjects filled in
// from shared/identities.ts (the one source of the names), plus the ServiceAccounts themselves
// when the bindings name ServiceAccounts.
import { join } from 'node:path';
import {
  accountId,
  type ClusterIdentity,
  clusterIdentities,
  type RbacSubject,
  type SubjectSource,
  subjectsByIdentity,
  systemNamespace,
} from '../../shared/identities.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { substitute } from '../../shared/templates.ts';
import { applyObjects, readManifests } from './apply.ts';

const manifest = join(import.meta.dirname, 'rbac.yaml');

/** Who each binding names: by default the sources' accounts; a cell's (install.ts --cell). */
export type Subjects = Record<ClusterIdentity, RbacSubject[]>;

export async function rbacManifests(
  sources: SubjectSource[],
  subjects: Subjects = subjectsByIdentity(sources),
): Promise<KubeObject[]> {
  const [namespace, ...rest] = (await readManifests(manifest)).map(
    (object) => substitute(object, { subjects }) as KubeObject,
  );
  const accounts = sources.some((source) => source.kind === 'serviceaccounts')
    ? clusterIdentities.map((identity) => ({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: accountId(identity), namespace: systemNamespace },
      }))
    : [];
  // The namespace first: the ServiceAccounts and the watcher's Role live in it.
  return [...(namespace ? [namespace] : []), ...accounts, ...rest];
}

export async function applyRbac(
  admin: Cluster,
  sources: SubjectSource[],
  options: { dryRun?: boolean; subjects?: Subjects } = {},
): Promise<KubeObject[]> {
  const { subjects, ...apply } = options;
  return applyObjects(admin, await rbacManifests(sources, subjects), apply);
}
