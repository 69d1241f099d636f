// Issue 31 on the real stack: the deletion budget (functions/provision/deletion-budget.ts,
// held-deletions.ts) and the tenant outcome events (outcomes.ts), through kube-apiserver and the
// Pub/Sub emulator. More cancels at once than the budget delete exactly the budget and hold the
// rest; the count survives a restart; only operators decide on held deletions; every outcome
// published is a CloudEvent the `cloudevents` SDK accepts.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { slotPrefix } from '../../functions/provision/deletion-budget.ts';
import {
  mintToken,
  principal,
  pushAccount,
  schedulerAccount,
} from '../../infra/local/identities.ts';
import { type Subscribed, subscribe } from '../../infra/local/triggers.ts';
import { systemNamespace } from '../../shared/identities.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import type { CloudEvent } from '../support/cloud-events.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { httpRequest } from '../support/http.ts';
import { eventually } from '../support/kube.ts';
import {
  deletionStates,
  type ProvisionFixture,
  provisionAudience,
  startProvision,
} from '../support/provision.ts';
import { pubsub, pullCloudEvents, topicPath } from '../support/pubsub.ts';

const run = Date.now().toString(36).slice(-6);
const prefix = `db${run}-`;
const budget = 3;
const topics = { requests: `${prefix}tenants`, outcomes: `${prefix}outcomes` };
const outcomeSubscription = `${prefix}outcomes-app`;
/** Cancelled at once over Pub/Sub: more than the budget. */
const cancelled = Array.from({ length: 7 }, (_, i) => `c${i}`);
/** Deleted over HTTP once the budget is spent. */
const overHttp = 'h0';
const customers = [...cancelled, overHttp];
const nsRef = { apiVersion: 'v1', kind: 'Namespace' } as const;
const leaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' } as const;

let admin: Cluster;
let fx: ProvisionFixture;
let operatorToken: string;
let requests: Subscribed | undefined;
const answers: { status: number; body: Record<string, unknown> }[] = [];

const env = () => ({
  KUBEFN_NAMESPACE_PREFIX: prefix,
  KUBEFN_DELETION_BUDGET: `${budget}/1h`,
  KUBEFN_OUTCOMES_TOPIC: topics.outcomes,
  KUBEFN_ALLOW_OPERATOR: principal(schedulerAccount),
  KUBEFN_ALLOW_PUSH: principal(pushAccount),
  PUBSUB_EMULATOR_HOST: stack.pubsubEmulatorHost,
  PUBSUB_PROJECT_ID: stack.pubsubProject,
});

async function subscribeRequests() {
  requests = await subscribe(admin, stack, {
    topic: topics.requests,
    subscription: `${prefix}provision-tenant-requests`,
    url: `${fx.fn.url}/pubsub/tenants`,
    audience: provisionAudience,
    ordered: true,
    onAnswer: (status, _attributes, body) =>
      answers.push({ status, body: body ? (JSON.parse(body) as Record<string, unknown>) : {} }),
  });
}

beforeAll(async () => {
  admin = await adminCluster();
  expect((await pubsub('PUT', `topics/${topics.outcomes}`)).status).toBe(200);
  // The SaaS app's subscription, there before any request so it sees every outcome.
  const created = await pubsub('PUT', `subscriptions/${outcomeSubscription}`, {
    topic: topicPath(topics.outcomes),
    ackDeadlineSeconds: 60,
    enableMessageOrdering: true,
  });
  expect(created.status).toBe(200);
  fx = await startProvision(admin, env());
  operatorToken = await mintToken(admin, schedulerAccount, { audiences: [provisionAudience] });
  await subscribeRequests();
  await Promise.all(
    customers.map(async (customerId) => {
      const answer = await call('POST', '/tenants', fx.callerToken, { customerId, plan: 'free' });
      expect(answer.status).toBe(201);
    }),
  );
}, 120_000);

