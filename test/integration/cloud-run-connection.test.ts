// The provisioning function started the way Cloud Run runs it: no kubeconfig, no pod; only the
// API server's address and CA (KUBEFN_CLUSTER_SERVER, KUBEFN_CLUSTER_CA) and a metadata server.
// It acts as its Google service account (metadata token -> kube-apiserver -> the fake Google's
// token webhook -> RBAC on the User named by the email), its callers present Google ID tokens,
// and the tenant it writes binds kubefn's other identities as GKE Users.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { provisionAudience, startProvisionFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { pubsubProject } from '../../infra/local/stack.ts';
import type { Identity } from '../../shared/identities.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { type FakeGoogle, googleIssuerUrl, startFakeGoogle } from '../support/fakes/google.ts';
import { localGoogleEmail, metadataHostFor } from '../support/google-identity.ts';
import { httpRequest } from '../support/http.ts';
import { uniqueName } from '../support/kube.ts';

let admin: Cluster;
let google: FakeGoogle;
const running: RunningFunction[] = [];

/** The provisioning function with Cloud Run's settings only, acting as `actingAs`'s account. */
async function startOnCloudRunSettings(actingAs: Identity): Promise<RunningFunction> {
  const fn = await startProvisionFunction(admin, stack, {
    env: {
      KUBECONFIG: undefined,
      KUBERNETES_SERVICE_HOST: undefined,
      KUBEFN_CLUSTER_SERVER: stack.server,
      // Base64, as GKE reports clusterCaCertificate.
      KUBEFN_CLUSTER_CA: Buffer.from(readFileSync(stack.caFile)).toString('base64'),
      GCE_METADATA_HOST: await metadataHostFor(localGoogleEmail(actingAs)),
      KUBEFN_RBAC_SUBJECTS: `google:${pubsubProject}`,
      KUBEFN_AUTH_GOOGLE: 'true',
      KUBEFN_AUTH_GOOGLE_JWKS_URL: google.jwksUrl,
      KUBEFN_AUTH_KUBERNETES: 'false',
      KUBEFN_ALLOW_PROVISION: localGoogleEmail('signup'),
      KUBEFN_ALLOW_RESYNC: localGoogleEmail('scheduler'),
    },
  });
  running.push(fn);
  return fn;
}

/** A Google ID token of `caller`'s service account for the provisioning function. */
function idToken(caller: Identity): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return google.idToken({
    iss: googleIssuerUrl,
    aud: provisionAudience,
    email: localGoogleEmail(caller),
    email_verified: true,
    sub: `1${now}`,
    iat: now,
    exp: now + 600,
  });
}

beforeAll(async () => {
  admin = await adminCluster();
  google = await startFakeGoogle();
});
afterAll(async () => {
  await Promise.all(running.map((fn) => fn.stop()));
  await google?.close();
  await admin.close();
});

test('provisions a tenant as its Google identity, binding the others as GKE Users', async () => {
  const fn = await startOnCloudRunSettings('provision');
  const customerId = uniqueName('gke');
  const signup = await idToken('signup');
  const created = await httpRequest(
    `${fn.url}/tenants`,
    signup,
    'POST',
    JSON.stringify({ customerId, plan: 'free' }),
  );
  expect(created.status, created.body).toBe(201);

  const namespace = `tenant-${customerId}`;
  const bindings = admin.resource({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
  });
  for (const identity of ['label', 'ingress-timeout'] as const) {
    const binding = await bindings.get(`kubefn-${identity}`, { namespace });
    expect(binding.subjects).toEqual([
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: localGoogleEmail(identity) },
    ]);
  }
  const status = await httpRequest(`${fn.url}/tenants/${customerId}`, signup, 'GET');
  expect(status.status, status.body).toBe(200);
  const resync = await httpRequest(`${fn.url}/resync`, await idToken('scheduler'), 'POST');
  expect(resync.status, resync.body).toBe(200);
  await admin.resource({ apiVersion: 'v1', kind: 'Namespace' }).delete(namespace);
});

test('the cluster refuses the function when its Google account has no RBAC (403 from kube-apiserver)', async () => {
  // The signup backend's account calls functions but holds no cluster rights.
  const fn = await startOnCloudRunSettings('signup');
  const customerId = uniqueName('gke-denied');
  const created = await httpRequest(
    `${fn.url}/tenants`,
    await idToken('signup'),
    'POST',
    JSON.stringify({ customerId, plan: 'free' }),
  );
  expect(created.status).toBeGreaterThanOrEqual(500);
  expect(JSON.parse(created.body)).toMatchObject({ error: 'forbidden' });
  const namespaces = admin.resource({ apiVersion: 'v1', kind: 'Namespace' });
  expect(await namespaces.find(`tenant-${customerId}`)).toBeUndefined();
});
