// The label function under the real Functions Framework, acting as kubefn-label on the real
// kube-apiserver; the tenant (and the RoleBinding that lets kubefn-label write there) comes from
// the real provisioning function.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { labelAudience, startLabelFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { mintToken, pushAccount, schedulerAccount } from '../../infra/local/identities.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { httpRequest } from '../support/http.ts';
import { uniqueName } from '../support/kube.ts';
import { createTenant, type ProvisionFixture, startProvision } from '../support/provision.ts';

let admin: Cluster;
let provision: ProvisionFixture;
let fn: RunningFunction;
let token: string;
let pushToken: string;
let ns: string;

const configMaps = () => admin.resource({ apiVersion: 'v1', kind: 'ConfigMap' });
const label = async (body: unknown, bearer = token) => {
  const answer = await httpRequest(`${fn.url}/labels`, bearer, 'POST', JSON.stringify(body));
  return {
    status: answer.status,
    body: JSON.parse(answer.body || '{}') as Record<string, unknown>,
  };
};
const push = async (data: unknown, attributes: Record<string, string> = {}, raw?: string) => {
  const envelope = raw ?? {
    message: {
      data: Buffer.from(JSON.stringify(data)).toString('base64'),
      attributes,
      messageId: uniqueName('m'),
      publishTime: new Date().toISOString(),
    },
    subscription: 'projects/p/subscriptions/labels',
  };
  const answer = await httpRequest(
    `${fn.url}/pubsub`,
    pushToken,
    'POST',
    typeof envelope === 'string' ? envelope : JSON.stringify(envelope),
  );
  return {
    status: answer.status,
    body: JSON.parse(answer.body || '{}') as Record<string, unknown>,
  };
};
const cm = (name: string) => configMaps().get(name, { namespace: ns });
const target = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name });

beforeAll(async () => {
  admin = await adminCluster();
  provision = await startProvision(admin);
  ns = await createTenant(provision, uniqueName('lbl'));
  for (const name of ['a', 'b', 'c', 'other'])
    await configMaps().create({
      metadata: { name, namespace: ns, labels: { group: name === 'other' ? 'no' : 'yes' } },
    } as KubeObject);
  fn = await startLabelFunction(admin, stack);
  token = await mintToken(admin, schedulerAccount, { audiences: [labelAudience] });
  pushToken = await mintToken(admin, pushAccount, { audiences: [labelAudience] });
});
afterAll(async () => {
  await fn?.stop();
  await provision?.fn.stop();
  await admin?.close();
});

test('sets and removes labels on one object; a repeat writes nothing', async () => {
  await configMaps().patch('a', { metadata: { labels: { old: 'x' } } }, { namespace: ns });
  const answer = await label({ target: target('a'), set: { tier: 'gold' }, remove: ['old'] });
  expect(answer).toMatchObject({
    status: 200,
    body: { results: [{ name: 'a', outcome: 'updated', labels: { group: 'yes', tier: 'gold' } }] },
  });
  const after = await cm('a');
  expect(after.metadata?.labels).toEqual({ group: 'yes', tier: 'gold' });
  const again = await label({ target: target('a'), set: { tier: 'gold' }, remove: ['old'] });
  expect(again.body).toMatchObject({ results: [{ outcome: 'unchanged' }] });
  expect((await cm('a')).metadata?.resourceVersion).toBe(after.metadata?.resourceVersion);
});

test('a selector labels every match, with a result per object; dry run changes nothing', async () => {
  const selector = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: ns,
    labelSelector: 'group=yes',
  };
  const dry = await label({ target: selector, set: { sweep: '1' }, dryRun: true });
  expect(dry.body).toMatchObject({
    dryRun: true,
    results: [
      { name: 'a', outcome: 'would-update' },
      { name: 'b', outcome: 'would-update' },
      { name: 'c', outcome: 'would-update' },
    ],
  });
  expect((await cm('b')).metadata?.labels).toEqual({ group: 'yes' });
  const real = await label({ target: selector, set: { sweep: '1' } });
  expect((real.body.results as { outcome: string }[]).map((r) => r.outcome)).toEqual([
    'updated',
    'updated',
    'updated',
  ]);
  expect((await cm('other')).metadata?.labels).toEqual({ group: 'no' });
});

test('concurrent writers: each write is guarded by resourceVersion and retried after a fresh read', async () => {
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, i) => label({ target: target('c'), set: { [`k${i}`]: 'v' } })),
  );
  for (const answer of answers)
    expect(answer.body).toMatchObject({ results: [{ outcome: 'updated' }] });
  const labels = (await cm('c')).metadata?.labels ?? {};
  for (let i = 0; i < 8; i++) expect(labels[`k${i}`]).toBe('v');
});

