import { expect, it } from 'vitest';
import type { Phase } from './readiness.ts';
import { phaseField, readyFields, reportReady } from './ready-report.ts';

const phases = (times: (string | undefined)[]): Phase[] =>
  (
    ['accepted', 'namespace-active', 'policy-in-force', 'workload-available', 'reachable'] as const
  ).map((name, i) => ({
    name,
    reached: times[i] !== undefined,
    ...(times[i] ? { at: times[i] } : {}),
  }));

it.each([
  ['accepted', 'acceptedSeconds'],
  ['namespace-active', 'namespaceActiveSeconds'],
  ['workload-available', 'workloadAvailableSeconds'],
] as const)('the field of %s is %s', (phase, field) => expect(phaseField(phase)).toBe(field));

it.each([
  [
    'every phase reached',
    [
      '2026-12-07T10:00:00Z',
      '2026-12-07T10:00:01Z',
      '2026-12-07T10:00:03Z',
      '2026-12-07T10:00:33Z',
      '2026-12-07T10:00:35Z',
    ],
    {
      readySeconds: 35,
      namespaceActiveSeconds: 1,
      policyInForceSeconds: 2,
      workloadAvailableSeconds: 30,
      reachableSeconds: 2,
    },
  ],
  [
    'not reachable yet',
    [
      '2026-12-07T10:00:00Z',
      '2026-12-07T10:00:01Z',
      '2026-12-07T10:00:03Z',
      '2026-12-07T10:00:33Z',
      undefined,
    ],
    undefined,
  ],
])('%s', (_, times, fields) => expect(readyFields(phases(times))).toEqual(fields));

it('writes the line once per tenant', () => {
  const lines: unknown[] = [];
  const log = (severity: string, message: string, fields?: object) =>
    lines.push({ severity, message, ...fields });
  const tenant = {
    customerId: 'once',
    namespace: 'tenant-once',
    plan: 'free',
    phases: phases(Array(5).fill('2026-12-07T10:00:00Z')),
  };
  reportReady(tenant, log);
  reportReady(tenant, log);
  expect(lines).toEqual([
    expect.objectContaining({ message: 'tenant ready', plan: 'free', readySeconds: 0 }),
  ]);
});
