// Lifecycle's pure parts, offline. A tenant request's date, checked before anything is read or
// written: time frozen, and a cluster that fails the test's way when touched (so "reached the
// cluster" means "passed the check").
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import type { ProvisionDeps } from './handler.ts';
import {
  applyTenantRequest,
  isStale,
  readReplicas,
  replicasAnnotation,
  replicasManager,
  suspendPatch,
} from './lifecycle.ts';

const now = Date.parse('2026-12-03T10:00:00Z');
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(now);
});
afterEach(() => vi.useRealTimers());

const touched = new Error('the cluster was called');
const deps = {
  cluster: new Proxy(
    {},
    {
      get: () => () => {
        throw touched;
      },
    },
  ),
  namespacePrefix: 'tenant-',
} as unknown as ProvisionDeps;
const at = (offsetMs: number) => new Date(now + offsetMs).toISOString();

test.each([
  { when: 'now', requestedAt: at(0), refused: false },
  { when: 'in the past', requestedAt: '2020-01-01T00:00:00Z', refused: false },
  { when: 'within the 5 min skew', requestedAt: at(5 * 60_000), refused: false },
  { when: 'just beyond the skew', requestedAt: at(5 * 60_000 + 1000), refused: true },
  { when: 'in 2999', requestedAt: '2999-01-01T00:00:00Z', refused: true },
  { when: 'ahead, with an offset', requestedAt: '2026-12-03T12:00:00+01:00', refused: true },
])('a request dated $when: refused $refused', async ({ requestedAt, refused }) => {
  for (const action of ['suspend', 'resume'] as const) {
    const applied = applyTenantRequest({ action, customerId: 'acme', requestedAt }, deps);
    if (refused)
      await expect(applied).rejects.toMatchObject({
        code: 'requested-in-future',
        retryable: false,
      });
    else await expect(applied).rejects.toBe(touched);
  }
});

test.each([
  { what: 'no record', applied: undefined, requestedAt: at(0), stale: false },
  { what: 'an older record', applied: at(-1000), requestedAt: at(0), stale: false },
  { what: 'a redelivery (the same date)', applied: at(0), requestedAt: at(0), stale: true },
  { what: 'a request overtaken', applied: at(1000), requestedAt: at(0), stale: true },
  {
    what: 'the same instant in another offset',
    applied: '2026-12-03T11:00:00+01:00',
    requestedAt: at(0),
    stale: true,
  },
  { what: 'a record that is not a date', applied: 'yesterday', requestedAt: at(0), stale: false },
])('$what: stale $stale', ({ applied, requestedAt, stale }) => {
  expect(isStale(applied, requestedAt)).toBe(stale);
});

const fieldsOf = (manager: string, fieldsV1: unknown) => ({ manager, fieldsV1 });
const replicasField = { 'f:spec': { 'f:replicas': {} } };
const workload = (more: {
  replicas?: number;
  annotations?: Record<string, string>;
  managedFields?: { manager: string; fieldsV1: unknown }[];
}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'monitoring',
    ...(more.annotations ? { annotations: more.annotations } : {}),
    ...(more.managedFields ? { managedFields: more.managedFields } : {}),
  },
  spec: more.replicas === undefined ? {} : { replicas: more.replicas },
});

test.each([
  {
    what: 'replicas kubefn set as a default',
    workload: workload({
      replicas: 2,
      managedFields: [fieldsOf('kubefn-defaults', replicasField)],
    }),
    record: { replicas: 2, manager: 'kubefn-defaults' },
  },
  {
    what: 'replicas an operator scaled',
    workload: workload({
      replicas: 5,
      managedFields: [
        fieldsOf('kubefn-provision', { 'f:spec': { 'f:selector': {} } }),
        fieldsOf('kubectl', replicasField),
      ],
    }),
    record: { replicas: 5, manager: 'kubectl' },
  },
  {
    what: 'no replicas field (the server default, one)',
    workload: workload({}),
    record: { replicas: 1 },
  },
  {
    what: 'a workload suspended already (its record kept, not the zero)',
    workload: workload({
      replicas: 0,
      annotations: { [replicasAnnotation]: '{"replicas":3,"manager":"kubectl"}' },
    }),
    record: undefined,
  },
])('suspending $what', ({ workload, record }) => {
  const patch = suspendPatch(workload);
  if (!record) return expect(patch).toBeUndefined();
  expect(patch).toEqual({
    metadata: { annotations: { [replicasAnnotation]: JSON.stringify(record) } },
    spec: { replicas: 0 },
  });
  // What resume reads back is what suspend recorded.
  const suspended = workload;
  suspended.metadata.annotations = { [replicasAnnotation]: JSON.stringify(record) };
  expect(readReplicas(suspended)).toEqual(record);
});

test.each([
  { what: 'no record', raw: undefined, record: undefined },
  {
    what: 'a record',
    raw: '{"replicas":3,"manager":"kubectl"}',
    record: { replicas: 3, manager: 'kubectl' },
  },
  { what: 'a record without a manager', raw: '{"replicas":0}', record: { replicas: 0 } },
  { what: 'not JSON', raw: 'three', record: undefined },
  { what: 'negative replicas', raw: '{"replicas":-1}', record: undefined },
  { what: 'fractional replicas', raw: '{"replicas":1.5}', record: undefined },
  { what: 'replicas as text', raw: '{"replicas":"3"}', record: undefined },
])('reading $what: $record', ({ raw, record }) => {
  const annotations = raw === undefined ? undefined : { [replicasAnnotation]: raw };
  expect(readReplicas(workload(annotations ? { annotations } : {}))).toEqual(record);
});

test('replicasManager: who set .spec.replicas, not who set other fields', () => {
  expect(replicasManager(workload({}))).toBeUndefined();
  expect(
    replicasManager(
      workload({
        managedFields: [fieldsOf('kubefn-provision', { 'f:spec': { 'f:template': {} } })],
      }),
    ),
  ).toBeUndefined();
});