afterAll(async () => {
  await requests?.close();
  await fx?.fn.stop();
  for (const customerId of [...customers, 'p0'])
    await admin
      ?.resource(nsRef)
      .delete(prefix + customerId)
      .catch(() => {});
  for (let i = 0; i < budget; i++)
    await admin
      ?.resource(leaseRef)
      .delete(`${slotPrefix(prefix)}-${i}`, { namespace: systemNamespace })
      .catch(() => {});
  await admin?.close();
});

async function call(method: string, path: string, token: string, body?: unknown) {
  const answer = await httpRequest(
    `${fx.fn.url}${path}`,
    token,
    method,
    body === undefined ? undefined : JSON.stringify(body),
  );
  // biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, read field by field
  return { status: answer.status, body: JSON.parse(answer.body || '{}') as Record<string, any> };
}

/** Each customer's tenant: gone or terminating, held, or neither. */
const states = () => deletionStates(admin, prefix, customers);
const count = (state: Record<string, string>, which: string, among = customers) =>
  among.filter((c) => state[c] === which).length;

/** Every tenant request this run published, as published: what the replay sends again. */
const recorded: { data: string; orderingKey: string }[] = [];
/** Each outcome's data by its id, as first seen. */
const seen = new Map<string, unknown>();

async function publish(requests: Record<string, unknown>[]) {
  const messages = requests.map((request) => ({
    data: Buffer.from(JSON.stringify(request)).toString('base64'),
    orderingKey: String(request.customerId),
  }));
  const published = await pubsub('POST', `topics/${topics.requests}:publish`, { messages });
  expect(published.status).toBe(200);
  recorded.push(...messages);
}

/** Publishes recorded messages again, as they were (a redelivery, a replay). */
async function republish(messages: typeof recorded) {
  const published = await pubsub('POST', `topics/${topics.requests}:publish`, { messages });
  expect(published.status).toBe(200);
}

async function publishCancels(customerIds: string[], requestedAt: string) {
  await publish(
    customerIds.map((customerId) => ({
      action: 'cancel',
      customerId,
      confirm: customerId,
      requestedAt,
    })),
  );
}

const requestedAt = new Date().toISOString();

type OutcomeEvent = CloudEvent<unknown>;
const pullOutcomes = (expected: number, drain = false) =>
  pullCloudEvents(outcomeSubscription, expected, drain);

