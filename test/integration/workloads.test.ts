// Workloads on the local stack: kube-controller-manager's deployment and replicaset controllers
// make the pods, kube-scheduler binds them to kwok's simulated nodes, kwok makes them Running and
// Ready (after KUBEFN_POD_START_MS), and the endpointslice controller points the Service at them.
// A pod no node can hold is left Pending by the scheduler, marked Unschedulable.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { nodeCapacity, nodeLabel } from '../../infra/local/kwok.ts';
import { eventually, kube, uniqueName } from '../support/kube.ts';
import { stack } from '../support/stack.ts';

type Condition = {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
};
type Pod = {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: Condition[];
    containerStatuses?: { ready: boolean; state: Record<string, unknown> }[];
  };
};
type EndpointSlice = {
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] | null;
  ports?: { port?: number }[] | null;
};

let ns: string;
const labels = { app: 'web' };

beforeAll(async () => {
  ns = uniqueName('workloads');
  const created = await kube('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
  });
  expect(created.status).toBe(201);
  // Pods are admitted only once the serviceaccount controller has made `default`.
  await eventually('default ServiceAccount', 30_000, async () => {
    const res = await kube('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`);
    return res.status === 200 ? res : undefined;
  });
});

afterAll(async () => {
  await kube('DELETE', `/api/v1/namespaces/${ns}`);
});

const condition = (conditions: Condition[] | undefined, type: string) =>
  conditions?.find((c) => c.type === type);

async function pods(): Promise<Pod[]> {
  const res = await kube('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb`);
  expect(res.status).toBe(200);
  return res.body.items as Pod[];
}

async function endpointSlices(): Promise<EndpointSlice[]> {
  const selector = encodeURIComponent('kubernetes.io/service-name=web');
  const res = await kube(
    'GET',
    `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=${selector}`,
  );
  expect(res.status).toBe(200);
  return res.body.items as EndpointSlice[];
}

test('the stack has its simulated nodes, Ready, with capacity and no taint', async () => {
  const selector = encodeURIComponent(`${nodeLabel.key}=${nodeLabel.value}`);
  const res = await kube('GET', `/api/v1/nodes?labelSelector=${selector}`);
  const nodes = res.body.items as {
    metadata: { name: string };
    spec: { taints?: unknown[] };
    status: { allocatable: Record<string, string>; conditions: Condition[] };
  }[];
  expect(nodes.map((n) => n.metadata.name).sort()).toEqual([...stack.nodes].sort());
  expect(stack.nodes.length).toBeGreaterThan(0);
  for (const node of nodes) {
    expect(condition(node.status.conditions, 'Ready')?.status).toBe('True');
    expect(node.status.allocatable).toMatchObject(nodeCapacity);
    expect(node.spec.taints ?? []).toEqual([]);
  }
});

test('a Deployment of 2 behind a Service: pods scheduled on simulated nodes and Ready, the Deployment Available, the EndpointSlice ready; scaled to 0, the pods are gone', async () => {
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web' },
    spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
  expect((await kube('POST', `/api/v1/namespaces/${ns}/services`, { body: service })).status).toBe(
    201,
  );
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'example.com/web:1',
              ports: [{ name: 'http', containerPort: 8080 }],
              resources: { requests: { cpu: '100m', memory: '64Mi' } },
            },
          ],
        },
      },
    },
  };
  const deployments = `/apis/apps/v1/namespaces/${ns}/deployments`;
  expect((await kube('POST', deployments, { body: deployment })).status).toBe(201);

  const available = await eventually('Deployment Available with 2 replicas', 60_000, async () => {
    const { body } = await kube('GET', `${deployments}/web`);
    const status = body.status as { availableReplicas?: number; conditions?: Condition[] };
    return status?.availableReplicas === 2 &&
      condition(status.conditions, 'Available')?.status === 'True'
      ? status
      : undefined;
  });
  expect(available).toMatchObject({ replicas: 2, readyReplicas: 2, updatedReplicas: 2 });

  const running = await pods();
  expect(running).toHaveLength(2);
  for (const pod of running) {
    expect(stack.nodes).toContain(pod.spec.nodeName);
    expect(pod.status.phase).toBe('Running');
    expect(condition(pod.status.conditions, 'Ready')?.status).toBe('True');
    expect(pod.status.containerStatuses?.[0]).toMatchObject({ ready: true });
    expect(pod.status.containerStatuses?.[0]?.state).toHaveProperty('running');
    expect(pod.status.podIP).toMatch(/^10\.244\./);
    // Ready no sooner than the start delay after being scheduled (the times are in seconds).
    const at = (type: string) =>
      Date.parse(condition(pod.status.conditions, type)?.lastTransitionTime ?? '');
    expect(at('Ready') - at('PodScheduled')).toBeGreaterThanOrEqual(
      Math.floor(stack.podStartMs / 1000) * 1000 - 1000,
    );
  }
  const podIPs = running.map((p) => p.status.podIP).sort();

  const ready = await eventually('EndpointSlice with 2 ready endpoints', 30_000, async () => {
    const endpoints = (await endpointSlices()).flatMap((s) => s.endpoints ?? []);
    const readyOnes = endpoints.filter((e) => e.conditions?.ready === true);
    return readyOnes.length === 2 ? readyOnes : undefined;
  });
  expect(ready.flatMap((e) => e.addresses).sort()).toEqual(podIPs);
  expect((await endpointSlices())[0]?.ports).toEqual([
    expect.objectContaining({ name: 'http', port: 8080 }),
  ]);

  const scale = {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: { name: 'web', namespace: ns },
    spec: { replicas: 0 },
  };
  expect((await kube('PUT', `${deployments}/web/scale`, { body: scale })).status).toBe(200);
  await eventually('no pod left', 60_000, async () =>
    (await pods()).length === 0 ? true : undefined,
  );
  await eventually('EndpointSlice emptied', 30_000, async () => {
    const endpoints = (await endpointSlices()).flatMap((s) => s.endpoints ?? []);
    return endpoints.length === 0 ? true : undefined;
  });
});

test('a pod asking for more CPU than any node has stays Pending, Unschedulable', async () => {
  const tooBig = `${Number(nodeCapacity.cpu) * 2}`;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'too-big', labels: { app: 'too-big' } },
    spec: {
      containers: [
        { name: 'big', image: 'example.com/big:1', resources: { requests: { cpu: tooBig } } },
      ],
    },
  };
  expect((await kube('POST', `/api/v1/namespaces/${ns}/pods`, { body: pod })).status).toBe(201);
  const scheduled = await eventually('PodScheduled=False', 30_000, async () => {
    const { body } = await kube('GET', `/api/v1/namespaces/${ns}/pods/too-big`);
    const found = condition((body as Pod).status?.conditions, 'PodScheduled');
    return found?.status === 'False' ? found : undefined;
  });
  expect(scheduled.reason).toBe('Unschedulable');
  expect(scheduled.message).toContain('Insufficient cpu');
  const { body } = await kube('GET', `/api/v1/namespaces/${ns}/pods/too-big`);
  expect((body as Pod).spec.nodeName).toBeUndefined();
  expect((body as Pod).status.phase).toBe('Pending');
});
