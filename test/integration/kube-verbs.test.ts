// shared/kube's verbs and errors against the real kube-apiserver, on a core kind (ConfigMap)
// and a custom resource (a CRD installed here).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import {
  closeTestNamespace,
  openTestNamespace,
  serviceAccountToken,
  stack,
  tokenCluster,
} from '../support/cluster.ts';
import { eventually } from '../support/kube.ts';

let cluster: Cluster;
let ns: string;
const configMaps = () => cluster.resource({ apiVersion: 'v1', kind: 'ConfigMap' });

async function failure(promise: Promise<unknown>): Promise<KubeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KubeError);
  return error as KubeError;
}

beforeAll(async () => {
  ({ cluster, ns } = await openTestNamespace('verbs'));
});
afterAll(() => closeTestNamespace(cluster, ns));

describe('a core kind (ConfigMap)', () => {
  test('create, get, list, replace, delete', async () => {
    const created = await configMaps().create({
      metadata: { name: 'one', namespace: ns, labels: { app: 'web' } },
      data: { a: '1' },
    });
    expect(created.metadata?.uid).toBeTruthy();
    const got = await configMaps().get('one', { namespace: ns });
    expect(got).toMatchObject({ data: { a: '1' }, metadata: { labels: { app: 'web' } } });
    const listed = await configMaps().list({ namespace: ns, labelSelector: 'app=web' });
    expect(listed.items.map((i) => i.metadata?.name)).toEqual(['one']);

    const replaced = await configMaps().replace({ ...got, data: { a: '2' } });
    expect(replaced.data).toEqual({ a: '2' });
    expect(replaced.metadata?.resourceVersion).not.toBe(got.metadata?.resourceVersion);

    await configMaps().delete('one', { namespace: ns });
    expect((await failure(configMaps().get('one', { namespace: ns }))).code).toBe('not-found');
  });

  test('patch as JSON merge, JSON patch and strategic merge', async () => {
    await configMaps().create({ metadata: { name: 'patched', namespace: ns }, data: { a: '1' } });
    const merged = await configMaps().patch('patched', { data: { b: '2' } }, { namespace: ns });
    expect(merged.data).toEqual({ a: '1', b: '2' });
    const jsonPatched = await configMaps().patch('patched', [{ op: 'remove', path: '/data/a' }], {
      namespace: ns,
      type: 'json',
    });
    expect(jsonPatched.data).toEqual({ b: '2' });
    const strategic = await configMaps().patch(
      'patched',
      { data: { c: '3' } },
      { namespace: ns, type: 'strategic' },
    );
    expect(strategic.data).toEqual({ b: '2', c: '3' });
  });

  test('server-side apply: owned fields, a conflict between managers, and force', async () => {
    const object = { metadata: { name: 'applied', namespace: ns }, data: { owner: 'first' } };
    const first = await configMaps().apply(object, { fieldManager: 'first' });
    expect(first.data).toEqual({ owner: 'first' });
    const again = await configMaps().apply(object, { fieldManager: 'first' });
    expect(again.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion); // no-op

    const second = { ...object, data: { owner: 'second' } };
    const conflict = await failure(configMaps().apply(second, { fieldManager: 'second' }));
    expect(conflict.code).toBe('conflict');
    const forced = await configMaps().apply(second, { fieldManager: 'second', force: true });
    expect(forced.data).toEqual({ owner: 'second' });
  });

  test('dry run creates and deletes nothing', async () => {
    await configMaps().create(
      { metadata: { name: 'dry', namespace: ns }, data: {} },
      { dryRun: true },
    );
    expect((await failure(configMaps().get('dry', { namespace: ns }))).code).toBe('not-found');
    await configMaps().create({ metadata: { name: 'kept', namespace: ns } });
    await configMaps().delete('kept', { namespace: ns, dryRun: true });
    expect((await configMaps().get('kept', { namespace: ns })).metadata?.name).toBe('kept');
  });

  test('delete with preconditions and a propagation policy', async () => {
    const object = await configMaps().create({ metadata: { name: 'guarded', namespace: ns } });
    const wrongUid = await failure(
      configMaps().delete('guarded', { namespace: ns, preconditions: { uid: 'not-its-uid' } }),
    );
    expect(wrongUid.code).toBe('conflict');
    await configMaps().delete('guarded', {
      namespace: ns,
      propagationPolicy: 'Foreground',
      preconditions: {
        uid: object.metadata?.uid ?? '',
        resourceVersion: object.metadata?.resourceVersion ?? '',
      },
    });
    await eventually('foreground deletion done', 30_000, async () =>
      (await configMaps()
        .get('guarded', { namespace: ns })
        .catch((e: KubeError) => e.code)) === 'not-found'
        ? true
        : undefined,
    );
  });

  test.each([
    {
      code: 'already-exists',
      act: async () => {
        await configMaps().create({ metadata: { name: 'twice', namespace: ns } });
        await configMaps().create({ metadata: { name: 'twice', namespace: ns } });
      },
    },
    {
      code: 'conflict',
      act: async () => {
        const stale = await configMaps().create({ metadata: { name: 'stale', namespace: ns } });
        await configMaps().replace({ ...stale, data: { first: 'write' } });
        await configMaps().replace({ ...stale, data: { second: 'write' } }); // old resourceVersion
      },
    },
    { code: 'not-found', act: () => configMaps().get('absent', { namespace: ns }) },
    {
      code: 'invalid',
      act: () => configMaps().create({ metadata: { name: 'Not_A_Valid_Name', namespace: ns } }),
    },
  ])('a Status becomes KubeError $code', async ({ code, act }) => {
    const error = await failure(act());
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(false);
    if (code === 'invalid') {
      expect(error.causes).toContainEqual(expect.objectContaining({ field: 'metadata.name' }));
    }
  });
});

