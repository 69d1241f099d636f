// The signup backend through app.request(), with the emulator's kind of token (unsigned, the
// verifier in emulator mode) and a recorder in provision's place that answers as told: what the
// backend sends for a customer, and that a refused request sends nothing.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { AuthError } from '../../shared/auth/errors.ts';
import {
  identityPlatformIssuer,
  identityPlatformIssuerName,
  verifyCustomerToken,
} from '../../shared/auth/identity-platform.ts';
import { createApp, type SignupDeps } from './app.ts';
import { page } from './page.ts';

const projectId = 'demo-kubefn';
const uid = 'Uf3kQ9w2bXc7RkLmP0aZ1yT4vN8s';
type Received = { method: string; url: string; authorization: string; body: unknown };
let received: Received[] = [];
let answer = { status: 201, body: { created: true } as unknown };
let server: Server;
let app: ReturnType<typeof createApp>;
let deps: SignupDeps;

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization ?? '',
        body: text ? JSON.parse(text) : undefined,
      });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = identityPlatformIssuer({ projectId, jwksUrl: 'http://127.0.0.1:9/unused' });
  deps = {
    provisionUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: async () => 'backend-token',
    customer: (authorization) =>
      verifyCustomerToken(authorization, { projectId, issuer, emulator: true }),
    signIn: {
      apiKey: 'emulator-api-key',
      identityToolkit: 'http://127.0.0.1:9099/identitytoolkit.googleapis.com',
      secureToken: 'http://127.0.0.1:9099/securetoken.googleapis.com',
      emulator: true,
    },
    log: () => {},
  };
  app = createApp(deps);
});
afterAll(() => server.close());
beforeEach(() => {
  received = [];
  answer = { status: 201, body: { created: true } };
});

const token = (claims: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return new UnsecuredJWT({
    iss: identityPlatformIssuerName(projectId),
    aud: projectId,
    sub: uid,
    email: 'ada@example.com',
    email_verified: true,
    auth_time: now,
    iat: now,
    exp: now + 3600,
    ...claims,
  }).encode();
};
const signup = (body: unknown, bearer?: string, through = app) =>
  through.request('/api/signup', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    body: JSON.stringify(body),
  });

test('the page carries its sign-in settings, and nothing can close its script', async () => {
  const res = await app.request('/');
  const html = await res.text();
  expect(res.status).toBe(200);
  expect(html).toContain(
    '"identityToolkit":"http://127.0.0.1:9099/identitytoolkit.googleapis.com"',
  );
  expect(html).not.toContain('__SIGN_IN_CONFIG__');
  const hostile = page({
    apiKey: '</script><script>alert(1)</script>',
    identityToolkit: '',
    secureToken: '',
    emulator: false,
  });
  expect(hostile).not.toContain('<script>alert(1)');
  expect(hostile).toContain('\\u003c/script>\\u003cscript>alert(1)');
});

test.each([
  ['POST', '/api/signup'],
  ['GET', '/api/tenants'],
  ['GET', '/api/tenants/acme'],
])('%s %s without a token: 401, provision never called', async (method, path) => {
  const res = await app.request(path, {
    method,
    ...(method === 'POST'
      ? { headers: { 'content-type': 'application/json' }, body: '{"customerId":"a","plan":"pro"}' }
      : {}),
  });
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toContain('invalid_token');
  expect(await res.json()).toMatchObject({ error: 'unauthenticated' });
  expect(received).toEqual([]);
});

test('an unverified email: 403 email-not-verified, provision never called', async () => {
  const res = await signup({ customerId: 'acme', plan: 'free' }, token({ email_verified: false }));
  expect(res.status).toBe(403);
  expect(await res.json()).toMatchObject({ error: 'email-not-verified' });
  expect(received).toEqual([]);
});

test('the body cannot name an owner or an entitlement: 400, provision never called', async () => {
  const res = await signup(
    { customerId: 'acme', plan: 'pro', owner: { uid: 'someone', entitlement: 'pro' } },
    token(),
  );
  expect(res.status).toBe(400);
  expect(received).toEqual([]);
});

test('a sign-up is sent with the customer from the token, under the backend’s own token', async () => {
  const res = await signup({ customerId: 'acme', plan: 'pro' }, token({ kubefnPlan: 'pro' }));
  expect(res.status).toBe(201);
  expect(received).toEqual([
    {
      method: 'POST',
      url: '/tenants',
      authorization: 'Bearer backend-token',
      body: {
        customerId: 'acme',
        plan: 'pro',
        owners: [],
        owner: { uid, email: 'ada@example.com', entitlement: 'pro' },
      },
    },
  ]);
});

test('reads are the customer’s own: the owner goes with them', async () => {
  answer = { status: 200, body: { tenants: [] } };
  await app.request('/api/tenants', { headers: { authorization: `Bearer ${token()}` } });
  await app.request('/api/tenants/acme', { headers: { authorization: `Bearer ${token()}` } });
  expect(received.map((r) => `${r.method} ${r.url}`)).toEqual([
    `GET /tenants?owner=${uid}`,
    `GET /tenants/acme?owner=${uid}`,
  ]);
});

