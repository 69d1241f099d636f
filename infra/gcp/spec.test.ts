import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultCellCapacity } from '../../shared/cells.ts';
import { baseSpec } from './mocks.fixture.ts';
import { cellAccountId, cellServiceName } from './names.ts';

const [eu1] = baseSpec.cells;
if (!eu1) throw new Error('the fixture has cells');

import { readSpec } from './spec.ts';

it('fills the defaults', () => {
  expect(readSpec(baseSpec)).toEqual({
    ...baseSpec,
    cells: [{ ...baseSpec.cells[0], capacity: defaultCellCapacity }, baseSpec.cells[1]],
    placement: { database: '(default)' },
    timeoutMode: 'backendconfig',
    labelCallers: [],
    ingressTimeoutCallers: [],
    tenantRequestPublishers: [],
    operators: [],
    schedules: {
      provisionResync: '17 * * * *',
      ingressTimeoutResync: '*/15 * * * *',
      placementResync: '* * * * *',
      timeZone: 'Etc/UTC',
    },
    provisionMinInstances: 0,
    tracing: 'off',
    monitoring: { notificationChannels: [], timeToReadyGoalSeconds: 120 },
    deletionProtection: true,
  });
});

it.each([
  ['project', { project: 'My_Project' }],
  ['region', { region: 'europe' }],
  ['cells.0.endpoint', { cells: [{ ...eu1, endpoint: 'http://gke-x.gke.goog' }] }],
  ['cells.0.caCertificate', { cells: [{ ...eu1, caCertificate: 'not a PEM' }] }],
  ['cells', { cells: [] }], // at least one
  ['cells', { cells: [eu1, { ...baseSpec.cells[1], name: 'eu1' }] }], // each named once
  ['cells', { cells: [eu1, { ...baseSpec.cells[1], endpoint: eu1.endpoint }] }], // one cluster, one cell
  // 13 characters: kubefn-<cell>-ingress-timeout and kubefn-<cell>-provision must fit
  ['cells.0.name', { cells: [{ ...eu1, name: 'abcdefghijklm' }] }],
  ['cells.0.name', { cells: [{ ...eu1, name: 'EU1' }] }],
  ['cells.0.name', { cells: [{ ...eu1, name: 'eu1-' }] }],
  ['cells.0.region', { cells: [{ ...eu1, region: 'europe' }] }],
  ['cells.0.capacity', { cells: [{ ...eu1, capacity: -1 }] }],
  ['cells.0.capacity', { cells: [{ ...eu1, capacity: 1.5 }] }],
  ['cells.0.gkeCluster', { cells: [{ ...eu1, gkeCluster: 'Prod_Cluster' }] }],
  ['cells.0.gkeLocation', { cells: [{ ...eu1, gkeLocation: 'europe' }] }],
  ['cells.0.cluster', { cells: [{ ...eu1, cluster: 'a misspelt field' }] }],
  ['placement.location', { placement: { location: 'Europe' } }],
  ['placement.database', { placement: { database: 'x' } }],
  // The single-cluster spec of before cells: refused, not silently half-read.
  ['cluster', { cluster: { name: 'prod', endpoint: eu1.endpoint } }],
  ['maxTenants', { maxTenants: 1000 }],
  ['audienceBase', { audienceBase: 'kubefn' }],
  ['timeoutMode', { timeoutMode: 'annotation' }],
  ['labelCallers', { labelCallers: 'not an email' }],
  // IAM grants them as serviceAccount:<entry>, which it refuses for people and Kubernetes.
  ['labelCallers', { labelCallers: 'alice@example.com' }],
  ['operators', { operators: 'alice@example.com' }],
  ['operators', { operators: 'system:serviceaccount:kubefn-system:ops' }],
  ['ingressTimeoutCallers', { ingressTimeoutCallers: 'system:serviceaccount:ops:deployer' }],
  ['tenantRequestPublishers', { tenantRequestPublishers: 'billing@example.com' }],
  ['schedules.provisionResync', { schedules: { provisionResync: 'hourly' } }],
  ['schedules.timeZone', { schedules: { timeZone: 'Europe/Pariss' } }],
  ['schedules.timeZone', { schedules: { timeZone: '' } }],
  ['provisionMinInstances', { provisionMinInstances: -1 }],
  ['monitoring.notificationChannels.0', { monitoring: { notificationChannels: ['email:ops'] } }],
  ['monitoring.timeToReadyGoalSeconds', { monitoring: { timeToReadyGoalSeconds: 0 } }],
  // Above provision's maximum of 3 instances: Cloud Run refuses the service.
  ['provisionMinInstances', { provisionMinInstances: 4 }],
  ['customerSignIn.apiKey', { customerSignIn: { apiKey: 'a key!' } }],
  ['customerSignIn.project', { customerSignIn: { ...baseSpec.customerSignIn, project: 'X' } }],
  ['clusterName', { clusterName: 'a misspelt field' }],
])('refuses a bad %s, naming it', (field, change) => {
  expect(() => readSpec({ ...baseSpec, ...change })).toThrow(`${field}:`);
});

it('takes what Google takes', () => {
  const spec = readSpec({
    ...baseSpec,
    labelCallers:
      'ci@kubefn-prod.iam.gserviceaccount.com,123-compute@developer.gserviceaccount.com',
    schedules: { timeZone: 'America/New_York' },
    provisionMinInstances: 3,
  });
  expect(spec.labelCallers).toHaveLength(2);
  expect(spec.schedules.timeZone).toBe('America/New_York');
  expect(spec.provisionMinInstances).toBe(3);
});

it('takes the longest cell name, and its names fit what Google allows', () => {
  const spec = readSpec({ ...baseSpec, cells: [{ ...eu1, name: 'abcdefghij-l' }] });
  const name = spec.cells[0]?.name as string;
  expect(name).toHaveLength(12);
  expect(cellServiceName(name, 'ingress-timeout').length).toBeLessThanOrEqual(49);
  for (const identity of ['provision', 'label', 'ingress-timeout', 'watcher'] as const)
    expect(cellAccountId(name, identity)).toMatch(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/);
});

it('takes a drained cell (capacity 0: nothing new placed there) and a multi-region store', () => {
  const spec = readSpec({
    ...baseSpec,
    cells: [{ ...eu1, capacity: 0 }],
    placement: { location: 'eur3', database: 'kubefn-placement' },
  });
  expect(spec.cells[0]?.capacity).toBe(0);
  expect(spec.placement).toEqual({ location: 'eur3', database: 'kubefn-placement' });
});

it('reads Pulumi.example.yaml, the config the docs tell operators to copy', async () => {
  const example = parse(await readFile(join(import.meta.dirname, 'Pulumi.example.yaml'), 'utf8'));
  const spec = readSpec(example.config['kubefn:deployment']);
  expect(spec.cells.map((c) => c.name)).toEqual(['eu1', 'us1']);
  expect(spec.cells[0]?.capacity).toBe(defaultCellCapacity);
});
