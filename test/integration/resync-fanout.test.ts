// The scheduled tenant check beyond one instance, on the real Pub/Sub emulator: with more tenants
// than one batch, POST /resync publishes batches and answers 202; the emulator pushes each batch
// (through the forwarder that adds the push account's token) to the provisioning function's
// POST /pubsub/resync, which repairs its tenants. A batch delivered again changes nothing.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { mintToken, pushAccount, schedulerAccount } from '../../infra/local/identities.ts';
import { startPushForwarder } from '../../infra/local/push-forwarder.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { httpRequest } from '../support/http.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { type ProvisionFixture, provisionAudience, startProvision } from '../support/provision.ts';
import { pubsub, topicPath } from '../support/pubsub.ts';

// A prefix of its own: the check covers only this deployment's tenants, not other files'.
const prefix = `f${Date.now().toString(36)}-`;
const topic = uniqueName('resync');
const customers = Array.from({ length: 5 }, (_, i) => uniqueName(`fan${i}`));
const pushes: number[] = [];
let admin: Cluster;
let fx: ProvisionFixture;
let forwarder: { url: string; close(): Promise<void> };
let scheduler: string;
let pushToken: string;

beforeAll(async () => {
  admin = await adminCluster();
  expect((await pubsub('PUT', `topics/${topic}`)).status).toBe(200);
  fx = await startProvision(admin, {
    KUBEFN_NAMESPACE_PREFIX: prefix,
    KUBEFN_RESYNC_TOPIC: topic,
    KUBEFN_RESYNC_BATCH: '2',
    KUBEFN_ALLOW_PUSH: `system:serviceaccount:kubefn-system:${pushAccount}`,
    PUBSUB_EMULATOR_HOST: stack.pubsubEmulatorHost,
    PUBSUB_PROJECT_ID: stack.pubsubProject,
  });
  scheduler = await mintToken(admin, schedulerAccount, { audiences: [provisionAudience] });
  pushToken = await mintToken(admin, pushAccount, { audiences: [provisionAudience] });
  forwarder = await startPushForwarder(`${fx.fn.url}/pubsub/resync`, pushToken, (status) =>
    pushes.push(status),
  );
  expect(
    (
      await pubsub('PUT', `subscriptions/${topic}-push`, {
        topic: topicPath(topic),
        pushConfig: { pushEndpoint: forwarder.url },
        ackDeadlineSeconds: 30,
      })
    ).status,
  ).toBe(200);
  for (const customerId of customers) {
    const answer = await httpRequest(
      `${fx.fn.url}/tenants`,
      fx.callerToken,
      'POST',
      JSON.stringify({ customerId, plan: 'free' }),
    );
    expect(answer.status).toBe(201);
  }
});
afterAll(async () => {
  await forwarder?.close();
  await fx?.fn.stop();
  for (const customerId of customers)
    await admin
      .resource({ apiVersion: 'v1', kind: 'Namespace' })
      .delete(prefix + customerId)
      .catch(() => {});
  await admin?.close();
});

const policies = () =>
  admin.resource({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' });
const limits = () => admin.resource({ apiVersion: 'v1', kind: 'LimitRange' });
const batchLines = async (job: string) =>
  (await readFile(fx.fn.process.logFile, 'utf8'))
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.message === 'resync batch done' && line.job === job);

test('more tenants than a batch: batches through Pub/Sub, each repairs its tenants, progress in the log', async () => {
  const [a, b, c] = customers.map((id) => prefix + id);
  await policies().delete('default-deny-except-namespace', { namespace: a ?? '' });
  await policies().delete('default-deny-except-namespace', { namespace: b ?? '' });
  await limits().delete('tenant-limits', { namespace: c ?? '' });

  const started = await httpRequest(`${fx.fn.url}/resync`, scheduler, 'POST');
  expect(started.status).toBe(202);
  const job = JSON.parse(started.body) as { job: string; tenants: number; batches: number };
  expect(job).toMatchObject({ tenants: 5, batches: 3 });

  const lines = await eventually('every batch done', 30_000, async () => {
    const done = await batchLines(job.job);
    return done.length >= 3 ? done : undefined;
  });
  expect(lines.map((l) => l.batch).sort()).toEqual(['1/3', '2/3', '3/3']);
  expect(lines.reduce((n, l) => n + Number(l.repaired), 0)).toBe(3);
  expect(lines.reduce((n, l) => n + Number(l.failed), 0)).toBe(0);
  expect(
    await policies().find('default-deny-except-namespace', { namespace: a ?? '' }),
  ).toBeDefined();
  expect(
    await policies().find('default-deny-except-namespace', { namespace: b ?? '' }),
  ).toBeDefined();
  expect(await limits().find('tenant-limits', { namespace: c ?? '' })).toBeDefined();
  expect(pushes.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
});

const push = (data: unknown, token = pushToken) =>
  httpRequest(
    `${fx.fn.url}/pubsub/resync`,
    token,
    'POST',
    JSON.stringify({
      message: {
        data: Buffer.from(JSON.stringify(data)).toString('base64'),
        messageId: uniqueName('m'),
      },
      subscription: 'projects/p/subscriptions/resync',
    }),
  );

test('a batch delivered again changes nothing; a bad batch is refused; only the push account may push', async () => {
  const batch = { job: 'again', batch: 1, batches: 1, customers: customers.slice(0, 2) };
  const again = await push(batch);
  expect(again.status).toBe(200);
  expect(JSON.parse(again.body)).toMatchObject({
    outcome: 'done',
    counts: { unchanged: 2, repaired: 0, failed: 0 },
  });
  const bad = await push({ ...batch, customers: ['Bad_ID) or (x'] });
  expect(JSON.parse(bad.body)).toMatchObject({ outcome: 'rejected' });
  expect((await push(batch, fx.callerToken)).status).toBe(403);
  expect((await push(batch, '')).status).toBe(401);
});

test('with tenants within one batch the check runs in the request (200)', async () => {
  // This deployment's tenants are 5; a batch of 500 holds them all.
  const inline = await startProvision(admin, { KUBEFN_NAMESPACE_PREFIX: prefix });
  try {
    const answer = await httpRequest(`${inline.fn.url}/resync`, scheduler, 'POST');
    expect(answer.status).toBe(200);
    // `unavailable` depends on when the tenants' pods became Ready: not this test's matter.
    expect(JSON.parse(answer.body).counts).toMatchObject({ unchanged: 5, repaired: 0, failed: 0 });
  } finally {
    await inline.fn.stop();
  }
});
