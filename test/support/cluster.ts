// shared/kube clients for the tests: the admin (the stack's kubeconfig, client certificate) and
// clients acting as a ServiceAccount with a real TokenRequest token.
import { readFileSync } from 'node:fs';
import { Cluster, type ClusterConfig, fromKubeconfig } from '../../shared/kube/index.ts';
import { uniqueName } from './kube.ts';

export { stack } from './stack.ts';

import { stack } from './stack.ts';

export async function adminConfig(): Promise<ClusterConfig> {
  return fromKubeconfig({ path: stack.kubeconfig });
}

export async function adminCluster(overrides: Partial<ClusterConfig> = {}): Promise<Cluster> {
  return new Cluster({ ...(await adminConfig()), ...overrides });
}

/** Configured explicitly: server, CA and a token provider (how a Google token plugs in). */
export function tokenCluster(token: string, server = stack.server): Cluster {
  return new Cluster({ server, ca: readFileSync(stack.caFile, 'utf8'), token: () => token });
}

/** An admin client and a fresh namespace for one test file. */
export async function openTestNamespace(prefix: string): Promise<{ cluster: Cluster; ns: string }> {
  const cluster = await adminCluster();
  const ns = uniqueName(prefix);
  await cluster
    .resource({ apiVersion: 'v1', kind: 'Namespace' })
    .create({ metadata: { name: ns } });
  return { cluster, ns };
}

/** Deletes the file's namespace (the namespace controller finishes it in the background). */
export async function closeTestNamespace(cluster: Cluster, ns: string): Promise<void> {
  await cluster.resource({ apiVersion: 'v1', kind: 'Namespace' }).delete(ns);
  await cluster.close();
}

/** Mints a token for `namespace/serviceAccount` through the real TokenRequest API. */
export async function serviceAccountToken(
  cluster: Cluster,
  namespace: string,
  serviceAccount: string,
): Promise<string> {
  const res = await cluster.client.request<{ status: { token: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
    { method: 'POST', body: { spec: { expirationSeconds: 600 } } },
  );
  return res.status.token;
}