describe('the deletion budget', () => {
  test(`${cancelled.length} cancels at once with a budget of ${budget}: ${budget} deleted, the rest held`, async () => {
    await publishCancels(cancelled, requestedAt);
    await eventually('every cancel answered', 60_000, async () =>
      answers.length >= cancelled.length ? true : undefined,
    );
    expect(answers.map((a) => a.status)).toEqual(cancelled.map(() => 200));
    const outcomes = answers.map((a) => a.body.outcome).sort();
    expect(outcomes).toEqual([
      ...Array(budget).fill('done'),
      ...Array(cancelled.length - budget).fill('held'),
    ]);
    const state = await states();
    expect(count(state, 'deleted', cancelled)).toBe(budget);
    expect(count(state, 'held', cancelled)).toBe(cancelled.length - budget);
    expect(state[overHttp]).toBe('kept');
  });

  test('the count is the cluster’s: after a restart, a DELETE is held too (429 deletion-held)', async () => {
    await requests?.close();
    // The new instance listens elsewhere: its subscription is made again, pushing there.
    await pubsub('DELETE', `subscriptions/${prefix}provision-tenant-requests`);
    await fx.fn.stop();
    fx = await startProvision(admin, env());
    await subscribeRequests();
    const answer = await call('DELETE', `/tenants/${overHttp}?confirm=${overHttp}`, fx.callerToken);
    expect(answer.status).toBe(429);
    expect(answer.body.error).toBe('deletion-held');
    expect(answer.body.details?.windowFreesInSeconds).toBeGreaterThan(0);
    expect((await states())[overHttp]).toBe('held');
  });

  test('a redelivered cancel changes nothing (stale), and the counts stay', async () => {
    const before = await states();
    const answered = answers.length;
    await republish(recorded.slice(0, cancelled.length));
    await eventually('the redeliveries answered', 60_000, async () =>
      answers.length >= answered + cancelled.length ? true : undefined,
    );
    const redelivered = answers.slice(answered).map((a) => `${a.status} ${a.body.outcome}`);
    // The deleted ones are gone (done, nothing to delete); the held ones recorded the cancel.
    expect(redelivered.sort()).toEqual([
      ...Array(budget).fill('200 done'),
      ...Array(cancelled.length - budget).fill('200 stale'),
    ]);
    expect(await states()).toEqual(before);
  });

  test('only operators see or decide held deletions; bad input changes nothing', async () => {
    const before = await states();
    for (const token of [fx.callerToken, fx.strangerToken]) {
      expect((await call('GET', '/deletions', token)).status).toBe(403);
      const approve = await call('POST', '/deletions/approve', token, { customerIds: cancelled });
      expect(approve.status).toBe(403);
    }
    expect((await call('POST', '/deletions/approve', operatorToken, {})).status).toBe(400);
    expect(
      (await call('POST', '/deletions/approve', operatorToken, { customerIds: ['Not_An_Id'] }))
        .status,
    ).toBe(400);
    expect(
      (await call('POST', '/deletions/approve?all=true', operatorToken, { customerIds: ['x'] }))
        .status,
    ).toBe(400);
    // A name that is not held: nothing done to it.
    const notHeld = await call('POST', '/deletions/approve', operatorToken, {
      customerIds: ['nobody'],
    });
    expect(notHeld.body.decisions).toEqual([{ customerId: 'nobody', outcome: 'not-held' }]);
    expect(await states()).toEqual(before);
  });

  test('an operator lists the held deletions, approves two and drops one', async () => {
    const listed = await call('GET', '/deletions', operatorToken);
    expect(listed.status).toBe(200);
    const held = (listed.body.held as { customerId: string }[]).map((h) => h.customerId);
    const before = await states();
    expect(held.sort()).toEqual(customers.filter((c) => before[c] === 'held').sort());
    expect(listed.body.budget).toEqual({ perWindow: budget, windowSeconds: 3600 });

    const [a, b, dropped] = held as [string, string, string];
    const approved = await call('POST', '/deletions/approve', operatorToken, {
      customerIds: [a, b],
    });
    expect(approved.body.decisions).toEqual([
      { customerId: a, outcome: 'deleted' },
      { customerId: b, outcome: 'deleted' },
    ]);
    const drop = await call('POST', '/deletions/drop', operatorToken, { customerIds: [dropped] });
    expect(drop.body.decisions).toEqual([{ customerId: dropped, outcome: 'dropped' }]);
    const after = await states();
    expect([after[a], after[b], after[dropped]]).toEqual(['deleted', 'deleted', 'kept']);
  });

  test('once the window frees, the scheduled check does the held deletions it allows', async () => {
    const before = await states();
    const stillHeld = customers.filter((c) => before[c] === 'held');
    expect(stillHeld.length).toBeGreaterThan(0);
    // The window's end, brought forward: the slot Leases go as if their hour had passed.
    for (let i = 0; i < budget; i++)
      await admin
        .resource(leaseRef)
        .delete(`${slotPrefix(prefix)}-${i}`, { namespace: systemNamespace });
    const resync = await call('POST', '/resync', operatorToken);
    expect(resync.status).toBe(200);
    expect([...resync.body.deletions.deleted].sort()).toEqual(stillHeld.slice(0, budget).sort());
    const after = await states();
    expect(count(after, 'held')).toBe(Math.max(0, stillHeld.length - budget));
  });
});

