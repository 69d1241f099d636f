// The provisioning function's HTTP surface through app.request(), with a stub cluster (every
// call fails as given) and an in-process caller rule.
import { beforeAll, expect, test } from 'vitest';
import { subjectsByIdentity } from '../../shared/identities.ts';
import { KubeError } from '../../shared/kube/index.ts';
import { localCaller } from '../caller.fixture.ts';
import { type AppDeps, createApp } from './app.ts';
import type { Templates } from './render.ts';
import bundle from './templates/bundle.json' with { type: 'json' };
import plans from './templates/plans.json' with { type: 'json' };

let caller: Awaited<ReturnType<typeof localCaller>>;
beforeAll(async () => {
  caller = await localCaller();
});

// Every call the handler makes on the cluster fails with `error`.
const failing = (error: unknown) =>
  new Proxy(
    {},
    {
      get: () => () => {
        throw error;
      },
    },
  ) as AppDeps['cluster'];
const app = (error: unknown = new Error('not called')) =>
  createApp(
    Promise.resolve({
      cluster: failing(error),
      cell: 'local',
      templates: { bundle, plans } as Templates,
      namespacePrefix: 'tenant-',
      subjects: subjectsByIdentity([{ kind: 'serviceaccounts' }]),
      caller: caller.rule,
      resyncCaller: caller.rule,
      operatorCaller: caller.rule,
      moveCaller: caller.rule,
      pushCaller: caller.rule,
      fanOut: undefined,
    }),
  );
const auth = async () => ({ authorization: `Bearer ${await caller.token()}` });

test('an unknown route: 404 JSON', async () => {
  const res = await app().request('/nope', { headers: await auth() });
  expect(res.status).toBe(404);
  expect(await res.json()).toEqual({ error: 'not-found' });
});

test('no token: 401, on every route', async () => {
  for (const [method, path] of [
    ['POST', '/tenants'],
    ['GET', '/tenants/a'],
    ['DELETE', '/tenants/a'],
    ['POST', '/resync'],
    ['POST', '/pubsub/resync'],
    ['POST', '/pubsub/changes'],
    ['POST', '/pubsub/tenants'],
    ['POST', '/moves/a/out'],
    ['PUT', '/moves/a/in'],
    ['DELETE', '/moves/a/out'],
    ['POST', '/moves/a/thaw'],
    ['DELETE', '/moves/a/in?from=eu1'],
  ] as const)
    expect((await app().request(path, { method })).status).toBe(401);
});

test('an invalid body: 400 naming the fields', async () => {
  const res = await app().request('/tenants', {
    method: 'POST',
    headers: { ...(await auth()), 'content-type': 'application/json' },
    body: JSON.stringify({ customerId: 'Not Valid', plan: 'nope', owners: [] }),
  });
  expect(res.status).toBe(400);
  const answer = (await res.json()) as { error: string; details: { fields: { field: string }[] } };
  expect(answer.error).toBe('invalid-input');
  expect(answer.details.fields.map((f) => f.field)).toContain('customerId');
});

test('a DomainError code: an invalid customer id in the path -> 400', async () => {
  const res = await app().request('/tenants/Bad_Id', { headers: await auth() });
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ error: 'invalid-input' });
});

test("the cluster's 'unavailable': 503 with Retry-After", async () => {
  const res = await app(new KubeError('unavailable', 'down', { status: 503 })).request(
    '/tenants/acme',
    { headers: await auth() },
  );
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('5');
  expect(await res.json()).toEqual({ error: 'unavailable', retryable: true });
});

test('a bug (plain Error): 500 internal', async () => {
  const res = await app(new Error('boom')).request('/tenants/acme', { headers: await auth() });
  expect(res.status).toBe(500);
  expect(await res.json()).toEqual({ error: 'internal' });
});

test('dependencies that failed to load: the request awaiting them answers', async () => {
  const broken = createApp(Promise.reject(new KubeError('network', 'no cluster')));
  const res = await broken.request('/tenants/acme', { headers: await auth() });
  expect(res.status).toBe(503);
});

const push = async (path: string, data: unknown, error?: unknown) =>
  app(error).request(path, {
    method: 'POST',
    headers: { ...(await auth()), 'content-type': 'application/json' },
    body: JSON.stringify({
      subscription: 'projects/p/subscriptions/s',
      message: {
        messageId: String(Math.random()),
        data: Buffer.from(JSON.stringify(data)).toString('base64'),
      },
    }),
  });

