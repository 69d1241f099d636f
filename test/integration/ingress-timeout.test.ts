// The ingress-timeout function in backendconfig mode, under the real Functions Framework, acting
// as kubefn-ingress-timeout on the real kube-apiserver with the BackendConfig CRD installed. The
// tenant comes from the real provisioning function (its monitoring Ingress carries the
// annotation), so the RBAC that lets ingress-timeout write there is the production one.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ingressTimeoutAudience, startIngressTimeoutFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { mintToken, schedulerAccount } from '../../infra/local/identities.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { adminCluster, closeTestNamespace, openTestNamespace, stack } from '../support/cluster.ts';
import { httpRequest } from '../support/http.ts';
import { uniqueName } from '../support/kube.ts';
import { createTenant, type ProvisionFixture, startProvision } from '../support/provision.ts';

let admin: Cluster;
let provision: ProvisionFixture;
let fn: RunningFunction;
let token: string;
let ns: string;
const customerId = uniqueName('to');

const ingresses = () => admin.resource({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' });
const services = () => admin.resource({ apiVersion: 'v1', kind: 'Service' });
const backendConfigs = () =>
  admin.resource({ apiVersion: 'cloud.google.com/v1', kind: 'BackendConfig' });
const logLines = async () =>
  (await readFile(fn.process.logFile, 'utf8'))
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
const call = async (path: string, bearer = token) => {
  const answer = await httpRequest(`${fn.url}${path}`, bearer, 'POST');
  return {
    status: answer.status,
    body: JSON.parse(answer.body || '{}') as Record<string, unknown>,
  };
};
const setAnnotation = (name: string, value: string | null) =>
  ingresses().patch(
    name,
    { metadata: { annotations: { 'kubefn.dev/backend-timeout': value } } },
    { namespace: ns },
  );
const versions = async () => ({
  ingress: (await ingresses().get('monitoring', { namespace: ns })).metadata?.resourceVersion,
  service: (await services().get('monitoring', { namespace: ns })).metadata?.resourceVersion,
  config: (await backendConfigs().get('kubefn-monitoring-http', { namespace: ns })).metadata
    ?.resourceVersion,
});
const spec = (o: KubeObject) => o.spec as Record<string, unknown>;

beforeAll(async () => {
  admin = await adminCluster();
  provision = await startProvision(admin);
  ns = await createTenant(provision, customerId);
  fn = await startIngressTimeoutFunction(admin, stack);
  token = await mintToken(admin, schedulerAccount, { audiences: [ingressTimeoutAudience] });
  // An annotation of someone else's on the Service, which must survive.
  await services().patch(
    'monitoring',
    { metadata: { annotations: { 'example.com/owner': 'team-a' } } },
    { namespace: ns },
  );
});
afterAll(async () => {
  await fn?.stop();
  await provision?.fn.stop();
  await admin?.close();
});

test('the annotation becomes a BackendConfig the Service points at, recorded on the Ingress', async () => {
  const answer = await call(`/ingresses/${ns}/monitoring`);
  expect(answer).toMatchObject({
    status: 200,
    body: {
      outcome: 'applied',
      timeoutSec: 30,
      backends: [{ service: 'monitoring', port: 'http', outcome: 'updated' }],
    },
  });
  const config = await backendConfigs().get('kubefn-monitoring-http', { namespace: ns });
  expect(spec(config)).toEqual({ timeoutSec: 30 });
  const service = await services().get('monitoring', { namespace: ns });
  expect(service.metadata?.annotations).toMatchObject({
    'cloud.google.com/backend-config': JSON.stringify({
      ports: { http: 'kubefn-monitoring-http' },
    }),
    'example.com/owner': 'team-a',
  });
  const ingress = await ingresses().get('monitoring', { namespace: ns });
  const record = JSON.parse(
    ingress.metadata?.annotations?.['kubefn.dev/backend-timeout-applied'] ?? '{}',
  );
  expect(record).toMatchObject({ timeoutSec: 30, mode: 'backendconfig', source: 'annotation' });
  expect(Date.parse(record.appliedAt)).toBeGreaterThan(Date.now() - 60_000);
});

test('a repeat writes nothing', async () => {
  const before = await versions();
  const answer = await call(`/ingresses/${ns}/monitoring`);
  expect(answer.body).toMatchObject({ outcome: 'unchanged' });
  expect(await versions()).toEqual(before);
});

test('a new value updates only timeoutSec; settings set by others on the BackendConfig stay', async () => {
  await backendConfigs().patch(
    'kubefn-monitoring-http',
    { spec: { connectionDraining: { drainingTimeoutSec: 60 } } },
    { namespace: ns },
  );
  await setAnnotation('monitoring', '5m');
  const answer = await call(`/ingresses/${ns}/monitoring`);
  expect(answer.body).toMatchObject({ outcome: 'applied', timeoutSec: 300 });
  const config = await backendConfigs().get('kubefn-monitoring-http', { namespace: ns });
  expect(spec(config)).toEqual({ timeoutSec: 300, connectionDraining: { drainingTimeoutSec: 60 } });
});

test('a bad value is refused with a clear message and changes nothing', async () => {
  for (const [value, message] of [
    ['90', 'has no unit'],
    ['25h', 'outside 1s to 24h'],
    ['0s', 'outside 1s to 24h'],
    ['1.5s', 'is not a duration'],
    ['soon', 'is not a duration'],
  ] as const) {
    await setAnnotation('monitoring', value);
    const before = await versions();
    const answer = await call(`/ingresses/${ns}/monitoring`);
    expect(answer.status, value).toBe(422);
    expect(answer.body, value).toMatchObject({ outcome: 'invalid' });
    expect(String(answer.body.message), value).toContain(message);
    expect(await versions(), value).toEqual(before);
  }
  const config = await backendConfigs().get('kubefn-monitoring-http', { namespace: ns });
  expect(spec(config).timeoutSec).toBe(300);
  // The log line keeps its own message, and the reason beside it.
  const line = (await logLines()).findLast((l) => l.message === 'ingress invalid');
  expect(line).toMatchObject({ severity: 'WARNING', name: 'monitoring' });
  expect(String(line?.reason)).toContain('is not a duration');
});

test('removing the annotation writes the default back explicitly, once', async () => {
  await setAnnotation('monitoring', null);
  expect((await call(`/ingresses/${ns}/monitoring`)).body).toMatchObject({
    outcome: 'applied',
    timeoutSec: 30,
    source: 'default',
  });
  const config = await backendConfigs().get('kubefn-monitoring-http', { namespace: ns });
  expect(spec(config).timeoutSec).toBe(30);
  expect((await call(`/ingresses/${ns}/monitoring`)).body).toMatchObject({ outcome: 'unchanged' });
});

test('a Service that already names a BackendConfig keeps it; only its timeoutSec changes', async () => {
  await admin.resource({ apiVersion: 'v1', kind: 'Service' }).create({
    metadata: {
      name: 'api',
      namespace: ns,
      annotations: { 'cloud.google.com/backend-config': '{"default":"team-config"}' },
    },
    spec: { selector: { app: 'api' }, ports: [{ port: 8080 }] },
  } as KubeObject);
  await backendConfigs().create({
    metadata: { name: 'team-config', namespace: ns },
    spec: { timeoutSec: 10, cdn: { enabled: true } },
  } as KubeObject);
  await ingresses().create({
    metadata: { name: 'api', namespace: ns, annotations: { 'kubefn.dev/backend-timeout': '45s' } },
    spec: { defaultBackend: { service: { name: 'api', port: { number: 8080 } } } },
  } as KubeObject);
  const answer = await call(`/ingresses/${ns}/api`);
  expect(answer.body).toMatchObject({
    outcome: 'applied',
    backends: [{ service: 'api', backendConfig: 'team-config', outcome: 'updated' }],
  });
  const config = await backendConfigs().get('team-config', { namespace: ns });
  expect(spec(config)).toEqual({ timeoutSec: 45, cdn: { enabled: true } });
  const service = await services().get('api', { namespace: ns });
  expect(service.metadata?.annotations?.['cloud.google.com/backend-config']).toBe(
    '{"default":"team-config"}',
  );
});

test('the scheduled resync puts back a value changed by hand and reports it', async () => {
  await backendConfigs().patch('team-config', { spec: { timeoutSec: 99 } }, { namespace: ns });
  const answer = await call('/resync');
  expect(answer.status).toBe(200);
  const results = answer.body.results as { namespace: string; name: string; outcome: string }[];
  expect(results).toContainEqual(
    expect.objectContaining({ namespace: ns, name: 'api', outcome: 'applied' }),
  );
  expect(results.some((r) => r.namespace === ns && r.name === 'monitoring')).toBe(false);
  const config = await backendConfigs().get('team-config', { namespace: ns });
  expect(spec(config).timeoutSec).toBe(45);
});

test('outside tenant namespaces RBAC refuses the writes: failed, and nothing changed', async () => {
  const { cluster, ns: other } = await openTestNamespace('not-a-tenant');
  try {
    await cluster.resource({ apiVersion: 'v1', kind: 'Service' }).create({
      metadata: { name: 'web', namespace: other },
      spec: { ports: [{ port: 80 }] },
    } as KubeObject);
    await cluster.resource({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' }).create({
      metadata: {
        name: 'web',
        namespace: other,
        annotations: { 'kubefn.dev/backend-timeout': '60s' },
      },
      spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } },
    } as KubeObject);
    const answer = await call(`/ingresses/${other}/web`);
    // Permanent: a 4xx naming the backend and why, in words safe to show; RBAC's own text
    // (kubefn's identity, the verbs it lacks) stays in the log.
    expect(answer).toMatchObject({
      status: 422,
      body: {
        outcome: 'failed',
        backends: [{ service: 'web', outcome: 'failed', code: 'forbidden' }],
      },
    });
    expect(JSON.stringify(answer.body)).not.toMatch(/system:|cannot|serviceaccount|User "/);
    const logged = (await logLines()).findLast((l) => l.message === 'backend not updated');
    expect(logged).toMatchObject({ namespace: other, service: 'web', code: 'forbidden' });
    expect(String(logged?.detail)).toMatch(/forbidden/);
    const list = await backendConfigs().list({ namespace: other });
    expect(list.items).toHaveLength(0);
  } finally {
    await closeTestNamespace(cluster, other);
  }
});

test('an Ingress whose Service does not exist fails with a 4xx that says so, and records nothing', async () => {
  await ingresses().create({
    metadata: {
      name: 'orphan',
      namespace: ns,
      annotations: { 'kubefn.dev/backend-timeout': '60s' },
    },
    spec: { defaultBackend: { service: { name: 'no-such-service', port: { number: 80 } } } },
  } as KubeObject);
  const answer = await call(`/ingresses/${ns}/orphan`);
  expect(answer).toMatchObject({
    status: 422,
    body: {
      outcome: 'failed',
      backends: [{ service: 'no-such-service', outcome: 'failed', code: 'no-service' }],
    },
  });
  const orphan = await ingresses().get('orphan', { namespace: ns });
  expect(orphan.metadata?.annotations?.['kubefn.dev/backend-timeout-applied']).toBeUndefined();
  await ingresses().delete('orphan', { namespace: ns });
});

test('bad names, unknown Ingresses and callers without a token are refused', async () => {
  expect((await call(`/ingresses/${ns}/missing`)).body).toMatchObject({ outcome: 'not-found' });
  expect((await call(`/ingresses/${ns}/missing`)).status).toBe(404);
  expect((await call('/ingresses/Bad_NS/x')).status).toBe(400);
  expect((await call(`/ingresses/${ns}/monitoring`, '')).status).toBe(401);
  const stranger = await mintToken(admin, 'kubefn-label', { audiences: [ingressTimeoutAudience] });
  expect((await call(`/ingresses/${ns}/monitoring`, stranger)).status).toBe(403);
});
