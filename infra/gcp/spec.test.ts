import { expect, it } from 'vitest';
import { baseSpec } from './mocks.fixture.ts';
import { readSpec } from './spec.ts';

it('fills the defaults', () => {
  expect(readSpec(baseSpec)).toEqual({
    ...baseSpec,
    timeoutMode: 'backendconfig',
    labelCallers: [],
    ingressTimeoutCallers: [],
    tenantRequestPublishers: [],
    schedules: {
      provisionResync: '17 * * * *',
      ingressTimeoutResync: '*/15 * * * *',
      timeZone: 'Etc/UTC',
    },
    maxTenants: 1000,
    provisionMinInstances: 0,
    deletionProtection: true,
  });
});

it.each([
  ['project', { project: 'My_Project' }],
  ['region', { region: 'europe' }],
  ['cluster.endpoint', { cluster: { name: 'prod', endpoint: 'http://gke-x.gke.goog' } }],
  ['cluster.caCertificate', { cluster: { ...baseSpec.cluster, caCertificate: 'not a PEM' } }],
  ['audienceBase', { audienceBase: 'kubefn' }],
  ['timeoutMode', { timeoutMode: 'annotation' }],
  ['labelCallers', { labelCallers: 'not an email' }],
  ['schedules.provisionResync', { schedules: { provisionResync: 'hourly' } }],
  ['provisionMinInstances', { provisionMinInstances: -1 }],
  ['customerSignIn.apiKey', { customerSignIn: { apiKey: 'a key!' } }],
  ['customerSignIn.project', { customerSignIn: { ...baseSpec.customerSignIn, project: 'X' } }],
  ['maxTenants', { maxTenants: 0 }],
  ['clusterName', { clusterName: 'a misspelt field' }],
])('refuses a bad %s, naming it', (field, change) => {
  expect(() => readSpec({ ...baseSpec, ...change })).toThrow(`${field}:`);
});
