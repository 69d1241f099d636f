// Every event trigger end to end on the real stack: kube-apiserver -> the watcher process ->
// the Pub/Sub emulator -> the subscriptions of infra/subscriptions.ts (their filters applied by
// the local push forwarder, which the emulator does not do) -> the functions. Changes are made
// as an operator or a tenant would, with plain API calls, and their effect is awaited.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { suspendedLabel } from '../../shared/labels.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { type EventFlow, startEventFlow } from '../support/event-flow.ts';
import { eventually } from '../support/kube.ts';

const run = Date.now().toString(36).slice(-5);
const customer = {
  heal: `heal-${run}`,
  life: `life-${run}`,
  edit: `edit-${run}`,
  lock: `lock-${run}`,
};
const ref = {
  quota: { apiVersion: 'v1', kind: 'ResourceQuota' },
  policy: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  binding: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  deployment: { apiVersion: 'apps/v1', kind: 'Deployment' },
  ingress: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  service: { apiVersion: 'v1', kind: 'Service' },
  namespace: { apiVersion: 'v1', kind: 'Namespace' },
  backendConfig: { apiVersion: 'cloud.google.com/v1', kind: 'BackendConfig' },
} as const;

let admin: Cluster;
let flow: EventFlow;
const ns: Record<keyof typeof customer, string> = { heal: '', life: '', edit: '', lock: '' };

beforeAll(async () => {
  admin = await adminCluster();
  flow = await startEventFlow(admin, stack, {
    name: `evt${run}`,
    customers: Object.values(customer),
  });
  ns.heal = await flow.signUp(customer.heal, { owners: ['owner@example.com'] });
  ns.life = await flow.signUp(customer.life);
  ns.edit = await flow.signUp(customer.edit);
  ns.lock = await flow.signUp(customer.lock);
}, 120_000);

afterAll(async () => {
  await flow?.stop();
  await admin?.close();
});

const find = (kind: keyof typeof ref, name: string, namespace: string) =>
  admin.resource(ref[kind]).find(name, { namespace });
const hard = (quota: KubeObject | undefined) =>
  (quota?.spec as { hard?: Record<string, string> })?.hard;
const subjectNames = (binding: KubeObject | undefined) =>
  (binding as { subjects?: { name: string }[] } | undefined)?.subjects?.map((s) => s.name);
/** Publishes a tenant request as a billing system would and waits until its push is answered. */
async function requested(request: Record<string, unknown>) {
  const answered = () => flow.pushes.tenantRequests.get(200) ?? 0;
  const before = answered();
  await flow.publishTenantRequest(request);
  await eventually('the tenant request answered', 20_000, async () =>
    answered() > before ? true : undefined,
  );
}

/**
 * Publishes a change message in the watcher's shape with the object as given (what anyone who
 * may publish to the topic can send) and waits for its push through `trigger`: the status.
 */
async function changed(
  trigger: keyof EventFlow['pushes'],
  type: 'MODIFIED' | 'DELETED',
  object: KubeObject,
  parts: string[],
) {
  const { apiVersion = '', kind = '', metadata = {} } = object;
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const uid = metadata.uid ?? 'forged';
  const resourceVersion = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const eventKey = `${uid}/${resourceVersion}/${type}`;
  await flow.publishChange(
    { type, object },
    {
      type,
      group: group ?? '',
      version: version ?? '',
      kind,
      name: metadata.name ?? '',
      ...(metadata.namespace ? { namespace: metadata.namespace } : {}),
      uid,
      resourceVersion,
      cluster: 'local',
      eventKey,
      ...(metadata.labels?.['app.kubernetes.io/managed-by'] === 'kubefn'
        ? { managed: 'true' }
        : {}),
      ...Object.fromEntries(parts.map((part) => [`${part}Changed`, 'true'])),
    },
  );
  return eventually('the change answered', 20_000, async () => flow.answerTo(trigger, eventKey));
}

