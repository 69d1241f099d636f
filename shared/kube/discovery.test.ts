import { expect, test } from 'vitest';
import { KubeClient } from './client.ts';
import { Discovery } from './discovery.ts';
import type { KubeError } from './errors.ts';

// Nothing listens on port 1: any request fails, so a resolved kind was resolved without one.
const unreachable = () =>
  new Discovery(
    new KubeClient(
      { server: 'http://127.0.0.1:1' },
      { retry: { attempts: 1, baseMs: 1, capMs: 1 } },
    ),
  );

test('stable built-in kinds resolve without asking the server', async () => {
  const discovery = unreachable();
  expect(await discovery.resolve({ apiVersion: 'apps/v1', kind: 'Deployment' })).toEqual({
    group: 'apps',
    version: 'v1',
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    plural: 'deployments',
    namespaced: true,
  });
  expect(await discovery.resolve({ apiVersion: 'v1', plural: 'namespaces' })).toMatchObject({
    kind: 'Namespace',
    group: '',
    namespaced: false,
  });
});

test('other kinds, and built-in kinds under another version, go to discovery', async () => {
  const discovery = unreachable();
  for (const ref of [
    { apiVersion: 'cloud.google.com/v1', kind: 'BackendConfig' },
    { apiVersion: 'apps/v1beta1', kind: 'Deployment' },
  ]) {
    const error = (await discovery.resolve(ref).catch((e: unknown) => e)) as KubeError;
    expect(error.code).toBe('network');
  }
});
