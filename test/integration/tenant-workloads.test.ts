// Tenants whose workloads really run: pods scheduled on the stack's simulated nodes (kwok) and
// Ready after its start delay, on the whole event path (watcher -> Pub/Sub emulator -> push ->
// provision). What a tenant request does to its pods, a heal to a deleted Deployment, what the
// scheduled check reports, and readiness's phases as GET /tenants/:id answers them.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { provisionAudience, startProvisionFunction } from '../../infra/local/deploy.ts';
import { mintToken, schedulerAccount, signupAccount } from '../../infra/local/identities.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { type EventFlow, startEventFlow } from '../support/event-flow.ts';
import { httpRequest } from '../support/http.ts';
import { eventually } from '../support/kube.ts';
import { freezeControllerManager } from '../support/stack-control.ts';

type Status = {
  phase: string;
  plan: string;
  phases: { name: string; reached: boolean; failure?: { code: string; message: string } }[];
};

let admin: Cluster;
let flow: EventFlow;
const customers = ['run', 'life', 'plan', 'heal', 'check'];

beforeAll(async () => {
  admin = await adminCluster();
  flow = await startEventFlow(admin, stack, { name: 'tw', customers });
}, 120_000);

afterAll(async () => {
  await flow?.stop();
  await admin?.close();
});

const status = async (customerId: string, url = flow.provision.url, token = flow.signupToken) => {
  const answer = await httpRequest(`${url}/tenants/${customerId}`, token, 'GET');
  if (answer.status !== 200) throw new Error(`GET answered ${answer.status}: ${answer.body}`);
  return JSON.parse(answer.body) as Status;
};
const inPhase = (customerId: string, phase: string, timeoutMs = 20_000) =>
  eventually(`${customerId} ${phase}`, timeoutMs, async () => {
    const now = await status(customerId);
    return now.phase === phase ? now : undefined;
  });
const pods = async (namespace: string) =>
  (await admin.resource({ apiVersion: 'v1', kind: 'Pod' }).list({ namespace })).items;
const readyPods = async (namespace: string) =>
  (await pods(namespace)).filter((p) =>
    ((p.status as { conditions?: { type: string; status: string }[] }).conditions ?? []).some(
      (c) => c.type === 'Ready' && c.status === 'True',
    ),
  );
const quotaUsedPods = async (namespace: string) =>
  (
    (await admin.resource({ apiVersion: 'v1', kind: 'ResourceQuota' }).get('tenant-quota', {
      namespace,
    })) as KubeObject & { status?: { used?: { pods?: string } } }
  ).status?.used?.pods;
const request = (action: string, customerId: string, extra: Record<string, unknown> = {}) =>
  flow.publishTenantRequest({
    action,
    customerId,
    requestedAt: new Date().toISOString(),
    ...extra,
  });

test('a sign-up runs: its pod scheduled on a simulated node and Ready, every phase reached', async () => {
  const ns = await flow.signUp('run');
  const ready = await inPhase('run', 'Ready');
  expect(ready.phases.map((p) => [p.name, p.reached])).toEqual([
    ['accepted', true],
    ['namespace-active', true],
    ['policy-in-force', true],
    ['workload-available', true],
    ['reachable', true],
  ]);
  const running = await readyPods(ns);
  expect(running.map((p) => (p.spec as { nodeName?: string }).nodeName)).toEqual([
    expect.stringMatching(/^kwok-node-/),
  ]);
});

test('suspend takes the pods to zero and the quota usage drops; resume brings them back to Ready', async () => {
  const ns = await flow.signUp('life');
  await inPhase('life', 'Ready');
  // Usage is recounted by the quota controller on its own schedule (seen at '0' beside a running
  // pod under load, until its resync): what is checked is the drop once the pods are gone.
  const usage = (pods: string) =>
    eventually(`quota usage ${pods}`, 45_000, async () =>
      (await quotaUsedPods(ns)) === pods ? true : undefined,
    );

  await request('suspend', 'life');
  await eventually('no pods', 20_000, async () =>
    (await pods(ns)).length === 0 ? true : undefined,
  );
  await usage('0');
  const suspended = await status('life');
  expect(suspended.phase).toBe('Suspended');
  expect(suspended.phases.find((p) => p.name === 'workload-available')?.reached).toBe(false);

  await request('resume', 'life');
  await inPhase('life', 'Ready');
  expect(await readyPods(ns)).toHaveLength(1);
});

test('a plan change moves the replicas and the pods follow', async () => {
  const ns = await flow.signUp('plan');
  await inPhase('plan', 'Ready');
  expect(await readyPods(ns)).toHaveLength(1);

  await request('change-plan', 'plan', { plan: 'pro' }); // pro runs 2 monitoring replicas
  await eventually('2 Ready pods', 20_000, async () =>
    (await readyPods(ns)).length === 2 ? true : undefined,
  );
  const after = await inPhase('plan', 'Ready');
  expect(after.plan).toBe('pro');
});

