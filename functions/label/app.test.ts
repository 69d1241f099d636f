// The label function's HTTP surface through app.request(): routes, auth, validation and the
// status of each failure, with a stub cluster and an in-process caller rule.
import { beforeAll, describe, expect, test } from 'vitest';
import { KubeError } from '../../shared/kube/index.ts';
import { localCaller } from '../caller.fixture.ts';
import { createApp } from './app.ts';
import type { AppDeps } from './config.ts';

let caller: Awaited<ReturnType<typeof localCaller>>;
beforeAll(async () => {
  caller = await localCaller();
});

/** The dependencies, the cluster answering `info` as given (the handler's first call). */
function deps(info: () => Promise<unknown>): Promise<AppDeps> {
  const cluster = { resource: () => ({ info }) } as unknown as AppDeps['cluster'];
  return Promise.resolve({
    cluster,
    cell: 'local',
    policy: { allowReserved: false, extraNamespaces: [] },
    callers: { http: caller.rule, push: caller.rule },
  });
}
const unused = () => Promise.reject(new Error('not called'));
const body = {
  target: { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'tenant-a', name: 'x' },
  set: { team: 'blue' },
};

async function post(app: ReturnType<typeof createApp>, json: unknown, token?: string) {
  return app.request('/labels', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(json),
  });
}

describe('label app', () => {
  test('an unknown route: 404 JSON', async () => {
    const res = await createApp(deps(unused)).request('/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not-found' });
  });

  test('no token: 401', async () => {
    const res = await post(createApp(deps(unused)), body);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
  });

  test('a valid caller not on the list: 403', async () => {
    const res = await post(createApp(deps(unused)), body, await caller.token('other@p.iam'));
    expect(res.status).toBe(403);
  });

  test('an invalid body: 400 naming the fields', async () => {
    const res = await post(createApp(deps(unused)), { target: {} }, await caller.token());
    expect(res.status).toBe(400);
    const answer = (await res.json()) as {
      error: string;
      details: { fields: { field: string }[] };
    };
    expect(answer.error).toBe('invalid-input');
    expect(answer.details.fields.map((f) => f.field)).toContain('target.apiVersion');
  });

  test("the handler's DomainError code: reserved-key -> 400", async () => {
    const reserved = { ...body, set: { 'kubernetes.io/x': 'y' } };
    const res = await post(createApp(deps(unused)), reserved, await caller.token());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'reserved-key' });
  });

  test("the cluster's 'unavailable': 503 with Retry-After", async () => {
    const down = () => Promise.reject(new KubeError('unavailable', 'no answer', { status: 503 }));
    const res = await post(createApp(deps(down)), body, await caller.token());
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toEqual({ error: 'unavailable', retryable: true });
  });

  test('a bug (plain Error): 500 internal, nothing more', async () => {
    const res = await post(
      createApp(deps(() => Promise.reject(new Error('boom')))),
      body,
      await caller.token(),
    );
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'internal' });
  });
});

// Every route reads its query strictly (shared/http/query.ts): an unknown parameter is a 400
// before the handler runs, never ignored (the stub cluster would fail any call).
test.each(['/labels?dryRun=true', '/pubsub?x=1', '/pubsub/changes?x=1'])(
  'POST %s: an unknown query parameter is 400 invalid-input',
  async (path) => {
    const res = await createApp(deps(unused)).request(path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await caller.token()}`,
      },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid-input' });
  },
);
