// infra/k8s RBAC applied to the real kube-apiserver; each identity acts with a real token from
// TokenRequest. What it needs succeeds; a sample of everything else answers 403.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { applyManifests } from '../../infra/k8s/apply.ts';
import { type Cluster, KubeError } from '../../shared/kube/index.ts';
import { adminCluster, serviceAccountToken, tokenCluster } from '../support/cluster.ts';
import { uniqueName } from '../support/kube.ts';

const manifests = join(import.meta.dirname, '../../infra/k8s');
const managedBy = { 'app.kubernetes.io/managed-by': 'kubefn' };
let admin: Cluster;
const as: Record<string, Cluster> = {};
const tenant = uniqueName('tenant');
const unmanaged = uniqueName('other');

async function status(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof KubeError) return error.status;
    throw error;
  }
}

/** Asks the server whether the identity may do it, without doing it. */
async function may(cluster: Cluster, attributes: Record<string, string>): Promise<boolean> {
  const review = await cluster.client.request<{ status: { allowed: boolean } }>(
    '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    {
      method: 'POST',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: attributes },
      },
    },
  );
  return review.status.allowed;
}

const ref = {
  ns: { apiVersion: 'v1', kind: 'Namespace' },
  cm: { apiVersion: 'v1', kind: 'ConfigMap' },
  svc: { apiVersion: 'v1', kind: 'Service' },
  ingress: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  lease: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' },
} as const;

beforeAll(async () => {
  admin = await adminCluster();
  await applyManifests(admin, join(manifests, 'rbac.yaml'));
  for (const name of ['provision', 'label', 'ingress-timeout', 'watcher']) {
    as[name] = tokenCluster(await serviceAccountToken(admin, 'kubefn-system', `kubefn-${name}`));
  }
  await admin.resource(ref.ns).create({ metadata: { name: unmanaged } });
  await admin.resource(ref.cm).create({ metadata: { name: 'c', namespace: unmanaged } });
  await admin.resource(ref.svc).create({
    metadata: { name: 's', namespace: unmanaged },
    spec: { ports: [{ port: 80 }] },
  });
});

afterAll(async () => {
  for (const ns of [tenant, unmanaged])
    await admin
      .resource(ref.ns)
      .delete(ns)
      .catch(() => {});
  await Promise.all([admin, ...Object.values(as)].map((c) => c.close()));
});

