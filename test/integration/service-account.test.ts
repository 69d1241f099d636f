// A ServiceAccount token minted by the real TokenRequest API authenticates, and RBAC allows
// exactly what a Role grants it and answers 403 for the rest.
import { beforeAll, expect, test } from 'vitest';
import { kube, uniqueName } from '../support/kube.ts';
import { stack } from '../support/stack.ts';

const ns = uniqueName('sa');
const account = 'reader';
let token = '';

beforeAll(async () => {
  expect(
    (await kube('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } })).status,
  ).toBe(201);
  const sa = await kube('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {
    body: { metadata: { name: account } },
  });
  expect(sa.status).toBe(201);
  const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}`;
  const role = {
    metadata: { name: 'configmap-reader' },
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
  };
  expect((await kube('POST', `${rbac}/roles`, { body: role })).status).toBe(201);
  const binding = {
    metadata: { name: 'reader-reads-configmaps' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
    subjects: [{ kind: 'ServiceAccount', name: account, namespace: ns }],
  };
  expect((await kube('POST', `${rbac}/rolebindings`, { body: binding })).status).toBe(201);

  const request = await kube('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${account}/token`, {
    body: { spec: { expirationSeconds: 600 } },
  });
  expect(request.status).toBe(201);
  token = (request.body.status as { token: string }).token;
  return async () => {
    await kube('DELETE', `/api/v1/namespaces/${ns}`);
  };
});

test('the TokenRequest token authenticates as the ServiceAccount', async () => {
  const review = await kube('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    token,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  expect(review.status).toBe(201);
  expect(review.body).toMatchObject({
    status: { userInfo: { username: `system:serviceaccount:${ns}:${account}` } },
  });
});

test('the issuer publishes its discovery document and keys to service accounts', async () => {
  const discovery = await kube('GET', '/.well-known/openid-configuration', { token });
  expect(discovery.status).toBe(200);
  expect(discovery.body.issuer).toBe(stack.serviceAccountIssuer);
  const keys = await kube('GET', '/openid/v1/jwks', { token, accept: 'application/jwk-set+json' });
  expect(keys.status).toBe(200);
  expect((keys.body.keys as unknown[]).length).toBeGreaterThan(0);
});

test.each([
  {
    what: 'what the Role grants',
    method: 'GET',
    path: `/api/v1/namespaces/${ns}/configmaps`,
    status: 200,
  },
  {
    what: 'another kind in its namespace',
    method: 'GET',
    path: `/api/v1/namespaces/${ns}/secrets`,
    status: 403,
  },
  {
    what: 'a verb the Role lacks',
    method: 'DELETE',
    path: `/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`,
    status: 403,
  },
  {
    what: 'the same kind in kube-system',
    method: 'GET',
    path: '/api/v1/namespaces/kube-system/configmaps',
    status: 403,
  },
  {
    what: 'deleting its own namespace',
    method: 'DELETE',
    path: `/api/v1/namespaces/${ns}`,
    status: 403,
  },
])('RBAC: $what answers $status', async ({ method, path, status }) => {
  const res = await kube(method, path, { token });
  expect(res.status).toBe(status);
  if (status === 403) expect(res.body).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
});

test('a tampered token is rejected with 401', async () => {
  const [header, payload, signature = ''] = token.split('.');
  const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
  const res = await kube('GET', `/api/v1/namespaces/${ns}/configmaps`, {
    token: `${header}.${payload}.${flipped}`,
  });
  expect(res.status).toBe(401);
});