describe('a custom resource', () => {
  const group = 'test.kubefn.dev';
  const widgets = () => cluster.resource({ apiVersion: `${group}/v1`, kind: 'Widget' });

  beforeAll(async () => {
    const crds = cluster.resource({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
    });
    await crds.apply(
      {
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: {
                      type: 'object',
                      properties: { size: { type: 'integer', minimum: 1 } },
                    },
                  },
                },
              },
            },
          ],
        },
      },
      { fieldManager: 'kubefn-tests' },
    );
    // The new kind is served once the CRD is Established; discovery finds it then.
    await eventually('CRD established', 30_000, async () => {
      const crd = await crds.get(`widgets.${group}`);
      const conditions = (crd.status as { conditions?: { type: string; status: string }[] })
        ?.conditions;
      return conditions?.some((c) => c.type === 'Established' && c.status === 'True')
        ? true
        : undefined;
    });
  });

  test('the verbs work through discovery, on a kind the client has no code for', async () => {
    const widget: KubeObject = { metadata: { name: 'w1', namespace: ns }, spec: { size: 3 } };
    const created = await eventually('widget kind served', 30_000, () =>
      widgets()
        .create(widget)
        .catch((e: KubeError) => (e.code === 'not-found' ? undefined : Promise.reject(e))),
    );
    expect(created.apiVersion).toBe(`${group}/v1`);
    expect((await widgets().info()).plural).toBe('widgets');
    const patched = await widgets().patch('w1', { spec: { size: 5 } }, { namespace: ns });
    expect(patched.spec).toEqual({ size: 5 });
    const applied = await widgets().apply(
      { metadata: { name: 'w2', namespace: ns }, spec: { size: 1 } },
      { fieldManager: 'kubefn-tests' },
    );
    expect(applied.kind).toBe('Widget');
    expect((await widgets().list({ namespace: ns })).items).toHaveLength(2);
    // Custom resources take no strategic merge patch: a clear error, not a silent merge.
    const strategic = await failure(
      widgets().patch('w1', { spec: { size: 2 } }, { namespace: ns, type: 'strategic' }),
    );
    expect(strategic.code).toBe('unsupported');
    const invalid = await failure(
      widgets().create({ metadata: { name: 'w3', namespace: ns }, spec: { size: 0 } }),
    );
    expect(invalid.code).toBe('invalid');
    await widgets().delete('w1', { namespace: ns });
    expect((await widgets().list({ namespace: ns })).items).toHaveLength(1);
  });

  test('an unknown kind is a clear not-found error', async () => {
    const error = await failure(
      cluster.resource({ apiVersion: `${group}/v1`, kind: 'Gadget' }).info(),
    );
    expect(error.code).toBe('not-found');
    expect(error.message).toContain('Gadget');
  });
});

describe('credentials', () => {
  test('a token provider authenticates; RBAC answers forbidden; a bad token unauthorized', async () => {
    await cluster
      .resource({ apiVersion: 'v1', kind: 'ServiceAccount' })
      .create({ metadata: { name: 'nobody', namespace: ns } });
    const token = await serviceAccountToken(cluster, ns, 'nobody');
    const asNobody = tokenCluster(token);
    const forbidden = await failure(
      asNobody.resource({ apiVersion: 'v1', kind: 'ConfigMap' }).list({ namespace: ns }),
    );
    expect(forbidden.code).toBe('forbidden');
    expect(forbidden.message).not.toContain(token);

    const badToken = `${token.slice(0, -4)}AAAA`;
    const asForger = tokenCluster(badToken);
    const unauthorized = await failure(asForger.client.request('/api/v1/namespaces'));
    expect(unauthorized.code).toBe('unauthorized');
    expect(unauthorized.message).not.toContain(badToken);
    await Promise.all([asNobody.close(), asForger.close()]);
  });

  test('the raw escape hatch calls any path with the configured credentials', async () => {
    const version = await cluster.raw('/version');
    expect(version.status).toBe(200);
    expect(await version.json()).toMatchObject({ major: '1' });
    const missing = await cluster.raw('/no/such/path');
    expect(missing.status).toBe(404);
    missing.discard();
  });

  test('a call can time out and be aborted', async () => {
    const timedOut = await failure(configMaps().watch({ namespace: ns, timeoutMs: 1 }).next());
    expect(timedOut.code).toBe('timeout');
    const controller = new AbortController();
    controller.abort();
    const aborted = await failure(configMaps().list({ namespace: ns, signal: controller.signal }));
    expect(aborted.code).toBe('aborted');
  });

  test('the server URL in stack.json is the one the kubeconfig names', () => {
    expect(cluster.client.server).toBe(stack.server);
  });
});