describe('tenant outcome events', () => {
  test('every request yields CloudEvents the SDK accepts: requested, then succeeded or held', async () => {
    const events: OutcomeEvent[] = [];
    // Sign-ups: requested + succeeded each; cancels: requested + succeeded or held; the HTTP
    // delete: requested + held; the redelivery: requested again (the held ones are stale) and
    // succeeded again for those deleted (a cancel of a tenant gone is done), with their ids; the
    // operator's two approvals and the scheduled check's two releases: succeeded; the drop: failed.
    const expected = customers.length * 2 + cancelled.length * 3 + 2 + budget + 5;
    events.push(...(await pullOutcomes(expected)));
    const kinds = (list: typeof events) =>
      list.map((e) => `${(e.data as { action: string }).action} ${e.type}`).sort();
    expect(events.length, kinds(events).join('\n')).toBe(expected);
    const of = (action: string, type: string) =>
      events.filter((e) => (e.data as { action: string }).action === action && e.type === type);
    expect(of('signup', 'dev.kubefn.tenant.requested')).toHaveLength(customers.length);
    const succeeded = of('signup', 'dev.kubefn.tenant.succeeded');
    expect(succeeded).toHaveLength(customers.length);
    for (const e of succeeded) {
      const data = e.data as { phases: { name: string }[]; phase: string };
      expect(data.phases.map((p) => p.name)).toContain('accepted');
      expect(e.source).toBe('//kubefn.dev/clusters/local/provision');
    }
    const cancels = of('cancel', 'dev.kubefn.tenant.succeeded');
    expect(cancels).toHaveLength(budget * 2 + 4);
    // Each cancel done once has one id, redelivered or not; held ones done later name theirs.
    expect(new Set(cancels.map((e) => e.id)).size).toBe(budget + 4);
    const held = of('cancel', 'dev.kubefn.tenant.held');
    expect(held).toHaveLength(cancelled.length - budget + 1);
    expect(held.every((e) => typeof (e.data as { heldAt?: string }).heldAt === 'string')).toBe(
      true,
    );
    // A held cancel's later outcome names the same request: the stage after. Two approved and two
    // released by the window succeeded; the dropped one failed.
    const later = (stage: string, list: typeof events) =>
      held.filter((h) => list.some((e) => e.id === h.id.replace(/held$/, stage)));
    expect(later('succeeded', cancels)).toHaveLength(4);
    const failed = of('cancel', 'dev.kubefn.tenant.failed');
    expect(failed.map((e) => (e.data as { code: string }).code)).toEqual(['deletion-dropped']);
    expect(later('failed', failed)).toHaveLength(1);
    for (const e of events) seen.set(e.id, e.data);
    // A redelivered request's outcome carries the id it had: recognisable as seen.
    const requested = of('cancel', 'dev.kubefn.tenant.requested').filter(
      (e) => (e.data as { via: string }).via === 'pubsub',
    );
    expect(requested).toHaveLength(cancelled.length * 2);
    expect(new Set(requested.map((e) => e.id)).size).toBe(cancelled.length);
  });
});

