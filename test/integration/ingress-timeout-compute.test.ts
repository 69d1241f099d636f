// The ingress-timeout function in compute mode: Kubernetes is the real local apiserver; the
// Compute API and the metadata server that gives the function its access token are fakes
// (test/support/fakes/compute.ts, google.ts), as no real one can run here.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ingressTimeoutAudience, startIngressTimeoutFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { mintToken, schedulerAccount } from '../../infra/local/identities.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { type FakeCompute, startFakeCompute } from '../support/fakes/compute.ts';
import { type FakeGoogle, startFakeGoogle } from '../support/fakes/google.ts';
import { httpRequest } from '../support/http.ts';
import { uniqueName } from '../support/kube.ts';
import { createTenant, type ProvisionFixture, startProvision } from '../support/provision.ts';

const project = 'kubefn-test';
const region = 'europe-west1';
let admin: Cluster;
let provision: ProvisionFixture;
let google: FakeGoogle;
let compute: FakeCompute;
let fn: RunningFunction;
let token: string;
let ns: string;
const neg = 'k8s1-0a1b2c3d-tenant-monitoring-80-9f8e7d6c';
const defaultBackend = 'k8s1-0a1b2c3d-kube-system-default-http-backend-80-1a2b3c4d';

const ingresses = () => admin.resource({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' });
const call = async (path: string) => {
  const answer = await httpRequest(`${fn.url}${path}`, token, 'POST');
  return {
    status: answer.status,
    body: JSON.parse(answer.body || '{}') as Record<string, unknown>,
  };
};
const annotateIngress = (name: string, annotations: Record<string, string | null>) =>
  ingresses().patch(name, { metadata: { annotations } }, { namespace: ns });
const patches = () => compute.calls.filter((c) => c.startsWith('PATCH')).length;

beforeAll(async () => {
  admin = await adminCluster();
  google = await startFakeGoogle();
  compute = await startFakeCompute({ project, token: google.accessToken.value });
  compute.addBackendService({ name: neg });
  compute.addBackendService({ name: defaultBackend });
  compute.addBackendService({ name: neg, region });
  provision = await startProvision(admin);
  ns = await createTenant(provision, uniqueName('cm'));
  // What GKE writes: the Service's NEG, by port.
  await admin.resource({ apiVersion: 'v1', kind: 'Service' }).patch(
    'monitoring',
    {
      metadata: {
        annotations: {
          'cloud.google.com/neg-status': JSON.stringify({
            network_endpoint_groups: { '80': neg },
            zones: [`${region}-b`],
          }),
        },
      },
    },
    { namespace: ns },
  );
  fn = await startIngressTimeoutFunction(admin, stack, {
    env: {
      KUBEFN_TIMEOUT_MODE: 'compute',
      KUBEFN_COMPUTE_PROJECT: project,
      KUBEFN_COMPUTE_REGION: region,
      KUBEFN_COMPUTE_URL: compute.url,
      GCE_METADATA_HOST: google.metadataHost,
    },
  });
  token = await mintToken(admin, schedulerAccount, { audiences: [ingressTimeoutAudience] });
});
afterAll(async () => {
  await fn?.stop();
  await provision?.fn.stop();
  await compute?.close();
  await google?.close();
  await admin?.close();
});

test('before GKE has synced the load balancer there is nothing to patch: waiting', async () => {
  await annotateIngress('monitoring', { 'kubefn.dev/backend-timeout': '90s' });
  const answer = await call(`/ingresses/${ns}/monitoring`);
  expect(answer.body).toMatchObject({ outcome: 'waiting', backends: [{ outcome: 'waiting' }] });
  expect(patches()).toBe(0);
});

test("the Ingress's own backend service is patched and waited for; the default backend is not", async () => {
  await annotateIngress('monitoring', {
    'ingress.kubernetes.io/backends': JSON.stringify({
      [neg]: 'HEALTHY',
      [defaultBackend]: 'HEALTHY',
    }),
  });
  const answer = await call(`/ingresses/${ns}/monitoring`);
  expect(answer.body).toMatchObject({
    outcome: 'applied',
    timeoutSec: 90,
    backends: [{ service: 'monitoring', backendService: neg, outcome: 'updated' }],
  });
  expect(compute.backendService(neg)?.timeoutSec).toBe(90);
  expect(compute.backendService(defaultBackend)?.timeoutSec).toBe(30);
  // It waited for the Operation before answering.
  expect(compute.calls.some((c) => /^POST .*\/global\/operations\/[^/]+\/wait$/.test(c))).toBe(
    true,
  );
  const ingress: KubeObject = await ingresses().get('monitoring', { namespace: ns });
  expect(
    JSON.parse(ingress.metadata?.annotations?.['kubefn.dev/backend-timeout-applied'] ?? '{}'),
  ).toMatchObject({ timeoutSec: 90, mode: 'compute' });
});

test('a repeat reads and patches nothing', async () => {
  const before = patches();
  expect((await call(`/ingresses/${ns}/monitoring`)).body).toMatchObject({ outcome: 'unchanged' });
  expect(patches()).toBe(before);
});

test('a stale fingerprint (412) is read again and retried; a lost answer (503) is resent', async () => {
  await annotateIngress('monitoring', { 'kubefn.dev/backend-timeout': '2m' });
  compute.failNext('PATCH', 412, 'conditionNotMet');
  compute.failNext('PATCH', 503, 'backendError');
  const before = patches();
  const answer = await call(`/ingresses/${ns}/monitoring`);
  expect(answer.body).toMatchObject({ outcome: 'applied', timeoutSec: 120 });
  expect(patches() - before).toBe(3);
  expect(compute.backendService(neg)?.timeoutSec).toBe(120);
});

test('a refusal by Compute (403) fails this Ingress and records nothing', async () => {
  await annotateIngress('monitoring', { 'kubefn.dev/backend-timeout': '3m' });
  compute.failNext('GET', 403, 'forbidden');
  const answer = await call(`/ingresses/${ns}/monitoring`);
  expect(answer.status).toBe(422);
  expect(answer.body).toMatchObject({
    outcome: 'failed',
    backends: [{ outcome: 'failed', code: 'forbidden' }],
  });
  expect(compute.backendService(neg)?.timeoutSec).toBe(120);
  const ingress: KubeObject = await ingresses().get('monitoring', { namespace: ns });
  expect(
    JSON.parse(ingress.metadata?.annotations?.['kubefn.dev/backend-timeout-applied'] ?? '{}'),
  ).toMatchObject({ timeoutSec: 120 });
});

test('an internal (gce-internal) Ingress patches the regional backend service', async () => {
  await ingresses().create({
    metadata: {
      name: 'internal',
      namespace: ns,
      annotations: {
        'kubefn.dev/backend-timeout': '45s',
        'ingress.kubernetes.io/backends': JSON.stringify({ [neg]: 'HEALTHY' }),
      },
    },
    spec: {
      ingressClassName: 'gce-internal',
      defaultBackend: { service: { name: 'monitoring', port: { number: 80 } } },
    },
  } as KubeObject);
  const answer = await call(`/ingresses/${ns}/internal`);
  expect(answer.body).toMatchObject({ outcome: 'applied', timeoutSec: 45 });
  expect(compute.backendService(neg, region)?.timeoutSec).toBe(45);
  expect(compute.calls.some((c) => c.includes(`/regions/${region}/operations/`))).toBe(true);
});

test('an instance-group backend is found by its NodePort', async () => {
  const service = await admin.resource({ apiVersion: 'v1', kind: 'Service' }).create({
    metadata: { name: 'legacy', namespace: ns },
    spec: { type: 'NodePort', selector: { app: 'legacy' }, ports: [{ name: 'web', port: 80 }] },
  } as KubeObject);
  const nodePort = (service.spec as { ports: { nodePort: number }[] }).ports[0]?.nodePort;
  const backend = `k8s-be-${nodePort}--0a1b2c3d4e5f6a7b`;
  compute.addBackendService({ name: backend });
  await ingresses().create({
    metadata: {
      name: 'legacy',
      namespace: ns,
      annotations: {
        'kubefn.dev/backend-timeout': '1h',
        'ingress.kubernetes.io/backends': JSON.stringify({
          [backend]: 'HEALTHY',
          'k8s-be-29999--0a1b2c3d4e5f6a7b': 'HEALTHY', // outside the NodePort range: never ours
        }),
      },
    },
    spec: { defaultBackend: { service: { name: 'legacy', port: { name: 'web' } } } },
  } as KubeObject);
  const answer = await call(`/ingresses/${ns}/legacy`);
  expect(answer.body).toMatchObject({
    outcome: 'applied',
    backends: [{ backendService: backend, outcome: 'updated' }],
  });
  expect(compute.backendService(backend)?.timeoutSec).toBe(3600);
});
