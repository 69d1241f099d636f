// shared/kube clients for the tests: the admin (the stack's kubeconfig, client certificate) and
// clients acting as a ServiceAccount with a real TokenRequest token.
import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import { Cluster, type ClusterConfig, fromKubeconfig } from '../../shared/kube/index.ts';

export const stack = inject('stack');

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

/** A namespace for one test file, deleted (in the background) when the file is done. */
export async function testNamespace(cluster: Cluster, name: string): Promise<string> {
  await cluster.resource({ apiVersion: 'v1', kind: 'Namespace' }).create({ metadata: { name } });
  return name;
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
