// The built-in kinds shared/kube resolves without discovery must be exactly what the real API
// server's discovery says: same plural, same scope.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { builtInKinds, type Cluster } from '../../shared/kube/index.ts';
import { adminCluster } from '../support/cluster.ts';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await adminCluster();
});
afterAll(() => cluster.close());

test('every built-in kind is served under its plural and scope', async () => {
  const apiVersions = [...new Set(builtInKinds.map((k) => k.apiVersion))];
  const served = new Map<string, { plural: string; namespaced: boolean }>();
  for (const apiVersion of apiVersions) {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = await cluster.client.request<{
      resources: { name: string; kind: string; namespaced: boolean }[];
    }>(path);
    for (const r of list.resources.filter((r) => !r.name.includes('/')))
      served.set(`${apiVersion} ${r.kind}`, { plural: r.name, namespaced: r.namespaced });
  }
  expect(builtInKinds.length).toBeGreaterThan(20);
  for (const kind of builtInKinds) {
    expect(
      served.get(`${kind.apiVersion} ${kind.kind}`),
      `${kind.apiVersion} ${kind.kind}`,
    ).toEqual({ plural: kind.plural, namespaced: kind.namespaced });
  }
});

test('built-in kinds resolve by kind or plural; other kinds through discovery', async () => {
  const deployment = await cluster.discovery.resolve({ apiVersion: 'apps/v1', kind: 'Deployment' });
  expect(deployment).toMatchObject({ plural: 'deployments', namespaced: true, group: 'apps' });
  const byPlural = await cluster.discovery.resolve({ apiVersion: 'v1', plural: 'namespaces' });
  expect(byPlural).toMatchObject({ kind: 'Namespace', namespaced: false });
  // Not in the table: found through discovery.
  const slice = await cluster.discovery.resolve({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
  });
  expect(slice).toMatchObject({ plural: 'endpointslices', namespaced: true });
});