describe('replay changes nothing', () => {
  const p0 = 'p0';
  const tenantKinds = [
    { apiVersion: 'v1', kind: 'ResourceQuota' },
    { apiVersion: 'v1', kind: 'LimitRange' },
    { apiVersion: 'v1', kind: 'ServiceAccount' },
    { apiVersion: 'v1', kind: 'Service' },
    { apiVersion: 'apps/v1', kind: 'Deployment' },
    { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  ];
  /** What kubefn wrote to an object: its own field managers' entries (controllers' writes aside). */
  const kubefnFields = (object: KubeObject) =>
    JSON.stringify(
      (
        (object.metadata as { managedFields?: { manager?: string; time?: string }[] })
          .managedFields ?? []
      )
        .filter((f) => f.manager?.startsWith('kubefn'))
        .map((f) => [f.manager, f.time]),
    );
  /** This run's tenants (active or going), the budget's slot Leases and p0's objects. */
  async function snapshot() {
    const snap = new Map<string, string>();
    for await (const ns of admin
      .resource(nsRef)
      .items({ labelSelector: 'app.kubernetes.io/managed-by=kubefn' })) {
      const name = ns.metadata?.name ?? '';
      if (!name.startsWith(prefix)) continue;
      snap.set(
        `Namespace/${name}`,
        ns.metadata?.deletionTimestamp ? 'terminating' : kubefnFields(ns),
      );
    }
    for (let i = 0; i < budget; i++) {
      const lease = await admin
        .resource(leaseRef)
        .find(`${slotPrefix(prefix)}-${i}`, { namespace: systemNamespace });
      snap.set(`Lease/${i}`, lease?.metadata?.resourceVersion ?? 'none');
    }
    for (const kind of tenantKinds)
      for await (const object of admin.resource(kind).items({ namespace: prefix + p0 }))
        snap.set(`${kind.kind}/${object.metadata?.name}`, kubefnFields(object));
    return snap;
  }
  /** Keys whose state changed; a tenant already going may finish going (not kubefn's write). */
  function writes(before: Map<string, string>, after: Map<string, string>): string[] {
    const keys = new Set([...before.keys(), ...after.keys()]);
    return [...keys].filter(
      (key) => before.get(key) !== after.get(key) && before.get(key) !== 'terminating',
    );
  }

  test('every tenant request of this run, replayed twice, writes nothing and yields only outcomes already seen', async () => {
    // More kinds of request first, over Pub/Sub: a sign-up, a suspension, a resumption.
    const t = Date.now();
    const at = (ms: number) => new Date(t + ms).toISOString();
    const answered = answers.length;
    const more = [
      { action: 'signup', customerId: p0, plan: 'free', owners: [], requestedAt: at(0) },
      { action: 'suspend', customerId: p0, requestedAt: at(1) },
      { action: 'resume', customerId: p0, requestedAt: at(2) },
    ];
    for (const [i, request] of more.entries()) {
      await publish([request]);
      await eventually(`${request.action} answered`, 60_000, async () =>
        answers.length > answered + i ? true : undefined,
      );
    }
    expect(answers.slice(answered).map((a) => a.body.outcome)).toEqual(['done', 'done', 'done']);
    for (const e of await pullOutcomes(more.length * 2)) seen.set(e.id, e.data);

    const state = await states();
    const deleted = cancelled.filter((c) => state[c] === 'deleted').length;
    const before = await snapshot();
    for (const round of [1, 2]) {
      const from = answers.length;
      await republish(recorded);
      await eventually(`replay ${round} answered`, 60_000, async () =>
        answers.length >= from + recorded.length ? true : undefined,
      );
    }
    expect(writes(before, await snapshot())).toEqual([]);
    // Each round: every request's requested again, and succeeded again for a cancel of a tenant
    // already gone (done); every other request is stale (a tenant still terminating holds the
    // cancel's record), so at most that many. Each with the id and data it had the first time.
    // Every outcome was published before its push was answered: draining finds them all.
    const replayed = await pullOutcomes(2 * recorded.length, true);
    const types = (type: string) => replayed.filter((e) => e.type === type);
    expect(types('dev.kubefn.tenant.requested')).toHaveLength(2 * recorded.length);
    const again = types('dev.kubefn.tenant.succeeded');
    expect(again.length).toBeLessThanOrEqual(2 * deleted);
    expect(again.every((e) => (e.data as { action: string }).action === 'cancel')).toBe(true);
    expect(replayed.length).toBe(2 * recorded.length + again.length);
    for (const e of replayed) {
      expect(seen.has(e.id), e.id).toBe(true);
      expect(e.data, e.id).toEqual(seen.get(e.id));
    }
  });
});
