// infra/k8s RBAC applied to the real kube-apiserver, then each deployable acts with a real token
// of each kind kubefn deploys with: a ServiceAccount token from TokenRequest (a pod, the local
// stack), and a Google access token from a metadata server (Cloud Run on GKE: kube-apiserver's
// token webhook, here the fake Google's, maps it to the User named by the account's email). What
// the identity needs succeeds; a sample of everything else answers 403, the same for both kinds.
// Beyond the sample, the server is asked (SelfSubjectAccessReview) about every verb on every kind
// docs/security-model.md's table names, in every place, and must grant exactly what the table
// says (test/support/rbac-rows.ts).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { renderBundle, type Templates } from '../../functions/provision/render.ts';
import bundle from '../../functions/provision/templates/bundle.json' with { type: 'json' };
import plans from '../../functions/provision/templates/plans.json' with { type: 'json' };
import { defaultTargets } from '../../functions/watcher/config.ts';
import { applyRbac } from '../../infra/k8s/rbac.ts';
import { localSubjectSources, localSubjects } from '../../infra/local/identities.ts';
import { mapLimit } from '../../shared/concurrency.ts';
import {
  accountId,
  type ClusterIdentity,
  clusterIdentities,
  rbacSubjects,
  type SubjectSource,
  serviceAccountPrincipal,
  systemNamespace,
} from '../../shared/identities.ts';
import { type Cluster, KubeError } from '../../shared/kube/index.ts';
import { adminCluster, serviceAccountToken, tokenCluster } from '../support/cluster.ts';
import { googleIdentityCluster, localGoogleEmail } from '../support/google-identity.ts';
import { uniqueName } from '../support/kube.ts';
import {
  clusterScoped,
  type Grant,
  neverGranted,
  rows,
  type Scope,
  verbs,
} from '../support/rbac-rows.ts';

const managedBy = { 'app.kubernetes.io/managed-by': 'kubefn' };
let admin: Cluster;

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

/** Who the server says the caller is. */
async function whoami(cluster: Cluster): Promise<string> {
  const review = await cluster.client.request<{ status: { userInfo: { username: string } } }>(
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    {
      method: 'POST',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    },
  );
  return review.status.userInfo.username;
}

const ref = {
  ns: { apiVersion: 'v1', kind: 'Namespace' },
  cm: { apiVersion: 'v1', kind: 'ConfigMap' },
  svc: { apiVersion: 'v1', kind: 'Service' },
  ingress: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  lease: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' },
  roleBinding: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
} as const;

type Kind = {
  kind: string;
  source: SubjectSource;
  principal: (identity: ClusterIdentity) => string;
  connect: (identity: ClusterIdentity) => Promise<Cluster>;
};
const kinds: Kind[] = [
  {
    kind: 'ServiceAccount tokens',
    source: { kind: 'serviceaccounts' },
    principal: serviceAccountPrincipal,
    connect: async (identity) =>
      tokenCluster(await serviceAccountToken(admin, systemNamespace, accountId(identity))),
  },
  {
    kind: 'Google identities (GKE Users)',
    source: localSubjectSources.find((s) => s.kind === 'google') as SubjectSource,
    principal: localGoogleEmail,
    connect: googleIdentityCluster,
  },
];

beforeAll(async () => {
  admin = await adminCluster();
  await applyRbac(admin, localSubjectSources);
});
afterAll(() => admin.close());

test('a bearer token nobody issued is refused (401), by both authenticators', async () => {
  const stranger = tokenCluster('ya29.not-issued-by-anyone');
  expect(await status(stranger.resource(ref.ns).list())).toBe(401);
  await stranger.close();
});

