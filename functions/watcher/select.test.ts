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
    ['a new resourceVersion alone', ingress({ metadata: { resourceVersion: '2' } }), undefined],
    [
      'status alone (a controller)',
      ingress({ status: { loadBalancer: { ingress: [] } } }),
      undefined,
    ],
    [
      'managedFields alone',
      ingress({ metadata: { managedFields: [{ manager: 'x' }] } }),
      undefined,
    ],
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
      undefined,
    ],
    [
      "the operator's annotation",
      ingress({ metadata: { annotations: { 'kubefn.dev/backend-timeout': '120s' } } }),
      ['annotations'],
    ],
    ['a label', ingress({ metadata: { labels: { plan: 'pro' } } }), ['labels']],
    ['the spec', ingress({ spec: { rules: [{ host: 'a.example' }] } }), ['spec']],
    ['a finalizer (other metadata)', ingress({ metadata: { finalizers: ['x'] } }), ['spec']],
    [
      'a label and the spec',
      ingress({ metadata: { labels: { a: 'b' } }, spec: { rules: [{ host: 'b' }] } }),
      ['labels', 'spec'],
    ],
  ])('%s: %s', (_what, next, changed) => {
    const digests = new ChangeDigests();
    expect(digests.changes({ type: 'ADDED', object: ingress() })).toEqual([]);
    expect(digests.changes({ type: 'MODIFIED', object: next })).toEqual(changed);
  });

  test('ADDED and DELETED are always news; after a deletion the object starts afresh', () => {
    const digests = new ChangeDigests();
    expect(digests.changes({ type: 'ADDED', object: ingress() })).toEqual([]);
    expect(digests.changes({ type: 'ADDED', object: ingress() })).toEqual([]);
    expect(digests.changes({ type: 'DELETED', object: ingress() })).toEqual([]);
    // Unknown (a restart, a deletion): a MODIFIED is published as changing everything.
    expect(digests.changes({ type: 'MODIFIED', object: ingress() })).toEqual([
      'labels',
      'annotations',
      'spec',
    ]);
    expect(digests.changes({ type: 'MODIFIED', object: ingress() })).toBeUndefined();
  });
});