// A tenant request that cannot be valid is acknowledged (200) as rejected, before any call on the
// cluster (the stub would fail it): retrying cannot make it valid.
test.each([
  [
    'an unknown action',
    { action: 'destroy', customerId: 'a', requestedAt: '2026-12-03T10:00:00Z' },
  ],
  ['no requestedAt', { action: 'suspend', customerId: 'a' }],
  [
    'a requestedAt that is no timestamp',
    { action: 'suspend', customerId: 'a', requestedAt: 'now' },
  ],
  [
    'a cancel without confirm',
    { action: 'cancel', customerId: 'a', requestedAt: '2026-12-03T10:00:00Z' },
  ],
  [
    'a bad customer id',
    { action: 'resume', customerId: 'A B', requestedAt: '2026-12-03T10:00:00Z' },
  ],
  [
    'an unknown field',
    { action: 'suspend', customerId: 'a', requestedAt: '2026-12-03T10:00:00Z', x: 1 },
  ],
])('/pubsub/tenants: %s is rejected, nothing called', async (_, data) => {
  const res = await push('/pubsub/tenants', data);
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ outcome: 'rejected', code: 'data-mismatch' });
});

test('/pubsub/tenants: the cluster unavailable is 503 (Pub/Sub redelivers)', async () => {
  const res = await push(
    '/pubsub/tenants',
    { action: 'suspend', customerId: 'a', requestedAt: '2026-12-03T10:00:00Z' },
    new KubeError('unavailable', 'down', { status: 503 }),
  );
  expect(res.status).toBe(503);
});

test('/pubsub/changes: a change outside the tenant namespaces is ignored without a call', async () => {
  const res = await push('/pubsub/changes', {
    type: 'DELETED',
    object: {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'q', namespace: 'kube-system' },
    },
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({
    outcome: 'ignored',
    reason: 'not in a tenant namespace',
  });
});

// Every route reads its query strictly (shared/http/query.ts): an unknown parameter is a 400
// before the handler runs, never ignored (the stub cluster would fail any call).
test.each([
  ['POST', '/tenants?dryrun=true'],
  ['GET', '/tenants?owner=u&x=1'],
  ['GET', '/tenants/acme?x=1'],
  ['DELETE', '/tenants/acme?confirm=acme&dryrun=true'],
  ['POST', '/resync?dryRun=true'],
  ['POST', '/pubsub/resync?x=1'],
  ['POST', '/pubsub/changes?x=1'],
  ['POST', '/pubsub/tenants?x=1'],
])('%s %s: an unknown query parameter is 400 invalid-input', async (method, path) => {
  const res = await app().request(path, {
    method,
    headers: { ...(await auth()), 'content-type': 'application/json' },
    ...(method === 'POST' ? { body: '{}' } : {}),
  });
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ error: 'invalid-input' });
});

test('a move snapshot that reaches beyond the tenant, or sets what kubefn decides: 400, nothing read or written', async () => {
  const snapshot = {
    customerId: 'acme',
    from: 'eu1',
    plan: 'free',
    owners: [],
    phase: 'Ready',
    carried: [] as object[],
  };
  const base = { apiVersion: 'v1', kind: 'Namespace', name: 'tenant-acme', manager: 'ops' };
  for (const [path, body] of [
    ['/moves/other/in', snapshot],
    ['/moves/acme/in', { ...snapshot, carried: [{ ...base, name: 'kube-system' }] }],
    [
      '/moves/acme/in',
      { ...snapshot, carried: [{ ...base, labels: { 'kubefn.dev/plan': 'pro' } }] },
    ],
    [
      '/moves/acme/in',
      { ...snapshot, carried: [{ ...base, manager: 'kubefn-provision', labels: { a: 'b' } }] },
    ],
    [
      '/moves/acme/in',
      { ...snapshot, carried: [{ ...base, annotations: { 'kubernetes.io/x': 'y' } }] },
    ],
    ['/moves/acme/in', { ...snapshot, phase: 'Gone' }],
  ] as const) {
    // The stub cluster fails any call with a 500: a 400 means nothing was asked of it.
    const res = await app().request(path, {
      method: 'PUT',
      headers: { ...(await auth()), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect([res.status, ((await res.json()) as { error: string }).error], path).toEqual([
      400,
      'invalid-input',
    ]);
  }
});