test('bad input is refused with the reason, and nothing changes', async () => {
  const before = (await cm('b')).metadata?.resourceVersion;
  const cases: [unknown, number, string][] = [
    [{ target: target('b'), set: { 'kubernetes.io/x': 'y' } }, 400, 'reserved-key'],
    [{ target: target('b'), set: { 'bad key': 'y' } }, 400, 'invalid-input'],
    [{ target: target('b'), set: { ok: 'bad value!' } }, 400, 'invalid-input'],
    [{ target: target('b') }, 400, 'invalid-input'],
    [
      { target: { ...target('b'), namespace: 'kube-system' }, set: { a: 'b' } },
      403,
      'namespace-not-allowed',
    ],
    [
      { target: { ...target('b'), namespace: 'default' }, set: { a: 'b' } },
      403,
      'namespace-not-allowed',
    ],
    [
      { target: { apiVersion: 'v1', kind: 'Node', name: 'x' }, set: { a: 'b' } },
      403,
      'not-allowed',
    ],
    [{ target: { ...target('b'), kind: 'Nonexistent' }, set: { a: 'b' } }, 400, 'unknown-kind'],
    // Kinds kubefn has no rights to label are the caller's mistake, not a 500.
    [{ target: { ...target('b'), kind: 'Secret' }, set: { a: 'b' } }, 403, 'not-allowed'],
    [{ target: { ...target('b'), kind: 'Pod' }, set: { a: 'b' } }, 403, 'not-allowed'],
    ...['a b c', 'x in (', '!!'].map((labelSelector): [unknown, number, string] => [
      {
        target: { apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, labelSelector },
        set: { a: 'b' },
      },
      400,
      'invalid-input',
    ]),
    // kubefn's own labels are kubefn's, whatever the policy on reserved keys.
    ...[
      { set: { 'kubefn.dev/plan': 'pro' } },
      { set: { 'kubefn.dev/customer': 'someone-else' } },
      { set: { 'x.kubefn.dev/anything': 'v' } },
      { remove: ['app.kubernetes.io/managed-by'] },
    ].map((change): [unknown, number, string] => [
      { target: target('b'), ...change },
      403,
      'kubefn-key',
    ]),
  ];
  for (const [body, status, error] of cases) {
    const answer = await label(body);
    expect(answer.status, JSON.stringify(body)).toBe(status);
    expect(answer.body.error, JSON.stringify(body)).toBe(error);
  }
  expect((await cm('b')).metadata?.resourceVersion).toBe(before);
  expect((await label({ target: target('b'), set: { a: 'b' } }, '')).status).toBe(401);
});

test("a tenant's plan, customer and managed-by labels cannot be changed through label", async () => {
  const namespaces = admin.resource({ apiVersion: 'v1', kind: 'Namespace' });
  const before = await namespaces.get(ns);
  const tenant = { apiVersion: 'v1', kind: 'Namespace', name: ns };
  for (const change of [
    { set: { 'kubefn.dev/plan': 'pro' } },
    { remove: ['kubefn.dev/customer'] },
    { set: { 'app.kubernetes.io/managed-by': 'me' } },
  ]) {
    const answer = await label({ target: tenant, ...change });
    expect(answer, JSON.stringify(change)).toMatchObject({
      status: 403,
      body: { error: 'kubefn-key' },
    });
  }
  // Other labels on the tenant's Namespace stay the caller's to set.
  expect((await label({ target: tenant, set: { team: 'blue' } })).status).toBe(200);
  const after = await namespaces.get(ns);
  for (const key of ['kubefn.dev/plan', 'kubefn.dev/customer', 'app.kubernetes.io/managed-by'])
    expect(after.metadata?.labels?.[key]).toBe(before.metadata?.labels?.[key]);
});

test('from Pub/Sub: done, a duplicate does nothing, a malformed or refused message is not retried', async () => {
  const data = { target: target('b'), set: { via: 'pubsub' } };
  const first = await push(data, { eventKey: 'evt-1' });
  expect(first).toMatchObject({
    status: 200,
    body: { outcome: 'done', results: [{ outcome: 'updated' }] },
  });
  await configMaps().patch('b', { metadata: { labels: { via: 'hand' } } }, { namespace: ns });
  const rv = (await cm('b')).metadata?.resourceVersion;
  // The same event again is recognised and skipped (it would otherwise undo the hand edit).
  expect(await push(data, { eventKey: 'evt-1' })).toMatchObject({
    status: 200,
    body: { outcome: 'duplicate' },
  });
  // Nothing written at all: the object is the version the hand edit made.
  expect(rv).toBeDefined();
  expect((await cm('b')).metadata?.resourceVersion).toBe(rv);
  expect((await cm('b')).metadata?.labels?.via).toBe('hand');
  expect(await push(undefined, {}, '{"not":"an envelope"}')).toMatchObject({
    status: 200,
    body: { outcome: 'rejected' },
  });
  expect(await push({ target: target('b') })).toMatchObject({
    status: 200,
    body: { outcome: 'rejected' },
  });
  expect(
    await push({ target: { ...target('b'), namespace: 'kube-system' }, set: { a: 'b' } }),
  ).toMatchObject({ status: 200, body: { outcome: 'failed' } });
  // The HTTP caller's token is not the push subscription's.
  const wrong = await httpRequest(`${fn.url}/pubsub`, token, 'POST', '{}');
  expect(wrong.status).toBe(403);
});