describe('self-healing tenants', () => {
  test('a deleted ResourceQuota is put back within seconds', async () => {
    const before = await find('quota', 'tenant-quota', ns.heal);
    expect(before).toBeDefined();
    await admin.resource(ref.quota).delete('tenant-quota', { namespace: ns.heal });
    const back = await eventually('the quota back', 20_000, async () => {
      const quota = await find('quota', 'tenant-quota', ns.heal);
      return quota && quota.metadata?.uid !== before?.metadata?.uid ? quota : undefined;
    });
    expect(hard(back)).toEqual(hard(before));
  });

  test("an edited NetworkPolicy gets kubefn's spec back, and keeps a label someone else set", async () => {
    const policies = admin.resource(ref.policy);
    await policies.patch(
      'default-deny-except-namespace',
      { metadata: { labels: { team: 'blue' } }, spec: { ingress: [{}] } },
      { namespace: ns.heal, fieldManager: 'an-operator' },
    );
    const healed = await eventually('the policy put back', 20_000, async () => {
      const policy = await find('policy', 'default-deny-except-namespace', ns.heal);
      const ingress = (policy?.spec as { ingress?: { from?: unknown[] }[] })?.ingress;
      return ingress?.[0]?.from ? policy : undefined;
    });
    expect((healed.spec as { ingress: unknown }).ingress).toEqual([
      { from: [{ podSelector: {} }] },
    ]);
    expect(healed.metadata?.labels?.team).toBe('blue');
  });

  test('a deleted owners RoleBinding comes back with the owners it had', async () => {
    await admin.resource(ref.binding).delete('tenant-owners', { namespace: ns.heal });
    const back = await eventually('the binding back', 20_000, () =>
      find('binding', 'tenant-owners', ns.heal),
    );
    expect((back as { subjects?: { name: string }[] }).subjects?.map((s) => s.name)).toEqual([
      'owner@example.com',
    ]);
  });

  // Issue 27: who may access a tenant comes from kubefn's own record on the namespace, never from
  // a message (anyone who can publish to the topic, or an old message delivered late).
  test('a change message naming other owners never rewrites who owns the tenant', async () => {
    const bindings = admin.resource(ref.binding);
    const live = await bindings.get('tenant-owners', { namespace: ns.heal });
    const { 'kubefn.dev/customer': _, ...labels } = live.metadata?.labels ?? {};
    const forged = {
      ...ref.binding,
      metadata: {
        name: 'tenant-owners',
        namespace: ns.heal,
        uid: live.metadata?.uid ?? '',
        labels,
      },
      roleRef: (live as { roleRef?: unknown }).roleRef,
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'evil@example.com' }],
    };
    // Drifted (a kubefn label missing): provision writes the binding, with the recorded owners.
    expect(await changed('provisionChanges', 'MODIFIED', forged, ['labels', 'spec'])).toBe(200);
    expect(subjectNames(await find('binding', 'tenant-owners', ns.heal))).toEqual([
      'owner@example.com',
    ]);

    // A tenant provisioned before the record: the binding as it is in the cluster, read.
    await admin
      .resource(ref.namespace)
      .patch(ns.heal, { metadata: { annotations: { 'kubefn.dev/owners': null } } });
    expect(await changed('provisionChanges', 'MODIFIED', forged, ['labels', 'spec'])).toBe(200);
    expect(subjectNames(await find('binding', 'tenant-owners', ns.heal))).toEqual([
      'owner@example.com',
    ]);
  });

  test("a RoleBinding's subjects changed are put back", async () => {
    const bindings = admin.resource(ref.binding);
    const before = await bindings.get('kubefn-label', { namespace: ns.heal });
    const mallory = [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'mallory' }];
    expect(before.subjects).not.toEqual(mallory);
    const edited = await bindings.patch(
      'kubefn-label',
      { subjects: mallory },
      { namespace: ns.heal, fieldManager: 'an-operator' },
    );
    // The edit landed (else finding the old subjects below would prove nothing).
    expect(edited.subjects).toEqual(mallory);
    const healed = await eventually('the subjects put back', 20_000, async () => {
      const now = await bindings.get('kubefn-label', { namespace: ns.heal });
      return JSON.stringify(now.subjects) === JSON.stringify(before.subjects) ? now : undefined;
    });
    // Written back after the edit, not an edit that never took.
    expect(BigInt(healed.metadata?.resourceVersion ?? 0)).toBeGreaterThan(
      BigInt(edited.metadata?.resourceVersion ?? 0),
    );
  });
});

