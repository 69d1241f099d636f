// The two-cell stack (test/support/cells-setup.ts): eu1 and us1 are two separate real control
// planes, each with its own etcd, PKI, controllers, scheduler and kwok nodes, and one can go down
// while the other answers.
import { readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { nodeLabel } from '../../infra/local/kwok.ts';
import { cellKube } from '../support/cell-kube.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { stack } from '../support/stack.ts';
import { cellApiserver } from '../support/stack-control.ts';

const eu1 = cellKube('eu1');
const us1 = cellKube('us1');
const ns = uniqueName('cells');

type Condition = { type: string; status: string };
const ready = (conditions: Condition[] | undefined) =>
  conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

beforeAll(async () => {
  // Only in eu1: us1 must not see it.
  const created = await eu1('POST', '/api/v1/namespaces', { metadata: { name: ns } });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await cellApiserver('eu1', 'start'); // should the last test have failed with eu1 down
  for (const kube of [eu1, us1]) await kube('DELETE', `/api/v1/namespaces/${ns}`);
});

test('the stack runs eu1 and us1, eu1 also at the top level, with shared emulators', () => {
  expect(Object.keys(stack.cells)).toEqual(['eu1', 'us1']);
  expect(stack.server).toBe(eu1.cell.server);
  expect(stack.kubeconfig).toBe(eu1.cell.kubeconfig);
  const [a, b] = [eu1.cell, us1.cell];
  for (const field of ['server', 'etcdUrl', 'caFile', 'kubeconfig', 'dir'] as const)
    expect(a[field], field).not.toBe(b[field]);
  expect(stack.firestoreEmulatorHost).toMatch(/^127\.0\.0\.1:\d+$/);
});

test('a namespace made in eu1 is absent from us1', async () => {
  expect((await eu1('GET', `/api/v1/namespaces/${ns}`)).status).toBe(200);
  expect((await us1('GET', `/api/v1/namespaces/${ns}`)).status).toBe(404);
});

test("each cell has its own CA: neither trusts the other's server or admin certificate", async () => {
  const agent = (ca: string, client: typeof eu1.cell) =>
    new Agent({
      connect: {
        ca: readFileSync(ca, 'utf8'),
        cert: readFileSync(client.adminCertFile, 'utf8'),
        key: readFileSync(client.adminKeyFile, 'utf8'),
      },
    });
  // us1's serving certificate is not signed by eu1's CA.
  const eu1Trust = agent(eu1.cell.caFile, eu1.cell);
  await expect(fetch(`${us1.cell.server}/version`, { dispatcher: eu1Trust })).rejects.toThrow();
  // eu1's admin certificate means nothing to us1.
  const eu1Admin = agent(us1.cell.caFile, eu1.cell);
  const res = await fetch(`${us1.cell.server}/api/v1/namespaces`, { dispatcher: eu1Admin });
  expect([401, 403]).toContain(res.status);
  await res.body?.cancel();
  await Promise.all([eu1Trust.close(), eu1Admin.close()]);
});

test.each([
  ['eu1', eu1],
  ['us1', us1],
])('%s: its kwok nodes are Ready and a Deployment gets a Ready pod on one', async (name, kube) => {
  const selector = encodeURIComponent(`${nodeLabel.key}=${nodeLabel.value}`);
  const nodes = await kube('GET', `/api/v1/nodes?labelSelector=${selector}`);
  const items = nodes.body.items as {
    metadata: { name: string };
    status?: { conditions?: Condition[] };
  }[];
  expect(items.map((n) => n.metadata.name).sort()).toEqual([...kube.cell.nodes].sort());
  expect(items.every((n) => ready(n.status?.conditions))).toBe(true);

  // A namespace of its own in each cell: us1's is made here, eu1's in beforeAll.
  if (name === 'us1')
    expect((await kube('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status).toBe(201);
  await eventually(`${name}: default ServiceAccount`, 30_000, async () =>
    (await kube('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`)).status === 200
      ? true
      : undefined,
  );
  const labels = { app: `web-${name}` };
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'web', image: 'kubefn.local/web' }] },
      },
    },
  };
  const created = await kube('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deployment);
  expect(created.status).toBe(201);
  const pod = await eventually(`${name}: a Ready pod`, 60_000, async () => {
    const res = await kube('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb-${name}`);
    const pods = res.body.items as {
      spec: { nodeName?: string };
      status: { conditions?: Condition[] };
    }[];
    return pods.find((p) => ready(p.status.conditions));
  });
  expect(kube.cell.nodes).toContain(pod.spec.nodeName);
  // The Deployment's status follows the pod's readiness a moment later (its controller's turn).
  await eventually(`${name}: the Deployment counts its Ready replica`, 30_000, async () => {
    const status = await kube('GET', `/apis/apps/v1/namespaces/${ns}/deployments/web`);
    return (status.body.status as { readyReplicas?: number }).readyReplicas === 1
      ? true
      : undefined;
  });
});

test("eu1's kube-apiserver stopped: us1 answers and writes; started again, eu1 has its data", async () => {
  const kept = uniqueName('kept');
  expect((await eu1('POST', '/api/v1/namespaces', { metadata: { name: kept } })).status).toBe(201);
  await cellApiserver('eu1', 'stop');
  try {
    await expect(eu1('GET', '/readyz')).rejects.toThrow();
    expect((await us1('GET', '/readyz')).status).toBe(200);
    const during = uniqueName('during');
    expect((await us1('POST', '/api/v1/namespaces', { metadata: { name: during } })).status).toBe(
      201,
    );
    await us1('DELETE', `/api/v1/namespaces/${during}`);
  } finally {
    await cellApiserver('eu1', 'start');
  }
  expect((await eu1('GET', '/readyz')).status).toBe(200);
  expect((await eu1('GET', `/api/v1/namespaces/${kept}`)).status).toBe(200);
  expect((await eu1('GET', `/api/v1/namespaces/${ns}`)).status).toBe(200);
  expect((await us1('GET', `/api/v1/namespaces/${kept}`)).status).toBe(404);
  await eu1('DELETE', `/api/v1/namespaces/${kept}`);
});
