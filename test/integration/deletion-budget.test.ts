// Issue 31 on the real stack: the deletion budget (functions/provision/deletion-budget.ts,
// held-deletions.ts) and the tenant outcome events (outcomes.ts), through kube-apiserver and the
// Pub/Sub emulator. More cancels at once than the budget delete exactly the budget and hold the
// rest; the count survives a restart; only operators decide on held deletions; every outcome
// published is a CloudEvent the `cloudevents` SDK accepts.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { slotPrefix } from '../../functions/provision/deletion-budget.ts';
import { mintToken, pushAccount, schedulerAccount } from '../../infra/local/identities.ts';
import { type Subscribed, subscribe } from '../../infra/local/triggers.ts';
import { systemNamespace } from '../../shared/identities.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { readCloudEvent } from '../support/cloud-events.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { httpRequest } from '../support/http.ts';
import { eventually } from '../support/kube.ts';
import { type ProvisionFixture, provisionAudience, startProvision } from '../support/provision.ts';
import { pubsub, topicPath } from '../support/pubsub.ts';

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
const principal = (account: string) => `system:serviceaccount:kubefn-system:${account}`;
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
  for (const customerId of customers)
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
  return { status: answer.status, body: JSON.parse(answer.body || '{}') as Record<string, any> };
}

/** Each customer's tenant: gone or terminating, held, or neither. */
async function states() {
  const state: Record<string, 'deleted' | 'held' | 'kept'> = {};
  for (const customerId of customers) {
    const ns: KubeObject | undefined = await admin.resource(nsRef).find(prefix + customerId);
    state[customerId] =
      !ns || ns.metadata?.deletionTimestamp
        ? 'deleted'
        : ns.metadata?.labels?.['kubefn.dev/deletion-held'] === 'true'
          ? 'held'
          : 'kept';
  }
  return state;
}
const count = (state: Record<string, string>, which: string, among = customers) =>
  among.filter((c) => state[c] === which).length;

async function publishCancels(customerIds: string[], requestedAt: string) {
  const messages = customerIds.map((customerId) => ({
    data: Buffer.from(
      JSON.stringify({ action: 'cancel', customerId, confirm: customerId, requestedAt }),
    ).toString('base64'),
    orderingKey: customerId,
  }));
  const published = await pubsub('POST', `topics/${topics.requests}:publish`, { messages });
  expect(published.status).toBe(200);
}

const requestedAt = new Date().toISOString();

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
    await publishCancels(cancelled, requestedAt);
    await eventually('the redeliveries answered', 60_000, async () =>
      answers.length >= answered + cancelled.length ? true : undefined,
    );
    const redelivered = answers.slice(answered).map((a) => a.body.outcome);
    // The deleted ones are gone (done, nothing to delete); the held ones recorded the cancel.
    expect(redelivered.filter((o) => o === 'held' || o === 'stale').length).toBe(
      cancelled.length - budget,
    );
    expect(redelivered).not.toContain('held');
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
    type Pulled = { message: { data: string; attributes: Record<string, string> }; ackId: string };
    const events: ReturnType<typeof readCloudEvent>[] = [];
    // Sign-ups: requested + succeeded each; cancels: requested + succeeded or held; the HTTP
    // delete: requested + held; the redelivery: requested again (the held ones are stale) and
    // succeeded again for those deleted (a cancel of a tenant gone is done), with their ids; the
    // operator's two approvals and the scheduled check's two releases: succeeded; the drop: failed.
    const expected = customers.length * 2 + cancelled.length * 3 + 2 + budget + 5;
    const deadline = Date.now() + 30_000;
    while (events.length < expected && Date.now() < deadline) {
      const pulled = await pubsub('POST', `subscriptions/${outcomeSubscription}:pull`, {
        maxMessages: 1000,
      });
      const received = (pulled.body.receivedMessages ?? []) as Pulled[];
      for (const { message } of received)
        events.push(readCloudEvent(message.attributes, Buffer.from(message.data, 'base64')));
      if (received.length)
        await pubsub('POST', `subscriptions/${outcomeSubscription}:acknowledge`, {
          ackIds: received.map((r) => r.ackId),
        });
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
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
    const released = cancels.filter((e) => (e.data as { released?: string }).released);
    // A held cancel's later outcome has its id: the same request, the stage after.
    for (const e of released)
      expect(held.map((h) => h.id.replace(/held$/, 'succeeded'))).toContain(e.id);
    const failed = of('cancel', 'dev.kubefn.tenant.failed');
    expect(failed.map((e) => (e.data as { code: string }).code)).toEqual(['deletion-dropped']);
    // A redelivered request's outcome carries the id it had: recognisable as seen.
    const requested = of('cancel', 'dev.kubefn.tenant.requested').filter(
      (e) => (e.data as { via: string }).via === 'pubsub',
    );
    expect(requested).toHaveLength(cancelled.length * 2);
    expect(new Set(requested.map((e) => e.id)).size).toBe(cancelled.length);
  });
});
