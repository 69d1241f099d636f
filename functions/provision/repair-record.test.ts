import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../shared/kube/index.ts';
import { healLatencyMs, lastRepairAnnotation, lastRepairOf } from './repair-record.ts';

const now = new Date('2026-12-07T10:00:05.250Z');

describe('healLatencyMs', () => {
  test.each([
    ['2026-12-07T10:00:04.000Z', 1250],
    ['2026-12-07T10:00:05.250Z', 0],
    // A publish time ahead of our clock (skew) is no negative latency.
    ['2026-12-07T10:00:06.000Z', 0],
    [undefined, undefined],
    ['not a time', undefined],
  ])('published %s -> %s ms', (published, expected) => {
    expect(healLatencyMs(published, now)).toBe(expected);
  });
});

const ns = (value: string | undefined): KubeObject => ({
  kind: 'Namespace',
  metadata: { name: 'tenant-acme', annotations: value ? { [lastRepairAnnotation]: value } : {} },
});

describe('lastRepairOf', () => {
  const repair = {
    at: '2026-12-07T10:00:05.250Z',
    by: 'heal',
    object: 'ResourceQuota/tenant-quota',
    was: 'missing',
    latencyMs: 1250,
  };
  test.each([
    ['a recorded repair', JSON.stringify(repair), repair],
    [
      'a scheduled repair, no latency',
      JSON.stringify({ ...repair, by: 'resync', latencyMs: undefined }),
      { ...repair, by: 'resync', latencyMs: undefined },
    ],
    ['no annotation', undefined, undefined],
    ['not JSON', '{', undefined],
    ['another shape', JSON.stringify({ at: 'yesterday' }), undefined],
    ['an unknown source', JSON.stringify({ ...repair, by: 'someone' }), undefined],
  ])('%s', (_, value, expected) => {
    const read = lastRepairOf(ns(value));
    expect(read && JSON.parse(JSON.stringify(read))).toEqual(
      expected && JSON.parse(JSON.stringify(expected)),
    );
  });
});