describe('tenant lifecycle from Pub/Sub', () => {
  const at = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();
  const answeredTenantRequests = () => flow.pushes.tenantRequests.get(200) ?? 0;
  const replicas = async () =>
    ((await find('deployment', 'monitoring', ns.life))?.spec as { replicas?: number } | undefined)
      ?.replicas;

  test('a plan change moves the quota to the new plan', async () => {
    await flow.publishTenantRequest({
      action: 'change-plan',
      customerId: customer.life,
      plan: 'pro',
      requestedAt: at(),
    });
    const quota = await eventually('the pro quota', 20_000, async () => {
      const q = await find('quota', 'tenant-quota', ns.life);
      return hard(q)?.['requests.cpu'] === '8' ? q : undefined;
    });
    expect(hard(quota)?.pods).toBe('100');
    expect((await find('namespace', ns.life, ''))?.metadata?.labels?.['kubefn.dev/plan']).toBe(
      'pro',
    );
  });

  test('suspend scales workloads to zero and stops new pods; resume restores them; an older request changes nothing', async () => {
    const suspendAt = at();
    await flow.publishTenantRequest({
      action: 'suspend',
      customerId: customer.life,
      requestedAt: suspendAt,
    });
    await eventually('suspended', 20_000, async () =>
      (await replicas()) === 0 ? true : undefined,
    );
    const namespace = await find('namespace', ns.life, '');
    expect(namespace?.metadata?.labels?.[suspendedLabel]).toBe('true');
    expect(hard(await find('quota', 'kubefn-suspended', ns.life))).toEqual({ pods: '0' });

    // The suspension's quota is kept by self-healing while suspended.
    await admin.resource(ref.quota).delete('kubefn-suspended', { namespace: ns.life });
    await eventually('the suspension quota back', 20_000, () =>
      find('quota', 'kubefn-suspended', ns.life),
    );

    // Resume's writes are several (label, quota, each workload): its state is read once the
    // function has answered the push, not as soon as one of them shows.
    const answeredBeforeResume = answeredTenantRequests();
    await flow.publishTenantRequest({
      action: 'resume',
      customerId: customer.life,
      requestedAt: at(1),
    });
    await eventually('the resume answered', 20_000, async () =>
      answeredTenantRequests() > answeredBeforeResume ? true : undefined,
    );
    // The pro plan's monitoring replicas (a default kubefn set, so it follows the plan).
    expect(await replicas()).toBe(2);
    expect(await find('quota', 'kubefn-suspended', ns.life)).toBeUndefined();
    const resumed = await find('namespace', ns.life, '');
    expect(resumed?.metadata?.labels?.[suspendedLabel]).toBeUndefined();
    const deployment = await find('deployment', 'monitoring', ns.life);
    expect(
      deployment?.metadata?.annotations?.['kubefn.dev/replicas-before-suspend'],
    ).toBeUndefined();

    // A request older than the newest applied (a redelivery, one overtaken) is stale.
    const answered = answeredTenantRequests();
    await flow.publishTenantRequest({
      action: 'suspend',
      customerId: customer.life,
      requestedAt: suspendAt,
    });
    await eventually('the stale request answered', 20_000, async () =>
      answeredTenantRequests() > answered ? true : undefined,
    );
    expect(await replicas()).toBe(2);
    expect(
      (await find('namespace', ns.life, ''))?.metadata?.labels?.[suspendedLabel],
    ).toBeUndefined();
  });

  // Issue 27: a request dated in the future would be recorded as the newest and make every real
  // request after it stale. It is refused (acknowledged, nothing changed).
  test('a request dated beyond the clock skew is refused and locks nothing', async () => {
    const labels = async () => (await find('namespace', ns.lock, ''))?.metadata?.labels;
    const recorded = async () =>
      (await find('namespace', ns.lock, ''))?.metadata?.annotations?.['kubefn.dev/requested-at'];
    const request = (action: string, requestedAt: string) =>
      requested({ action, customerId: customer.lock, requestedAt });

    await request('suspend', '2999-01-01T00:00:00Z');
    expect((await labels())?.[suspendedLabel]).toBeUndefined();
    expect(await recorded()).toBeUndefined();

    // A request dated now is applied, not stale.
    await request('suspend', at());
    expect((await labels())?.[suspendedLabel]).toBe('true');

    // A record left far ahead (by a version without the check): every request is stale until
    // the operator resets it, as README's "Tenant lifecycle" says (kubectl annotate --overwrite).
    await admin.resource(ref.namespace).patch(ns.lock, {
      metadata: { annotations: { 'kubefn.dev/requested-at': '2999-01-01T00:00:00Z' } },
    });
    await request('resume', at(1));
    expect((await labels())?.[suspendedLabel]).toBe('true');
    await admin.resource(ref.namespace).patch(ns.lock, {
      metadata: { annotations: { 'kubefn.dev/requested-at': at(2) } },
    });
    await request('resume', at(3));
    expect((await labels())?.[suspendedLabel]).toBeUndefined();
  });

  test('cancel without the confirmation deletes nothing; with it, the tenant goes', async () => {
    const answered = answeredTenantRequests();
    await flow.publishTenantRequest({
      action: 'cancel',
      customerId: customer.life,
      confirm: 'someone-else',
      requestedAt: at(2),
    });
    await eventually('the refused cancel answered', 20_000, async () =>
      answeredTenantRequests() > answered ? true : undefined,
    );
    expect((await find('namespace', ns.life, ''))?.metadata?.deletionTimestamp).toBeUndefined();

    await flow.publishTenantRequest({
      action: 'cancel',
      customerId: customer.life,
      confirm: customer.life,
      requestedAt: at(3),
    });
    await eventually('the tenant terminating', 20_000, async () => {
      const namespace = await find('namespace', ns.life, '');
      return !namespace || namespace.metadata?.deletionTimestamp ? true : undefined;
    });
  });
});

