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
  // IAM grants them as serviceAccount:<entry>, which it refuses for people and Kubernetes.
  ['labelCallers', { labelCallers: 'alice@example.com' }],
  ['ingressTimeoutCallers', { ingressTimeoutCallers: 'system:serviceaccount:ops:deployer' }],
  ['tenantRequestPublishers', { tenantRequestPublishers: 'billing@example.com' }],
  ['schedules.provisionResync', { schedules: { provisionResync: 'hourly' } }],
  ['schedules.timeZone', { schedules: { timeZone: 'Europe/Pariss' } }],
  ['schedules.timeZone', { schedules: { timeZone: '' } }],
  ['provisionMinInstances', { provisionMinInstances: -1 }],
  // Above provision's maximum of 3 instances: Cloud Run refuses the service.
  ['provisionMinInstances', { provisionMinInstances: 4 }],
  ['customerSignIn.apiKey', { customerSignIn: { apiKey: 'a key!' } }],
  ['customerSignIn.project', { customerSignIn: { ...baseSpec.customerSignIn, project: 'X' } }],
  ['maxTenants', { maxTenants: 0 }],
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
