import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../shared/kube/index.ts';
import {
  customerLabel,
  managedByLabel,
  managedByValue,
  movedFromAnnotation,
  movingToLabel,
  ownerUidAnnotation,
  planLabel,
} from '../../shared/labels.ts';
import { summarise } from './all-tenants.ts';
import { heldLabel } from './held-deletions.ts';
import { acceptedAtAnnotation } from './readiness.ts';
import { lastRepairAnnotation } from './repair-record.ts';
import { tenantOf } from './tenant.ts';

const sec = (s: number) =>
  new Date(Date.UTC(2026, 11, 7, 6, 0, s)).toISOString().replace('.000Z', 'Z');

const namespace = (
  extra: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deleting?: boolean;
  } = {},
): KubeObject => ({
  kind: 'Namespace',
  metadata: {
    name: 'tenant-acme',
    creationTimestamp: sec(1),
    labels: {
      [managedByLabel]: managedByValue,
      [customerLabel]: 'acme',
      [planLabel]: 'free',
      ...extra.labels,
    },
    annotations: { [acceptedAtAnnotation]: sec(0), ...extra.annotations },
    ...(extra.deleting ? { deletionTimestamp: sec(30) } : {}),
  },
  status: { phase: 'Active' },
});
const bundle = [
  { kind: 'ResourceQuota', name: 'tenant-quota' },
  { kind: 'Deployment', name: 'monitoring' },
  { kind: 'Service', name: 'monitoring' },
  { kind: 'Ingress', name: 'monitoring' },
];
const obj = (kind: string, name: string, extra: Partial<KubeObject> = {}): KubeObject => ({
  kind,
  metadata: { name, namespace: 'tenant-acme', creationTimestamp: sec(2) },
  ...extra,
});
const ready = {
  bundle,
  objects: [
    obj('ResourceQuota', 'tenant-quota', { status: { hard: { pods: '10' } } }),
    obj('Deployment', 'monitoring', {
      spec: { replicas: 1 },
      status: {
        availableReplicas: 1,
        conditions: [{ type: 'Available', status: 'True', lastTransitionTime: sec(7) }],
      },
    }),
    obj('Service', 'monitoring'),
    obj('Ingress', 'monitoring'),
  ],
  endpointSlices: [
    {
      kind: 'EndpointSlice',
      metadata: { name: 'm-x', namespace: 'tenant-acme', managedFields: [{ time: sec(9) }] },
      endpoints: [{ conditions: { ready: true } }],
    },
  ],
};
const row = (ns: KubeObject, listed = ready) =>
  summarise(ns, tenantOf(ns, 'tenant-') as never, listed);

describe('summarise', () => {
  test('a Ready tenant: its time to ready from accepted to reachable', () => {
    expect(row(namespace())).toMatchObject({
      customerId: 'acme',
      phase: 'Ready',
      plan: 'free',
      acceptedAt: sec(0),
      readyAt: sec(9),
      timeToReadyMs: 9000,
      deletionHeld: false,
    });
  });
  test('still coming up: no readyAt, no time to ready', () => {
    const r = row(namespace(), { ...ready, endpointSlices: [] });
    expect(r.phase).toBe('Provisioning');
    expect(r.readyAt).toBeUndefined();
    expect(r.timeToReadyMs).toBeUndefined();
  });
  test.each([
    ['Terminating', namespace({ deleting: true })],
    ['Suspended', namespace({ labels: { 'kubefn.dev/suspended': 'true' } })],
  ])('%s wins over readiness', (phase, ns) => {
    expect(row(ns).phase).toBe(phase);
  });
  test('customer, held deletion and last repair from the namespace', () => {
    const repair = {
      at: sec(20),
      by: 'heal',
      object: 'ResourceQuota/tenant-quota',
      was: 'missing',
      latencyMs: 800,
    };
    const r = row(
      namespace({
        labels: { [heldLabel]: 'true' },
        annotations: {
          [ownerUidAnnotation]: 'uid-1',
          [lastRepairAnnotation]: JSON.stringify(repair),
        },
      }),
    );
    expect(r).toMatchObject({ ownerUid: 'uid-1', deletionHeld: true, lastRepair: repair });
  });
  test.each([
    ['frozen for its move', namespace({ labels: { [movingToLabel]: 'us1' } }), { movingTo: 'us1' }],
    [
      "the move's copy",
      namespace({ annotations: { [movedFromAnnotation]: 'eu1' } }),
      { movedFrom: 'eu1' },
    ],
    ['never moved', namespace(), {}],
  ])('a move: %s', (_, ns, expected) => {
    const { movingTo, movedFrom } = row(ns);
    expect({ ...(movingTo ? { movingTo } : {}), ...(movedFrom ? { movedFrom } : {}) }).toEqual(
      expected,
    );
  });
});
