// A namespace's lifecycle over plain HTTP, on the real kube-apiserver: 201, then 409 AlreadyExists,
// then a deletion that the namespace controller finalizes.
import { expect, test } from 'vitest';
import { eventually, kube, uniqueName } from '../support/kube.ts';

const namespace = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

test('a namespace is created (201), refused again (409 AlreadyExists), and deleted for good', async () => {
  const name = uniqueName('ns');
  const created = await kube('POST', '/api/v1/namespaces', { body: namespace(name) });
  expect(created.status).toBe(201);

  const again = await kube('POST', '/api/v1/namespaces', { body: namespace(name) });
  expect(again.status).toBe(409);
  expect(again.body).toMatchObject({ kind: 'Status', reason: 'AlreadyExists' });

  // Content inside the namespace, so that finalizing it takes the controller's real work.
  const configMap = { metadata: { name: 'content' }, data: { key: 'value' } };
  const content = await kube('POST', `/api/v1/namespaces/${name}/configmaps`, { body: configMap });
  expect(content.status).toBe(201);

  const deleted = await kube('DELETE', `/api/v1/namespaces/${name}`);
  expect(deleted.status).toBe(200);
  expect(deleted.body).toMatchObject({ status: { phase: 'Terminating' } });

  // Only kube-controller-manager's namespace controller removes the `kubernetes` finalizer.
  await eventually('namespace finalized', 60_000, async () => {
    const res = await kube('GET', `/api/v1/namespaces/${name}`);
    return res.status === 404 ? res : undefined;
  });
});