test('a deleted Deployment is healed and the tenant returns to Ready', async () => {
  const ns = await flow.signUp('heal');
  await inPhase('heal', 'Ready');
  const deployments = admin.resource({ apiVersion: 'apps/v1', kind: 'Deployment' });
  const before = await deployments.get('monitoring', { namespace: ns });
  await deployments.delete('monitoring', { namespace: ns });
  const back = await eventually('the Deployment back', 20_000, async () => {
    const now = await deployments.find('monitoring', { namespace: ns });
    return now && now.metadata?.uid !== before.metadata?.uid ? now : undefined;
  });
  expect(back.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('kubefn');
  await inPhase('heal', 'Ready');
  expect(await readyPods(ns)).toHaveLength(1);
});

test('a workload scaled past its quota: Failed (over quota) for the customer, reported by the scheduled check', async () => {
  const ns = await flow.signUp('check');
  await inPhase('check', 'Ready');
  // An operator asks for more replicas than the free plan's 10 pods (kept: it is their field).
  await admin
    .resource({ apiVersion: 'apps/v1', kind: 'Deployment' })
    .patch(
      'monitoring',
      { spec: { replicas: 12 } },
      { namespace: ns, fieldManager: 'kubectl-scale' },
    );
  const failed = await inPhase('check', 'Failed');
  const workload = failed.phases.find((p) => p.name === 'workload-available');
  expect(workload?.failure?.code).toBe('over-quota');

  const scheduler = await mintToken(admin, schedulerAccount, { audiences: [provisionAudience] });
  const check = await httpRequest(`${flow.provision.url}/resync`, scheduler, 'POST');
  expect(check.status).toBe(200);
  const mine = (
    JSON.parse(check.body) as {
      tenants: {
        namespace: string;
        unavailable?: { kind: string; name: string; detail: string }[];
      }[];
    }
  ).tenants.find((t) => t.namespace === ns);
  expect(mine?.unavailable).toEqual([
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'monitoring',
      detail: expect.stringMatching(/\/12 replicas available/),
    },
  ]);
});

test('a template whose workload asks for more than its plan allows: the tenant shows the failed phase', async () => {
  // The built-in templates, with the monitoring container asking for 4 CPUs (free allows 1).
  const dir = await mkdtemp(join(tmpdir(), 'kubefn-templates-'));
  const templates = join(import.meta.dirname, '../../functions/provision/templates');
  const bundle = JSON.parse(await readFile(join(templates, 'bundle.json'), 'utf8')) as KubeObject[];
  for (const object of bundle) {
    if (object.kind !== 'Deployment') continue;
    const spec = object.spec as {
      template: { spec: { containers: { resources?: Record<string, unknown> }[] } };
    };
    for (const container of spec.template.spec.containers)
      container.resources = { requests: { cpu: '4' }, limits: { cpu: '4' } };
  }
  await writeFile(join(dir, 'bundle.json'), JSON.stringify(bundle));
  await writeFile(join(dir, 'plans.json'), await readFile(join(templates, 'plans.json')));
  const fn = await startProvisionFunction(admin, stack, {
    env: { KUBEFN_TEMPLATES_DIR: dir, KUBEFN_NAMESPACE_PREFIX: 'twq-' },
  });
  try {
    const token = await mintToken(admin, signupAccount, { audiences: [provisionAudience] });
    // The quota controller stopped for 2 s: the sign-up must wait for it, not apply around it.
    await freezeControllerManager(2_000);
    const created = await httpRequest(
      `${fn.url}/tenants`,
      token,
      'POST',
      JSON.stringify({ customerId: 'big', plan: 'free' }),
    );
    expect(created.status).toBe(201);
    // Provision answers once the quota is counted: its workloads were applied under it.
    const quota = (await admin
      .resource({ apiVersion: 'v1', kind: 'ResourceQuota' })
      .get('tenant-quota', { namespace: 'twq-big' })) as KubeObject & {
      spec: { hard: unknown };
      status?: { hard?: unknown };
    };
    expect(quota.status?.hard).toEqual(quota.spec.hard);
    const failed = await eventually('Failed', 20_000, async () => {
      const now = await status('big', fn.url, token);
      return now.phase === 'Failed' ? now : undefined;
    });
    expect(failed.phases.find((p) => p.name === 'workload-available')?.failure).toEqual({
      code: 'over-quota',
      message: expect.stringContaining("plan's quota"),
    });
    expect(failed.phases.find((p) => p.name === 'reachable')?.reached).toBe(false);
    await httpRequest(`${fn.url}/tenants/big?confirm=big`, token, 'DELETE');
  } finally {
    await fn.stop();
  }
});
