// The scheduled tenant check never strips a tenant's owners: it binds the owners recorded on the
// namespace; for a tenant provisioned before that record, when the owners' RoleBinding cannot be
// read (anything but not-found), the tenant is reported failed, or the job fails when a whole
// list cannot be read, and nothing is written.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type ProvisionDeps, provisionTenant } from '../../functions/provision/handler.ts';
import type { Templates } from '../../functions/provision/render.ts';
import { resyncTenants } from '../../functions/provision/resync.ts';
import bundle from '../../functions/provision/templates/bundle.json' with { type: 'json' };
import plans from '../../functions/provision/templates/plans.json' with { type: 'json' };
import { localSubjects } from '../../infra/local/identities.ts';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import { adminCluster } from '../support/cluster.ts';
import { uniqueName } from '../support/kube.ts';

const templates = { bundle, plans } as unknown as Templates;
const owners = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' } as const;
let admin: Cluster;
const customerId = uniqueName('owners');
const namespacePrefix = `r${Date.now().toString(36)}-`;
const namespace = namespacePrefix + customerId;

beforeAll(async () => {
  admin = await adminCluster();
  const deps = { cluster: admin, templates, namespacePrefix, subjects: localSubjects };
  await provisionTenant(
    { customerId, plan: 'free', owners: ['owner@acme.example'], dryRun: false },
    deps,
  );
});
afterAll(async () => {
  await admin.resource({ apiVersion: 'v1', kind: 'Namespace' }).delete(namespace);
  await admin.close();
});

/** The admin cluster, except that reading the owners' RoleBinding fails once with `code`. */
function failingOwnersRead(code: 'unavailable' | 'forbidden'): Cluster {
  let failed = false;
  const cluster = Object.create(admin) as Cluster;
  cluster.resource = ((ref: { apiVersion: string; kind: string }) => {
    const resource = admin.resource(ref);
    if (ref.kind !== owners.kind) return resource;
    const get = resource.get.bind(resource);
    resource.get = async (name, options) => {
      if (name === 'tenant-owners' && !failed) {
        failed = true;
        throw new KubeError(code, `GET rolebindings/${name}: refused in this test`);
      }
      return get(name, options);
    };
    return resource;
  }) as Cluster['resource'];
  return cluster;
}

const subjects = async () =>
  (
    (await admin.resource(owners).get('tenant-owners', { namespace })) as KubeObject & {
      subjects?: { name: string }[];
    }
  ).subjects?.map((s) => s.name);

/** The admin cluster, except that listing RoleBindings fails with `code`. */
function failingBindingsList(code: 'unavailable' | 'forbidden'): Cluster {
  const cluster = Object.create(admin) as Cluster;
  cluster.resource = ((ref: { apiVersion: string; kind: string }) => {
    const resource = admin.resource(ref);
    if (ref.kind !== owners.kind) return resource;
    resource.list = async () => {
      throw new KubeError(code, 'LIST rolebindings: refused in this test');
    };
    return resource;
  }) as Cluster['resource'];
  return cluster;
}

test.each(['unavailable', 'forbidden'] as const)(
  'a kind that cannot be listed (%s) fails the job, and nothing is written',
  async (code) => {
    const deps = {
      cluster: failingBindingsList(code),
      templates,
      namespacePrefix,
      subjects: localSubjects,
    };
    await expect(resyncTenants(deps)).rejects.toMatchObject({ code });
    expect(await subjects()).toEqual(['owner@acme.example']);
  },
);

test('with the owners recorded, the check binds them, whoever the binding names', async () => {
  await admin
    .resource(owners)
    .patch(
      'tenant-owners',
      { subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'mallory' }] },
      { namespace, fieldManager: 'an-operator' },
    );
  const deps = { cluster: admin, templates, namespacePrefix, subjects: localSubjects };
  const { tenants } = await resyncTenants(deps);
  expect(tenants.find((t) => t.namespace === namespace)).toMatchObject({
    outcome: 'repaired',
    repaired: [{ kind: 'RoleBinding', name: 'tenant-owners', was: 'different' }],
  });
  expect(await subjects()).toEqual(['owner@acme.example']);
});

test.each(['unavailable', 'forbidden'] as const)(
  'an owners binding outside the list that cannot be read (%s) fails a tenant without a record and keeps its owners',
  async (code) => {
    // A tenant provisioned before the owners record: the check reads the binding.
    await admin
      .resource({ apiVersion: 'v1', kind: 'Namespace' })
      .patch(namespace, { metadata: { annotations: { 'kubefn.dev/owners': null } } });
    // Its labels edited away: the check reads it by name.
    await admin
      .resource(owners)
      .patch(
        'tenant-owners',
        { metadata: { labels: { 'app.kubernetes.io/managed-by': null } } },
        { namespace },
      );
    const deps: ProvisionDeps = {
      cluster: failingOwnersRead(code),
      templates,
      namespacePrefix,
      subjects: localSubjects,
    };
    const { tenants } = await resyncTenants(deps);
    const mine = tenants.find((t) => t.namespace === namespace);
    expect(mine).toMatchObject({ outcome: 'failed', repaired: [] });
    expect(await subjects()).toEqual(['owner@acme.example']);
  },
);

test('with the binding readable, the check puts its labels back, keeps the owners, then changes nothing', async () => {
  const deps = { cluster: admin, templates, namespacePrefix, subjects: localSubjects };
  const first = await resyncTenants(deps);
  expect(first.tenants.find((t) => t.namespace === namespace)).toMatchObject({
    outcome: 'repaired',
    repaired: [{ kind: 'RoleBinding', name: 'tenant-owners', was: 'missing' }],
  });
  expect(await subjects()).toEqual(['owner@acme.example']);
  const second = await resyncTenants(deps);
  // Unchanged: listed only while its workload is not yet available, and then with nothing put back.
  const mine = second.tenants.find((t) => t.namespace === namespace);
  expect(
    mine === undefined || (mine.outcome === 'unchanged' && mine.unavailable !== undefined),
  ).toBe(true);
  expect(await subjects()).toEqual(['owner@acme.example']);
});
