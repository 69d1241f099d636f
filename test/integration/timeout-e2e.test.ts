// End to end on the local stack: an annotation change on an Ingress travels through the watcher,
// the Pub/Sub emulator and a push to the ingress-timeout function, which writes the BackendConfig
// and records the value on the Ingress. Then a bad value changes nothing, and removing the
// annotation writes the default back.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { startTimeoutFlow, type TimeoutFlow } from '../support/timeout-flow.ts';

let admin: Cluster;
let flow: TimeoutFlow;

beforeAll(async () => {
  admin = await adminCluster();
  flow = await startTimeoutFlow(admin, stack, { customerId: uniqueName('e2e') });
});
afterAll(async () => {
  await flow?.stop();
  await admin?.close();
});

const ingresses = () => admin.resource({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' });
const timeoutSec = async () => {
  const config = await admin
    .resource({ apiVersion: 'cloud.google.com/v1', kind: 'BackendConfig' })
    .get('kubefn-monitoring-http', { namespace: flow.namespace })
    .catch(() => undefined);
  return (config?.spec as { timeoutSec?: number } | undefined)?.timeoutSec;
};
const record = async () => {
  const ingress: KubeObject = await ingresses().get('monitoring', { namespace: flow.namespace });
  return JSON.parse(ingress.metadata?.annotations?.['kubefn.dev/backend-timeout-applied'] ?? '{}');
};
const annotate = (value: string | null) =>
  ingresses().patch(
    'monitoring',
    { metadata: { annotations: { 'kubefn.dev/backend-timeout': value } } },
    { namespace: flow.namespace },
  );

test('an annotation change reaches the BackendConfig through watcher, Pub/Sub and push', async () => {
  // The tenant's own annotation (30s, from its plan) arrives first, from the watcher's list.
  await eventually('initial value applied', 30_000, async () =>
    (await timeoutSec()) === 30 ? true : undefined,
  );
  await annotate('75s');
  await eventually('new value applied', 30_000, async () =>
    (await timeoutSec()) === 75 ? true : undefined,
  );
  await eventually('value recorded', 10_000, async () =>
    (await record()).timeoutSec === 75 ? true : undefined,
  );
  expect(flow.pushes.get(200)).toBeGreaterThan(0);
  expect(flow.pushes.get(401) ?? 0).toBe(0);
});

test('a bad value changes nothing; removing the annotation writes the default back', async () => {
  const bad = await annotate('forever');
  // The bad value's own event is pushed to the function, which refuses it (answered 200: retrying
  // cannot fix it) ...
  const key = `${bad.metadata?.uid}/${bad.metadata?.resourceVersion}/MODIFIED`;
  const answer = await eventually('the bad value answered', 30_000, async () => flow.answerTo(key));
  expect(answer.status).toBe(200);
  expect(JSON.parse(answer.body)).toMatchObject({ outcome: 'invalid' });
  // ... and, that push answered, nothing changed.
  expect(await timeoutSec()).toBe(75);
  expect((await record()).timeoutSec).toBe(75);
  await annotate(null);
  await eventually('default written back', 30_000, async () =>
    (await timeoutSec()) === 30 && (await record()).source === 'default' ? true : undefined,
  );
  expect(flow.pushes.get(503) ?? 0).toBe(0);
});
