import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../shared/kube/index.ts';
import { acceptedAtAnnotation, readiness, type TenantObjects } from './readiness.ts';

const t = (s: number) => new Date(Date.UTC(2026, 11, 7, 6, 0, s)).toISOString();
const sec = (s: number) => t(s).replace('.000Z', 'Z'); // Kubernetes' second resolution

const namespace: KubeObject = {
  kind: 'Namespace',
  metadata: {
    name: 'tenant-acme',
    creationTimestamp: sec(1),
    annotations: { [acceptedAtAnnotation]: '2026-12-07T06:00:00.400Z' },
  },
  status: { phase: 'Active' },
};
const obj = (kind: string, name: string, extra: Partial<KubeObject> = {}): KubeObject => ({
  kind,
  metadata: { name, creationTimestamp: sec(2) },
  ...extra,
});
const quota = (counted: boolean) =>
  obj('ResourceQuota', 'tenant-quota', {
    metadata: {
      name: 'tenant-quota',
      creationTimestamp: sec(2),
      managedFields: [{ manager: 'kube-controller-manager', subresource: 'status', time: sec(3) }],
    },
    ...(counted ? { status: { hard: { pods: '10' } } } : {}),
  });
const deployment = (available: number, wanted = 1, conditions: object[] = []) =>
  obj('Deployment', 'monitoring', {
    spec: { replicas: wanted },
    status: {
      availableReplicas: available,
      conditions: [
        {
          type: 'Available',
          status: available >= wanted && wanted > 0 ? 'True' : 'False',
          lastTransitionTime: sec(7),
        },
        ...conditions,
      ],
    },
  });
const slice = (ready: boolean): KubeObject => ({
  kind: 'EndpointSlice',
  metadata: { name: 'monitoring-x', managedFields: [{ time: sec(8) }] },
  endpoints: [{ conditions: { ready } }],
});
const bundle = [
  { kind: 'ResourceQuota', name: 'tenant-quota' },
  { kind: 'LimitRange', name: 'tenant-limits' },
  { kind: 'Deployment', name: 'monitoring' },
  { kind: 'Service', name: 'monitoring' },
  { kind: 'Ingress', name: 'monitoring' },
];
const everything = (over: Partial<TenantObjects> = {}): TenantObjects => ({
  namespace,
  bundle,
  objects: [
    quota(true),
    obj('LimitRange', 'tenant-limits'),
    deployment(1),
    obj('Service', 'monitoring'),
    obj('Ingress', 'monitoring', {
      spec: { rules: [{ http: { paths: [{ path: '/acme' }] } }] },
      status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } },
    }),
  ],
  endpointSlices: [slice(true)],
  pods: [],
  ...over,
});
const reached = (input: TenantObjects) =>
  readiness(input)
    .phases.filter((p) => p.reached)
    .map((p) => p.name);

describe('readiness', () => {
  test('everything in place: ready, each phase timed by the cluster, the address shown', () => {
    const r = readiness(everything());
    expect(r.state).toBe('ready');
    expect(r.phases.map((p) => [p.name, p.at])).toEqual([
      ['accepted', '2026-12-07T06:00:00.400Z'],
      ['namespace-active', sec(1)],
      ['policy-in-force', sec(3)], // the quota's status written by its controller
      ['workload-available', sec(7)], // the Available condition's transition
      ['reachable', sec(8)], // the endpoint slice's last write
    ]);
    expect(r.readyAt).toBe(sec(8));
    expect(r.address).toBe('http://203.0.113.7/acme');
  });

  test.each([
    ['no namespace yet', { namespace: undefined }, []],
    [
      'quota not counted',
      { objects: [quota(false), obj('LimitRange', 'tenant-limits')] },
      ['accepted', 'namespace-active'],
    ],
    ['a policy object missing', { objects: [quota(true)] }, ['accepted', 'namespace-active']],
    [
      'the workload not available (0/1): never ready before it is',
      {
        objects: [
          quota(true),
          obj('LimitRange', 'tenant-limits'),
          deployment(0),
          obj('Ingress', 'monitoring'),
        ],
      },
      ['accepted', 'namespace-active', 'policy-in-force'],
    ],
    [
      'no ready endpoint',
      { endpointSlices: [slice(false)] },
      ['accepted', 'namespace-active', 'policy-in-force', 'workload-available'],
    ],
  ] as const)('%s', (_, over, expected) => {
    const input = everything(over as Partial<TenantObjects>);
    expect(reached(input)).toEqual(expected);
    expect(readiness(input).state).toBe('provisioning');
    expect(readiness(input).address).toBeUndefined();
  });

  test('a suspended (zero-replica) workload is not available', () => {
    const input = everything({
      objects: [quota(true), obj('LimitRange', 'tenant-limits'), deployment(0, 0)],
    });
    expect(reached(input)).not.toContain('workload-available');
  });

  test('a phase is never timed before the one it follows', () => {
    const early = { ...namespace, metadata: { ...namespace.metadata, creationTimestamp: sec(0) } };
    const r = readiness(everything({ namespace: early }));
    const times = r.phases.map((p) => Date.parse(p.at ?? ''));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  test.each([
    [
      'over quota',
      [
        {
          type: 'ReplicaFailure',
          status: 'True',
          reason: 'FailedCreate',
          message: 'pods "monitoring-x" is forbidden: exceeded quota: tenant-quota',
        },
      ],
      [],
      'over-quota',
    ],
    [
      'unschedulable',
      [],
      [
        {
          kind: 'Pod',
          status: {
            conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }],
          },
        },
      ],
      'unschedulable',
    ],
    [
      'cannot start',
      [],
      [
        {
          kind: 'Pod',
          status: { containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff' } } }] },
        },
      ],
      'cannot-start',
    ],
  ] as const)('%s: failed, with a code and words for the customer', (_, conditions, pods, code) => {
    const input = everything({
      objects: [quota(true), obj('LimitRange', 'tenant-limits'), deployment(0, 1, [...conditions])],
      pods: pods as unknown as KubeObject[],
    });
    const r = readiness(input);
    expect(r.state).toBe('failed');
    const phase = r.phases.find((p) => p.name === 'workload-available');
    expect(phase?.failure?.code).toBe(code);
    expect(phase?.failure?.message).toMatch(/\w/);
    expect(r.readyAt).toBeUndefined();
  });
});
