// kubefn's RBAC for one cluster: infra/k8s/rbac.yaml with every binding's subjects filled in
// from shared/identities.ts (the one source of the names), plus the ServiceAccounts themselves
// when the bindings name ServiceAccounts.
import { join } from 'node:path';
import {
  accountId,
  clusterIdentities,
  type SubjectSource,
  subjectsByIdentity,
  systemNamespace,
} from '../../shared/identities.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { substitute } from '../../shared/templates.ts';
import { applyObjects, readManifests } from './apply.ts';

const manifest = join(import.meta.dirname, 'rbac.yaml');

export async function rbacManifests(sources: SubjectSource[]): Promise<KubeObject[]> {
  const subjects = subjectsByIdentity(sources);
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
  options: { dryRun?: boolean } = {},
): Promise<KubeObject[]> {
  return applyObjects(admin, await rbacManifests(sources), options);
}