test.each([
  [403, { error: 'plan-not-entitled', message: 'm' }, 403, 'plan-not-entitled'],
  [403, { error: 'tenant-limit', message: 'm' }, 403, 'tenant-limit'],
  [404, { error: 'no-such-tenant', message: 'm' }, 404, 'no-such-tenant'],
  [403, { error: 'forbidden' }, 502, 'provisioning-refused'],
  [401, { error: 'unauthenticated' }, 502, 'provisioning-refused'],
])('provision answers %i %o: the customer gets %i %s', async (status, body, expected, code) => {
  answer = { status, body };
  const res = await signup({ customerId: 'acme', plan: 'free' }, token());
  expect(res.status).toBe(expected);
  expect(await res.json()).toMatchObject({ error: code });
});

test.each([
  ['that is not JSON', 'application/json', '{"customerId":', 400, 'invalid-json'],
  [
    'not sent as JSON',
    'text/plain',
    '{"customerId":"acme","plan":"free"}',
    415,
    'unsupported-media-type',
  ],
  [
    'over 1 KiB',
    'application/json',
    JSON.stringify({ customerId: 'acme', plan: 'free', padding: 'x'.repeat(1100) }),
    413,
    'too-large',
  ],
])('a body %s: %i %s, provision never called', async (_, type, body, status, code) => {
  const res = await app.request('/api/signup', {
    method: 'POST',
    headers: { 'content-type': type, authorization: `Bearer ${token()}` },
    body,
  });
  expect(res.status).toBe(status);
  expect(await res.json()).toMatchObject({ error: code });
  expect(received).toEqual([]);
});

test('sign-in cannot be checked (the keys unavailable): 503 unavailable, Retry-After, provision never called', async () => {
  const keysDown = createApp({
    ...deps,
    customer: async () => {
      throw new AuthError('keys-unavailable');
    },
  });
  const res = await signup({ customerId: 'acme', plan: 'free' }, token(), keysDown);
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('10');
  expect(await res.json()).toMatchObject({ error: 'unavailable' });
  expect(received).toEqual([]);
});

test('provision unreachable: 503 provisioning-unavailable, nothing more said', async () => {
  // A port that was just free and is closed again: the connection is refused.
  const closed = createServer().listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const { port } = closed.address() as AddressInfo;
  await new Promise((resolve) => closed.close(resolve));
  const unreachable = createApp({ ...deps, provisionUrl: `http://127.0.0.1:${port}` });
  const res = await signup({ customerId: 'acme', plan: 'free' }, token(), unreachable);
  expect(res.status).toBe(503);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ error: 'provisioning-unavailable' });
  expect(JSON.stringify(body)).not.toContain(String(port));
});

// Query parameters are read strictly, as provision reads them (shared/http/query.ts): a
// `?dryRun=true` the backend does not take must not fall through to a real sign-up.
test.each([
  ['POST', '/api/signup?dryRun=true', 'dryRun'],
  ['POST', '/api/signup?dryRun=true&dryRun=false', 'dryRun'],
  ['GET', '/api/tenants?owner=someone-else', 'owner'],
  ['GET', '/api/tenants/acme?owner=someone-else', 'owner'],
  ['GET', '/?dryRun=true', 'dryRun'],
])('%s %s: 400 invalid-input naming %s, provision never called', async (method, path, field) => {
  const res = await app.request(path, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token()}` },
    ...(method === 'POST' ? { body: JSON.stringify({ customerId: 'acme', plan: 'free' }) } : {}),
  });
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: string; details: { fields: { field: string }[] } };
  expect(body.error).toBe('invalid-input');
  expect(body.details.fields.map((f) => f.field)).toEqual([field]);
  expect(received).toEqual([]);
});

test('the region chosen goes to placement; the customer is told the region, never the cell', async () => {
  answer = { status: 201, body: { created: true, region: 'europe-west1', cell: 'eu1' } };
  const res = await signup({ customerId: 'acme', plan: 'free', region: 'europe-west1' }, token());
  expect(res.status).toBe(201);
  expect(await res.json()).toEqual({ created: true, region: 'europe-west1' });
  expect(received[0]?.body).toMatchObject({ customerId: 'acme', region: 'europe-west1' });
  answer = {
    status: 200,
    body: { tenants: [{ customerId: 'acme', region: 'europe-west1', cell: 'eu1' }] },
  };
  const list = await app.request('/api/tenants', {
    headers: { authorization: `Bearer ${token()}` },
  });
  expect(await list.json()).toEqual({ tenants: [{ customerId: 'acme', region: 'europe-west1' }] });
});

test.each([
  ['placement', 200, { regions: ['europe-west1', 'us-central1'] }, ['europe-west1', 'us-central1']],
  ["one cell's provision (no regions)", 404, { error: 'not-found' }, []],
])('GET /api/regions from %s', async (_from, status, body, regions) => {
  answer = { status, body };
  const res = await app.request('/api/regions', {
    headers: { authorization: `Bearer ${token()}` },
  });
  expect([res.status, await res.json()]).toEqual([200, { regions }]);
  expect(received.map((r) => r.url)).toEqual(['/regions']);
});