describe('objects tenants create', () => {
  test('an unlabelled Ingress in a tenant namespace gets its timeout, and the tenant labels', async () => {
    const ingresses = admin.resource(ref.ingress);
    await ingresses.create({
      metadata: { name: 'shop', namespace: ns.edit },
      spec: {
        defaultBackend: { service: { name: 'monitoring', port: { name: 'http' } } },
      },
    });
    const labelled = await eventually('the tenant labels', 20_000, async () => {
      const ingress = await find('ingress', 'shop', ns.edit);
      return ingress?.metadata?.labels?.customer ? ingress : undefined;
    });
    expect(labelled.metadata?.labels).toMatchObject({ customer: customer.edit, plan: 'free' });

    const timeoutPushes = () =>
      [...flow.pushes.ingressTimeoutChanges]
        .filter(([s]) => s === 200)
        .reduce((a, [, n]) => a + n, 0);
    const before = timeoutPushes();
    await ingresses.patch(
      'shop',
      { metadata: { annotations: { 'kubefn.dev/backend-timeout': '75s' } } },
      { namespace: ns.edit, fieldManager: 'a-tenant' },
    );
    const config = await eventually('the BackendConfig', 20_000, async () => {
      const all = await admin.resource(ref.backendConfig).list({ namespace: ns.edit });
      return all.items.find((c) => (c.spec as { timeoutSec?: number })?.timeoutSec === 75);
    });
    expect(config).toBeDefined();
    // kubefn's own record write on the Ingress is not published: one push did the work.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(timeoutPushes() - before).toBe(1);
  });

  // Issue 27, the same class in the label rules: a Namespace's labels come from the cluster, not
  // from the message (a forged one, or an old one from before a plan change delivered late).
  test("a Namespace message's labels are not written onto the tenant's objects", async () => {
    const labelled = await eventually('the tenant labels on its Service', 20_000, async () => {
      const service = await find('service', 'monitoring', ns.edit);
      return service?.metadata?.labels?.plan ? service : undefined;
    });
    const live = await find('namespace', ns.edit, '');
    const forged = {
      ...ref.namespace,
      metadata: {
        name: ns.edit,
        uid: live?.metadata?.uid ?? '',
        labels: { ...live?.metadata?.labels, 'kubefn.dev/plan': 'forged' },
      },
    };
    expect(await changed('labelChanges', 'MODIFIED', forged, ['labels'])).toBe(200);
    // Nothing written: not the forged plan, nor the write that would then put the real one back.
    const after = await find('service', 'monitoring', ns.edit);
    expect(after?.metadata?.labels?.plan).toBe('free');
    expect(after?.metadata?.resourceVersion).toBe(labelled.metadata?.resourceVersion);
  });

  test('a new Deployment gets the tenant labels (and keeps its own)', async () => {
    await admin.resource(ref.deployment).create({
      metadata: { name: 'worker', namespace: ns.edit, labels: { app: 'worker' } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'worker' } },
        template: {
          metadata: { labels: { app: 'worker' } },
          spec: { containers: [{ name: 'w', image: 'busybox' }] },
        },
      },
    });
    const labelled = await eventually('the tenant labels', 20_000, async () => {
      const d = await find('deployment', 'worker', ns.edit);
      return d?.metadata?.labels?.customer ? d : undefined;
    });
    expect(labelled.metadata?.labels).toEqual({
      app: 'worker',
      customer: customer.edit,
      plan: 'free',
    });
  });
});