describe.each(kinds)('RBAC, acting as $kind', ({ source, principal, connect }) => {
  const as: Partial<Record<ClusterIdentity, Cluster>> = {};
  const tenant = uniqueName('tenant');
  const unmanaged = uniqueName('other');
  const act = (identity: ClusterIdentity) => as[identity] as Cluster;

  beforeAll(async () => {
    for (const identity of clusterIdentities) as[identity] = await connect(identity);
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
    await Promise.all(Object.values(as).map((c) => c.close()));
  });

  test.each(clusterIdentities)('the server knows %s by its own name', async (identity) => {
    expect(await whoami(act(identity))).toBe(principal(identity));
  });

  describe.sequential('allowed and denied', () => {
    test('provision creates a managed namespace, its bundle, and the tenant bindings', async () => {
      const provision = act('provision');
      await provision.resource(ref.ns).create({ metadata: { name: tenant, labels: managedBy } });
      // kubefn's own RoleBindings of the tenant bundle, as the provisioner renders them locally.
      const bindings = renderBundle({ bundle, plans } as unknown as Templates, {
        namespace: tenant,
        customerId: tenant,
        plan: plans.free,
        owners: [],
        subjects: localSubjects,
      }).filter((o) => o.kind === ref.roleBinding.kind && o.metadata?.name?.startsWith('kubefn-'));
      expect(bindings.map((b) => b.metadata?.name)).toEqual([
        'kubefn-label',
        'kubefn-ingress-timeout',
      ]);
      for (const binding of bindings) await provision.resource(ref.roleBinding).create(binding);
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
          act('provision')
            .resource({ apiVersion: 'v1', kind: 'Secret' })
            .list({ namespace: 'kube-system' }),
      ],
      [
        'bind cluster-admin (escalation)',
        () =>
          act('provision')
            .resource({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' })
            .create({
              metadata: { name: 'escalate', namespace: tenant },
              roleRef: {
                apiGroup: 'rbac.authorization.k8s.io',
                kind: 'ClusterRole',
                name: 'cluster-admin',
              },
              subjects: rbacSubjects('provision', [source]),
            }),
      ],
      [
        'create a ClusterRoleBinding',
        () =>
          act('provision')
            .resource({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' })
            .create({
              metadata: { name: uniqueName('crb') },
              roleRef: {
                apiGroup: 'rbac.authorization.k8s.io',
                kind: 'ClusterRole',
                name: 'kubefn-label',
              },
              subjects: rbacSubjects('provision', [source]),
            }),
      ],
    ])('provision may not %s', async (_what, act) => {
      expect(await status(Promise.resolve().then(act as () => Promise<unknown>))).toBe(403);
    });

    test('label patches labels in a managed namespace, and nowhere else', async () => {
      const label = act('label');
      const patch = { metadata: { labels: { tier: 'gold' } } };
      expect(await status(label.resource(ref.cm).patch('c', patch, { namespace: tenant }))).toBe(
        200,
      );
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
      const timeout = act('ingress-timeout');
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
      const backendConfig = {
        group: 'cloud.google.com',
        resource: 'backendconfigs',
        verb: 'create',
      };
      expect(await may(timeout, { ...backendConfig, namespace: tenant })).toBe(true);
      expect(await may(timeout, { ...backendConfig, namespace: unmanaged })).toBe(false);
      expect(await status(timeout.resource(ref.svc).delete('monitor', { namespace: tenant }))).toBe(
        403,
      );
      expect(await status(timeout.resource(ref.ns).delete(tenant))).toBe(403);
    });

    test.each(clusterIdentities)(
      '%s may do exactly what docs/security-model.md says, every verb on every kind it names, everywhere',
      async (identity) => {
        const own = rows[identity];
        const kinds = new Map<string, Grant>();
        for (const grant of [...Object.values(own).flat(), ...neverGranted])
          kinds.set(`${grant.group ?? ''}/${grant.resource}`, grant);
        const places: { scope: Scope | 'unmanaged'; namespace: string }[] = [
          { scope: 'everywhere', namespace: '' },
          { scope: 'tenant', namespace: tenant },
          { scope: 'unmanaged', namespace: unmanaged },
          { scope: 'kubefn-system', namespace: systemNamespace },
        ];
        // Per place and kind (and named object), the verbs the table grants ...
        const expected: Record<string, string[]> = {};
        const questions: { key: string; verb: string; attributes: Record<string, string> }[] = [];
        for (const { scope, namespace } of places)
          for (const [kind, { group = '', resource }] of kinds) {
            if (clusterScoped.has(resource) && scope !== 'everywhere') continue;
            const grants = [
              ...(own.everywhere ?? []),
              ...(scope === 'everywhere' || scope === 'unmanaged' ? [] : (own[scope] ?? [])),
            ].filter((g) => (g.group ?? '') === group && g.resource === resource);
            const named = [...new Set(grants.flatMap((g) => (g.name ? [g.name] : [])))];
            for (const name of ['', ...named]) {
              const key = `${scope} ${kind}${name ? `/${name}` : ''}`;
              expected[key] = verbs.filter((verb) =>
                grants.some((g) => (!g.name || g.name === name) && g.verbs.includes(verb)),
              );
              for (const verb of verbs)
                questions.push({
                  key,
                  verb,
                  attributes: {
                    verb,
                    group,
                    resource,
                    ...(clusterScoped.has(resource) ? {} : { namespace }),
                    ...(name ? { name } : {}),
                  },
                });
            }
          }
        // ... and the verbs the server grants.
        const answers = await mapLimit(questions, 8, (q) => may(act(identity), q.attributes));
        const granted: Record<string, string[]> = Object.fromEntries(
          Object.keys(expected).map((key) => [key, [] as string[]]),
        );
        questions.forEach((q, i) => {
          if (answers[i]) granted[q.key]?.push(q.verb);
        });
        expect(granted).toEqual(expected);
        // Binding roles: provision exactly the three a tenant needs, nobody anything else.
        const bind = (name: string) =>
          may(act(identity), {
            verb: 'bind',
            group: 'rbac.authorization.k8s.io',
            resource: 'clusterroles',
            name,
          });
        const tenantRoles = [
          'kubefn-tenant-owner',
          'kubefn-label',
          'kubefn-ingress-timeout-tenant',
        ];
        for (const role of tenantRoles)
          expect([role, await bind(role)]).toEqual([role, identity === 'provision']);
        expect(await bind('cluster-admin')).toBe(false);
      },
    );

    test('watcher list-watches and keeps its Lease and resume record in kubefn-system only', async () => {
      const watcher = act('watcher');
      expect(await status(watcher.resource(ref.ns).list())).toBe(200);
      expect(await status(watcher.resource(ref.ingress).watch({ timeoutSeconds: 1 }).next())).toBe(
        200,
      );
      // The real watcher's test holds this Lease; here the server is only asked, so the two
      // cannot disturb each other.
      const lease = {
        group: 'coordination.k8s.io',
        resource: 'leases',
        namespace: 'kubefn-system',
      };
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
      // Every kind it watches by default, everywhere (it selects tenant namespaces itself); never
      // a Secret.
      for (const target of defaultTargets)
        expect([target.kind, await status(watcher.resource(target).list({ limit: 1 }))]).toEqual([
          target.kind,
          200,
        ]);
      const secrets = { apiVersion: 'v1', kind: 'Secret' };
      expect(await status(watcher.resource(secrets).list({ namespace: tenant }))).toBe(403);
    });
  });
});
