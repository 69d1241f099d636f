// The ingress-timeout function's HTTP surface through app.request(), with a stub cluster (every
// call fails as given) and an in-process caller rule per route.
import { beforeAll, expect, test } from 'vitest';
import { KubeError } from '../../shared/kube/index.ts';
import { localCaller } from '../caller.fixture.ts';
import { createApp } from './app.ts';
import type { AppDeps } from './config.ts';

let caller: Awaited<ReturnType<typeof localCaller>>;
beforeAll(async () => {
  caller = await localCaller();
});

const app = (error: unknown = new Error('not called')) =>
  createApp(
    Promise.resolve({
      cell: 'local',
      cluster: new Proxy(
        {},
        {
          get: () => () => {
            throw error;
          },
        },
      ) as AppDeps['cluster'],
      mode: 'backendconfig',
      compute: undefined,
      callers: { one: caller.rule, push: caller.rule, resync: caller.rule },
    }),
  );
const auth = async () => ({ authorization: `Bearer ${await caller.token()}` });
const post = { method: 'POST' };

test('an unknown route: 404 JSON', async () => {
  const res = await app().request('/nope', { headers: await auth() });
  expect(res.status).toBe(404);
  expect(await res.json()).toEqual({ error: 'not-found' });
});

test('no token: 401 on every route; a caller not on the list: 403', async () => {
  for (const path of ['/ingresses/a/b', '/pubsub', '/resync'])
    expect((await app().request(path, post)).status).toBe(401);
  const other = { authorization: `Bearer ${await caller.token('x@p.iam')}` };
  expect((await app().request('/resync', { ...post, headers: other })).status).toBe(403);
});

// Kubernetes' own name rules (shared/kube/names.ts): 'a..b' was accepted here before, and then
// looked up; the API server can hold no such name.
test.each(['/ingresses/Bad_NS/x', '/ingresses/a/a..b', '/ingresses/a/a.-b'])(
  'invalid names (%s): 400 naming the fields, the cluster not called',
  async (path) => {
    const res = await app().request(path, { ...post, headers: await auth() });
    expect(res.status).toBe(400);
    const answer = (await res.json()) as {
      error: string;
      details: { fields: { field: string }[] };
    };
    expect(answer.error).toBe('invalid-input');
    expect(answer.details.fields.map((f) => f.field)).toEqual(['namespace', 'name']);
  },
);

test("the cluster's 'unavailable' on resync: 503 with Retry-After", async () => {
  const res = await app(new KubeError('unavailable', 'down', { status: 503 })).request('/resync', {
    ...post,
    headers: await auth(),
  });
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('5');
});

test('a bug (plain Error) on resync: 500 internal', async () => {
  const res = await app(new Error('boom')).request('/resync', { ...post, headers: await auth() });
  expect(res.status).toBe(500);
  expect(await res.json()).toEqual({ error: 'internal' });
});

// Every route reads its query strictly (shared/http/query.ts): an unknown parameter is a 400
// before the handler runs, never ignored (the stub cluster would fail any call).
test.each(['/ingresses/a/b?x=1', '/pubsub?x=1', '/resync?dryRun=true'])(
  'POST %s: an unknown query parameter is 400 invalid-input',
  async (path) => {
    const res = await app().request(path, {
      ...post,
      headers: { ...(await auth()), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid-input' });
  },
);
