// Issue 31's outages, on the real stack with the deletion budget in force and tenants present:
// kube-apiserver lost in the middle of a list, list pages emptied or cut short by a proxy, and a
// 30 s Pub/Sub outage while cancels beyond the budget and other tenant requests are in flight.
// None may delete a tenant that was not asked to go, delete beyond the budget, or lose a request
// or its outcome.
//
// One provision function, run as on the local stack but reaching kube-apiserver through a proxy
// that pages every list by 2 and breaks lists on demand (list-fault-proxy.ts), reaching the
// Pub/Sub emulator (its outcome events) through a TCP proxy, and pushed its tenant requests
// through another. Traffic stays on 127.0.0.1; every wait is bounded.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { slotPrefix } from '../../functions/provision/deletion-budget.ts';
import { provisionAudience, startProvisionFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import {
  mintToken,
  principal,
  pushAccount,
  schedulerAccount,
  signupAccount,
} from '../../infra/local/identities.ts';
import { type Subscribed, subscribe } from '../../infra/local/triggers.ts';
import { mapLimit } from '../../shared/concurrency.ts';
import { systemNamespace } from '../../shared/identities.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import type { CloudEvent } from '../support/cloud-events.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { httpRequest, signUpTenant } from '../support/http.ts';
import { eventually } from '../support/kube.ts';
import { type ListFaultProxy, startListFaultProxy } from '../support/list-fault-proxy.ts';
import { deletionStates } from '../support/provision.ts';
import { pubsub, pullCloudEvents, topicPath } from '../support/pubsub.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const run = Date.now().toString(36).slice(-6);
const prefix = `dbo${run}-`;
const budget = 2;
/** Pages of 2: the held deletions and the tenants make lists of several pages. */
const pageSize = 2;
const outageMs = 30_000;
const topics = { requests: `${prefix}tenants`, outcomes: `${prefix}outcomes` };
const requestSubscription = `${prefix}provision-tenant-requests`;
const outcomeSubscription = `${prefix}outcomes-app`;
/** Deleted over HTTP at once, more than the budget: the list tests' held deletions. */
const cancelledFirst = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'];
/**
 * Each outage's tenants, by the letter of its kind (r: refused, x: blackholed): cancelled over
 * Pub/Sub (c*) and over HTTP (h0) during it; suspended (k0, k1) and re-planned (k2); signed up
 * over Pub/Sub (s0, s1) and over HTTP (s2).
 */
function outageTenants(letter: string) {
  const id = (name: string) => `${letter}${name}`;
  return {
    cancelled: ['c0', 'c1', 'c2', 'c3', 'c4'].map(id),
    overHttp: id('h0'),
    suspended: ['k0', 'k1'].map(id),
    replanned: id('k2'),
    signedUp: ['s0', 's1'].map(id),
    signedUpOverHttp: id('s2'),
  };
}
const outages = { refused: outageTenants('r'), blackholed: outageTenants('x') };
/** Never asked to go: every one of them must still be there at the end. */
const bystanders = ['k0', 'k1', 'k2'];
const existing = [
  ...cancelledFirst,
  ...bystanders,
  ...Object.values(outages).flatMap((o) => [
    ...o.cancelled,
    o.overHttp,
    ...o.suspended,
    o.replanned,
  ]),
];
const everyone = [
  ...existing,
  ...Object.values(outages).flatMap((o) => [...o.signedUp, o.signedUpOverHttp]),
];
const nsRef = { apiVersion: 'v1', kind: 'Namespace' } as const;
const leaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' } as const;

let admin: Cluster;
let lists: ListFaultProxy;
let toPubsub: TcpProxy;
let toProvision: TcpProxy;
let fn: RunningFunction;
let requests: Subscribed | undefined;
let callerToken: string;
let operatorToken: string;
/** Every push's answer from provision: the tenant request's outcome, by customer. */
const answers: { status: number; customerId: string; outcome: string }[] = [];

beforeAll(async () => {
  admin = await adminCluster();
  lists = await startListFaultProxy(stack, { pageSize });
  toPubsub = await startTcpProxy(`http://${stack.pubsubEmulatorHost}`);
  for (const topic of Object.values(topics))
    expect((await pubsub('PUT', `topics/${topic}`)).status).toBe(200);
  // The SaaS app's subscription, there before any request so it sees every outcome.
  const created = await pubsub('PUT', `subscriptions/${outcomeSubscription}`, {
    topic: topicPath(topics.outcomes),
    ackDeadlineSeconds: 60,
  });
  expect(created.status).toBe(200);
  // Its own folder: its kubeconfig (through the list proxy) is no other test's.
  const dir = join(stack.dir, `outages-${run}`);
  await mkdir(dir, { recursive: true });
  fn = await startProvisionFunction(
    admin,
    { dir, server: lists.url, caFile: stack.caFile },
    {
      env: {
        KUBEFN_NAMESPACE_PREFIX: prefix,
        KUBEFN_DELETION_BUDGET: `${budget}/1h`,
        KUBEFN_OUTCOMES_TOPIC: topics.outcomes,
        KUBEFN_ALLOW_OPERATOR: principal(schedulerAccount),
        KUBEFN_ALLOW_PUSH: principal(pushAccount),
        PUBSUB_EMULATOR_HOST: new URL(toPubsub.url).host,
        PUBSUB_PROJECT_ID: stack.pubsubProject,
      },
    },
  );
  toProvision = await startTcpProxy(fn.url);
  const mint = (account: string) =>
    mintToken(admin, account, { audiences: [provisionAudience], expirationSeconds: 3600 });
  callerToken = await mint(signupAccount);
  operatorToken = await mint(schedulerAccount);
  requests = await subscribe(admin, stack, {
    topic: topics.requests,
    subscription: requestSubscription,
    url: `http://${new URL(toProvision.url).host}/pubsub/tenants`,
    audience: provisionAudience,
    ordered: true,
    onAnswer: (status, attributes, body) => {
      const parsed = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      answers.push({
        status,
        // From the message: a redelivery of one already handled answers only `duplicate`.
        customerId: attributes.customerId ?? '',
        outcome: String(parsed.outcome ?? parsed.error ?? ''),
      });
    },
  });
  await mapLimit(existing, 4, (customerId) => signUpTenant(fn.url, callerToken, customerId));
}, 180_000);

afterAll(async () => {
  await requests?.close();
  await pubsub('DELETE', `subscriptions/${requestSubscription}`).catch(() => {});
  await pubsub('DELETE', `subscriptions/${outcomeSubscription}`).catch(() => {});
  await fn?.stop();
  await toProvision?.close();
  await toPubsub?.close();
  await lists?.close();
  for (const customerId of everyone)
    await admin
      ?.resource(nsRef)
      .delete(prefix + customerId)
      .catch(() => {});
  await freeTheWindow().catch(() => {});
  await admin?.close();
});

async function call(method: string, path: string, token: string, body?: unknown) {
  const answer = await httpRequest(
    `${fn.url}${path}`,
    token,
    method,
    body === undefined ? undefined : JSON.stringify(body),
  );
  // biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, read field by field
  return { status: answer.status, body: JSON.parse(answer.body || '{}') as Record<string, any> };
}

const states = (customers = everyone) => deletionStates(admin, prefix, customers);
const gone = (state: string | undefined) => state === 'deleted';
const which = (state: Record<string, string>, wanted: (s: string | undefined) => boolean) =>
  Object.keys(state)
    .filter((c) => wanted(state[c]))
    .sort();

/** The budget's slot Leases that exist: one per deletion counted in the window. */
async function slotsTaken(): Promise<number> {
  let taken = 0;
  for (let i = 0; i < budget; i++)
    if (
      await admin
        .resource(leaseRef)
        .find(`${slotPrefix(prefix)}-${i}`, { namespace: systemNamespace })
    )
      taken++;
  return taken;
}

/** The window's end, brought forward: the slot Leases go as if their hour had passed. */
async function freeTheWindow() {
  for (let i = 0; i < budget; i++)
    await admin
      .resource(leaseRef)
      .delete(`${slotPrefix(prefix)}-${i}`, { namespace: systemNamespace })
      .catch(() => {});
}

describe('lists that fail, come back empty or are cut short delete nothing', () => {
  /** The tenants held when the list faults begin. */
  let heldBefore: string[] = [];

  test(`${cancelledFirst.length} deletions with a budget of ${budget}: ${budget} done, the rest held`, async () => {
    const answered = await mapLimit(cancelledFirst, 3, (id) =>
      call('DELETE', `/tenants/${id}?confirm=${id}`, callerToken),
    );
    expect(answered.map((a) => a.status).sort()).toEqual([
      ...Array(budget).fill(202),
      ...Array(cancelledFirst.length - budget).fill(429),
    ]);
    const state = await states(existing);
    heldBefore = which(state, (s) => s === 'held');
    expect(heldBefore).toHaveLength(cancelledFirst.length - budget);
    expect(which(state, gone)).toHaveLength(budget);
    // The window ends (brought forward): a scheduled check could now do `budget` held deletions.
    await freeTheWindow();
  });

  test('kube-apiserver lost after the first page of a list: /resync fails, and nothing is deleted or half-done', async () => {
    const before = await states(existing);
    lists.resetCounts();
    lists.fault = 'cut-after-first-page';
    const resync = await call('POST', '/resync', operatorToken).finally(() => {
      lists.fault = 'none';
    });
    // The fault happened: a later page was asked for and its connection cut, every retry too.
    expect(lists.counts.broken).toBeGreaterThan(0);
    // The job says it failed (Cloud Scheduler retries it), not that it checked every tenant.
    expect(resync.status).toBeGreaterThanOrEqual(500);
    expect(resync.body.error).toBeDefined();
    expect(await states(existing)).toEqual(before);
    // No slot was taken for a deletion that did not happen, and no hold was removed.
    expect(await slotsTaken()).toBe(0);
  });

  test('every list page answered empty: /resync deletes nothing, and says it saw nothing', async () => {
    const before = await states(existing);
    lists.resetCounts();
    lists.fault = 'empty';
    const resync = await call('POST', '/resync', operatorToken).finally(() => {
      lists.fault = 'none';
    });
    expect(lists.counts.broken).toBeGreaterThan(0);
    expect(resync.status).toBe(200);
    expect(resync.body.deletions).toEqual({ deleted: [], superseded: [], held: 0 });
    expect(resync.body.counts).toMatchObject({ unchanged: 0, repaired: 0, failed: 0 });
    expect(await states(existing)).toEqual(before);
    expect(await slotsTaken()).toBe(0);
    // An operator's listing is as empty (it hides the holds; nothing is approved by it).
    lists.fault = 'empty';
    const listed = await call('GET', '/deletions', operatorToken).finally(() => {
      lists.fault = 'none';
    });
    expect(listed.body.held).toEqual([]);
    expect(await states(existing)).toEqual(before);
  });

  test('every list cut short (continue tokens dropped): only held deletions are done, within the budget', async () => {
    const before = await states(existing);
    lists.resetCounts();
    lists.fault = 'drop-continue';
    const resync = await call('POST', '/resync', operatorToken).finally(() => {
      lists.fault = 'none';
    });
    expect(lists.counts.broken).toBeGreaterThan(0);
    expect(resync.status).toBe(200);
    const after = await states(existing);
    const deletedNow = which(after, gone).filter((c) => !gone(before[c]));
    // What the short list let through was already held (asked to go, beyond the budget), and
    // no more than the window allows. It saw one page: `pageSize` held deletions at most.
    expect(deletedNow.every((c) => heldBefore.includes(c))).toBe(true);
    expect(deletedNow.length).toBeLessThanOrEqual(Math.min(budget, pageSize));
    expect([...resync.body.deletions.deleted].sort()).toEqual(deletedNow);
    // Nothing lost: every other held deletion is still held; no bystander touched.
    expect(which(after, (s) => s === 'held')).toEqual(
      heldBefore.filter((c) => !deletedNow.includes(c)),
    );
    for (const c of existing.filter((c) => !cancelledFirst.includes(c)))
      expect(after[c], c).toBe('kept');
    // The tenants the short lists left out were not checked, and nothing was written to them.
    expect(resync.body.counts.failed).toBe(0);
  });

  test("kube-apiserver lost in the middle of the check's own lists (every tenant's): /resync fails and deletes nothing", async () => {
    const before = await states(existing);
    const free = budget - (await slotsTaken());
    lists.resetCounts();
    // The held deletions' list stays whole; the tenants' and their objects' lists are cut.
    lists.only = (url) => !url.searchParams.get('labelSelector')?.includes('deletion-held');
    lists.fault = 'cut-after-first-page';
    const resync = await call('POST', '/resync', operatorToken).finally(() => {
      lists.fault = 'none';
      lists.only = undefined;
    });
    expect(lists.counts.broken).toBeGreaterThan(0);
    expect(resync.status).toBeGreaterThanOrEqual(500);
    const after = await states(existing);
    // Only what the window allowed of the held deletions (done before the check's lists).
    const deletedNow = which(after, gone).filter((c) => !gone(before[c]));
    expect(deletedNow.every((c) => before[c] === 'held')).toBe(true);
    expect(deletedNow.length).toBeLessThanOrEqual(free);
    for (const c of existing.filter((c) => before[c] === 'kept')) expect(after[c], c).toBe('kept');
  });

  test('with lists whole again, the operator sees exactly the deletions still held', async () => {
    const state = await states(existing);
    const listed = await call('GET', '/deletions', operatorToken);
    expect(listed.status).toBe(200);
    const held = (listed.body.held as { customerId: string }[]).map((h) => h.customerId).sort();
    expect(held).toEqual(which(state, (s) => s === 'held'));
    expect(held.length).toBeGreaterThan(0);
    for (const c of existing.filter((c) => !cancelledFirst.includes(c)))
      expect(state[c], c).toBe('kept');
    console.log(
      `list faults: deleted ${which(state, gone).length} of ${cancelledFirst.length} cancelled (budget ${budget} a window, two windows), held ${held.length}, bystanders kept ${existing.length - cancelledFirst.length}`,
    );
  });
});

type OutcomeEvent = CloudEvent<unknown>;

/**
 * A Pub/Sub outage of `outageMs` right after tenant requests were published: the push to
 * provision and provision's publishing both cut off, `refused` (connections reset and refused,
 * as a service answering UNAVAILABLE) or `blackholed` (connections kept, every byte dropped).
 */
async function outage(mode: keyof typeof outages) {
  const tenants = outages[mode];
  const { cancelled, overHttp, suspended, replanned, signedUp, signedUpOverHttp } = tenants;
  await freeTheWindow(); // a fresh window
  const earlier = existing.filter(
    (c) => !cancelled.includes(c) && c !== overHttp && !suspended.includes(c) && c !== replanned,
  );
  const before = await states(earlier);
  const logBefore = await readFile(fn.process.logFile, 'utf8');

  const t = Date.now();
  const at = (ms: number) => new Date(t + ms).toISOString();
  const published = [
    ...cancelled.map((customerId, i) => ({
      action: 'cancel',
      customerId,
      confirm: customerId,
      requestedAt: at(i),
    })),
    ...suspended.map((customerId) => ({ action: 'suspend', customerId, requestedAt: at(10) })),
    { action: 'change-plan', customerId: replanned, plan: 'free', requestedAt: at(11) },
    ...signedUp.map((customerId) => ({
      action: 'signup',
      customerId,
      plan: 'free',
      owners: [],
      requestedAt: at(12),
    })),
  ];
  const answered = answers.length;
  const sent = await pubsub('POST', `topics/${topics.requests}:publish`, {
    messages: published.map((request) => ({
      data: Buffer.from(JSON.stringify(request)).toString('base64'),
      attributes: { customerId: request.customerId },
      orderingKey: request.customerId,
    })),
  });
  expect(sent.status).toBe(200);
  // In flight: the first push answered, the others on their way when Pub/Sub goes.
  await eventually('a first push answered', 30_000, async () =>
    answers.length > answered ? true : undefined,
  );
  const stop = mode === 'refused' ? 'cut' : 'freeze';
  toProvision[stop]();
  toPubsub[stop]();
  const outageEnds = Date.now() + outageMs;
  // An answer whose bytes the proxy passed on just before the cut is read a moment after it
  // (a frozen proxy keeps what it already wrote): a second for those, then nothing may come.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const answeredBeforeCut = answers.length - answered;
  // During the outage, tenant requests over HTTP: their outcomes are published into it.
  const deleteH0 = await call('DELETE', `/tenants/${overHttp}?confirm=${overHttp}`, callerToken);
  expect([202, 429]).toContain(deleteH0.status);
  await signUpTenant(fn.url, callerToken, signedUpOverHttp);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageEnds - Date.now())));
  const answeredInOutage = answers.length - answered - answeredBeforeCut;
  toProvision.restore();
  toPubsub.restore();
  const outageSeconds = ((Date.now() - (outageEnds - outageMs)) / 1000).toFixed(1);

  // Every published request ends applied or held (this subscription has no dead-letter topic:
  // Pub/Sub redelivers until a 2xx). Read from the cluster, not from the answers.
  const cancels = [...cancelled, overHttp];
  const applied = async () => {
    const state = await states([...cancels, ...suspended, replanned, ...signedUp]);
    const records = await Promise.all(
      [...suspended, replanned, ...signedUp].map(async (c) => {
        const ns = await admin.resource(nsRef).find(prefix + c);
        return ns?.metadata?.annotations?.['kubefn.dev/requested-at'];
      }),
    );
    const cancelsSettled = cancels.every((c) => gone(state[c]) || state[c] === 'held');
    const othersApplied = records.every((r) => r !== undefined);
    return cancelsSettled && othersApplied ? state : undefined;
  };
  const mark = (what: string) => console.log(`${((Date.now() - t) / 1000).toFixed(1)} s: ${what}`);
  mark('Pub/Sub back');
  const state = await eventually('every request applied or held', 120_000, applied);
  mark('every request applied or held');
  const deleted = cancels.filter((c) => gone(state[c]));
  const held = cancels.filter((c) => state[c] === 'held');
  expect(deleted).toHaveLength(budget);
  expect(held).toHaveLength(cancels.length - budget);
  // Nothing else went: every other tenant is as it was, every one signed up is there.
  expect(await states(earlier)).toEqual(before);
  const added = await states([...signedUp, signedUpOverHttp]);
  for (const c of Object.keys(added)) expect(added[c], c).toBe('kept');
  const suspendedNow = await Promise.all(
    suspended.map(
      async (c) =>
        (await admin.resource(nsRef).find(prefix + c))?.metadata?.labels?.['kubefn.dev/suspended'],
    ),
  );
  expect(suspendedNow).toEqual(suspended.map(() => 'true'));
  // Each Pub/Sub request was answered 200 at least once (a push cut mid-way came again).
  const unanswered = () => {
    const ok = new Set(answers.filter((a) => a.status === 200).map((a) => a.customerId));
    return published.filter((r) => !ok.has(r.customerId)).map((r) => r.customerId);
  };
  await eventually('every push answered 200', 60_000, async () =>
    unanswered().length === 0 ? true : undefined,
  ).catch((error: Error) => {
    throw new Error(
      `${error.message}: ${unanswered().join(', ')}; answers ${JSON.stringify(answers.slice(answered))}`,
    );
  });

  // Every request's outcomes: `requested`, then `succeeded` or `held`, none lost. Those
  // published during the outage come once the client's retries reach Pub/Sub again.
  let events: OutcomeEvent[] = [];
  // Keyed by customer, action and stage: the sign-ups before the outage have keys of their own.
  const key = (e: OutcomeEvent) => {
    const { customerId, action } = e.data as { customerId: string; action: string };
    return `${customerId} ${action} ${e.type.replace('dev.kubefn.tenant.', '')}`;
  };
  const final = (c: string) => (gone(state[c]) ? 'succeeded' : 'held');
  const expected = [
    ...published.map((r) => `${r.customerId} ${r.action} requested`),
    ...published
      .filter((r) => r.action !== 'cancel')
      .map((r) => `${r.customerId} ${r.action} succeeded`),
    ...cancelled.map((c) => `${c} cancel ${final(c)}`),
    `${overHttp} cancel requested`,
    `${overHttp} cancel ${final(overHttp)}`,
    `${signedUpOverHttp} signup requested`,
    `${signedUpOverHttp} signup succeeded`,
  ];
  const missing = (among = events) => {
    const seen = new Set(among.map(key));
    return expected.filter((k) => !seen.has(k));
  };
  mark('every push answered 200');
  events = await pullCloudEvents(
    outcomeSubscription,
    (pulled) => missing(pulled).length === 0,
    false,
    240_000,
  );
  mark(`outcomes pulled, missing: ${missing().join(', ') || 'none'}`);
  // The outage reached the outcomes: some were still publishing when their request went on
  // (outcomes.ts waits 5 s), and none failed for good (the client's retries outlast 30 s).
  const log = (await readFile(fn.process.logFile, 'utf8')).slice(logBefore.length);
  const stillPublishing = log.split('tenant outcome still publishing').length - 1;
  const notPublished = log.split('tenant outcome not published').length - 1;
  const ours = events.filter((e) => expected.includes(key(e)));
  console.log(
    `Pub/Sub outage (${mode}) ${outageSeconds} s: ${published.length} published + 2 over HTTP; pushes answered before the cut ${answeredBeforeCut}, during it ${answeredInOutage}; deleted ${deleted.length} (budget ${budget}), held ${held.length}, lost 0 requests; outcome events of these requests ${ours.length} (${expected.length} expected at least), published into the outage ${stillPublishing}, failed ${notPublished}, lost ${missing().length}`,
  );
  expect(missing()).toEqual([]);
  expect(stillPublishing).toBeGreaterThan(0);
  expect(notPublished).toBe(0);
  expect(answeredInOutage).toBe(0);
  // Nothing beyond the budget since: the slots are all the window's deletions.
  expect(await slotsTaken()).toBe(budget);
}

describe(`a ${outageMs / 1000} s Pub/Sub outage with cancels beyond the budget and other requests in flight: the budget holds, no request and no outcome is lost`, () => {
  test('connections refused and reset', () => outage('refused'), 400_000);
  test(
    'connections blackholed (kept open, every byte dropped)',
    () => outage('blackholed'),
    500_000,
  );
});