describe.sequential('RBAC, acting with real tokens', () => {
  test('provision creates a managed namespace, its bundle, and the tenant bindings', async () => {
    const provision = as.provision as Cluster;
    await provision.resource(ref.ns).create({ metadata: { name: tenant, labels: managedBy } });
    await applyManifests(provision, join(manifests, 'tenant-rbac.yaml'), { namespace: tenant });
    await provision.resource({ apiVersion: 'v1', kind: 'ResourceQuota' }).create({
      metadata: { name: 'quota', namespace: tenant },
      spec: { hard: { pods: '10' } },
    });
    await provision.resource(ref.svc).create({
      metadata: { name: 'monitor', namespace: tenant },
      spec: { ports: [{ port: 80 }] },
    });
    await admin.resource(ref.cm).create({ metadata: { name: 'c', namespace: tenant } });
  });

  test.each([
    [
      'read Secrets in kube-system',
      () =>
        as.provision
          ?.resource({ apiVersion: 'v1', kind: 'Secret' })
          .list({ namespace: 'kube-system' }),
    ],
    [
      'bind cluster-admin (escalation)',
      () =>
        as.provision
          ?.resource({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' })
          .create({
            metadata: { name: 'escalate', namespace: tenant },
            roleRef: {
              apiGroup: 'rbac.authorization.k8s.io',
              kind: 'ClusterRole',
              name: 'cluster-admin',
            },
            subjects: [
              { kind: 'ServiceAccount', name: 'kubefn-provision', namespace: 'kubefn-system' },
            ],
          }),
    ],
    [
      'create a ClusterRoleBinding',
      () =>
        as.provision
          ?.resource({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' })
          .create({
            metadata: { name: uniqueName('crb') },
            roleRef: {
              apiGroup: 'rbac.authorization.k8s.io',
              kind: 'ClusterRole',
              name: 'kubefn-label',
            },
            subjects: [
              { kind: 'ServiceAccount', name: 'kubefn-provision', namespace: 'kubefn-system' },
            ],
          }),
    ],
  ])('provision may not %s', async (_what, act) => {
    expect(await status(Promise.resolve().then(act as () => Promise<unknown>))).toBe(403);
  });

  test('label patches labels in a managed namespace, and nowhere else', async () => {
    const label = as.label as Cluster;
    const patch = { metadata: { labels: { tier: 'gold' } } };
    expect(await status(label.resource(ref.cm).patch('c', patch, { namespace: tenant }))).toBe(200);
    expect(await status(label.resource(ref.cm).patch('c', patch, { namespace: unmanaged }))).toBe(
      403,
    );
    expect(await status(label.resource(ref.cm).list({ namespace: 'kube-system' }))).toBe(403);
    expect(
      await status(label.resource(ref.cm).create({ metadata: { name: 'x', namespace: tenant } })),
    ).toBe(403);
    expect(await status(label.resource(ref.ns).delete(tenant))).toBe(403);
    expect(
      await status(
        label.resource({ apiVersion: 'v1', kind: 'Secret' }).list({ namespace: tenant }),
      ),
    ).toBe(403);
    // Namespaces are cluster-scoped: RBAC allows the patch; the label function's code refuses
    // namespaces without the managed-by label.
    expect(await may(label, { verb: 'patch', resource: 'namespaces', name: 'kube-system' })).toBe(
      true,
    );
  });

  test('ingress-timeout reads everywhere and writes only in managed namespaces', async () => {
    const timeout = as['ingress-timeout'] as Cluster;
    expect(await status(timeout.resource(ref.ingress).list())).toBe(200);
    const annotate = {
      metadata: { annotations: { 'cloud.google.com/backend-config': '{"default":"x"}' } },
    };
    expect(
      await status(timeout.resource(ref.svc).patch('monitor', annotate, { namespace: tenant })),
    ).toBe(200);
    expect(
      await status(timeout.resource(ref.svc).patch('s', annotate, { namespace: unmanaged })),
    ).toBe(403);
    const backendConfig = { group: 'cloud.google.com', resource: 'backendconfigs', verb: 'create' };
    expect(await may(timeout, { ...backendConfig, namespace: tenant })).toBe(true);
    expect(await may(timeout, { ...backendConfig, namespace: unmanaged })).toBe(false);
    expect(await status(timeout.resource(ref.svc).delete('monitor', { namespace: tenant }))).toBe(
      403,
    );
    expect(await status(timeout.resource(ref.ns).delete(tenant))).toBe(403);
  });

  test('watcher list-watches and keeps its Lease and resume record in kubefn-system only', async () => {
    const watcher = as.watcher as Cluster;
    expect(await status(watcher.resource(ref.ns).list())).toBe(200);
    expect(await status(watcher.resource(ref.ingress).watch({ timeoutSeconds: 1 }).next())).toBe(
      200,
    );
    // The real watcher's test holds this Lease; here the server is only asked, so the two
    // cannot disturb each other.
    const lease = { group: 'coordination.k8s.io', resource: 'leases', namespace: 'kubefn-system' };
    expect(await may(watcher, { ...lease, verb: 'create' })).toBe(true);
    expect(await may(watcher, { ...lease, verb: 'update', name: 'kubefn-watcher' })).toBe(true);
    expect(await may(watcher, { ...lease, verb: 'update', name: 'someone-elses' })).toBe(false);
    expect(await may(watcher, { ...lease, verb: 'create', namespace: tenant })).toBe(false);
    const leases = watcher.resource(ref.lease);
    const sample = { metadata: { name: 'x', namespace: tenant }, spec: {} };
    expect(await status(leases.create(sample))).toBe(403);
    expect(
      await may(watcher, {
        verb: 'update',
        resource: 'configmaps',
        namespace: 'kubefn-system',
        name: 'kubefn-watcher-state',
      }),
    ).toBe(true);
    expect(
      await may(watcher, {
        verb: 'update',
        resource: 'configmaps',
        namespace: 'kubefn-system',
        name: 'other',
      }),
    ).toBe(false);
    expect(await status(watcher.resource(ref.cm).list({ namespace: tenant }))).toBe(403);
    expect(await status(watcher.resource(ref.ns).delete(tenant))).toBe(403);
  });
});
