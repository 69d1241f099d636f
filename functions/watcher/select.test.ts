import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../shared/kube/index.ts';
import { ChangeDigests } from './select.ts';

const ingress = (change: Record<string, unknown> = {}): KubeObject => ({
  metadata: {
    name: 'web',
    namespace: 'tenant-a',
    resourceVersion: '1',
    annotations: { 'kubefn.dev/backend-timeout': '90s' },
    ...(change.metadata as object),
  },
  spec: { rules: [] },
  ...Object.fromEntries(Object.entries(change).filter(([k]) => k !== 'metadata')),
});

describe('ChangeDigests: a MODIFIED is news only when it alters what consumers read', () => {
  test.each([
    ['a new resourceVersion alone', ingress({ metadata: { resourceVersion: '2' } }), false],
    ['status alone (a controller)', ingress({ status: { loadBalancer: { ingress: [] } } }), false],
    ['managedFields alone', ingress({ metadata: { managedFields: [{ manager: 'x' }] } }), false],
    [
      "kubefn's applied record alone (its own bookkeeping)",
      ingress({
        metadata: {
          annotations: {
            'kubefn.dev/backend-timeout': '90s',
            'kubefn.dev/backend-timeout-applied': '{"timeoutSec":90}',
          },
        },
      }),
      false,
    ],
    [
      "the operator's annotation",
      ingress({ metadata: { annotations: { 'kubefn.dev/backend-timeout': '120s' } } }),
      true,
    ],
    ['a label', ingress({ metadata: { labels: { plan: 'pro' } } }), true],
    ['the spec', ingress({ spec: { rules: [{ host: 'a.example' }] } }), true],
  ])('%s: %s', (_what, next, news) => {
    const digests = new ChangeDigests();
    expect(digests.isNews({ type: 'ADDED', object: ingress() })).toBe(true);
    expect(digests.isNews({ type: 'MODIFIED', object: next })).toBe(news);
  });

  test('ADDED and DELETED are always news; after a deletion the object starts afresh', () => {
    const digests = new ChangeDigests();
    expect(digests.isNews({ type: 'ADDED', object: ingress() })).toBe(true);
    expect(digests.isNews({ type: 'ADDED', object: ingress() })).toBe(true);
    expect(digests.isNews({ type: 'DELETED', object: ingress() })).toBe(true);
    // Unknown (a restart, a deletion): a MODIFIED is published.
    expect(digests.isNews({ type: 'MODIFIED', object: ingress() })).toBe(true);
    expect(digests.isNews({ type: 'MODIFIED', object: ingress() })).toBe(false);
  });
});
