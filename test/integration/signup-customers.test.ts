// The sign-up a stranger cannot abuse, on the real stack: the signup backend under the Functions
// Framework, customers on the real Firebase Auth emulator, the real provisioning function and
// kube-apiserver. A second signup backend runs with production settings (a real-looking
// project, signed tokens only) against the fake Google's key set, the one thing that cannot run
// here. Every refusal is checked to have created nothing.
import { UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signupLeaseName, withCustomerLock } from '../../functions/provision/customer-lock.ts';
import { signupTokenFile, startSignupFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { DomainError } from '../../shared/errors.ts';
import { statusOf } from '../../shared/http/errors.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { newCustomer, signIn, type TestCustomer } from '../support/customers.ts';
import { type FakeGoogle, startFakeGoogle } from '../support/fakes/google.ts';
import { uniqueName } from '../support/kube.ts';
import { type ProvisionFixture, startProvision } from '../support/provision.ts';

const productionProject = 'kubefn-prod-test';
let admin: Cluster;
let provision: ProvisionFixture;
let signup: RunningFunction;
let production: RunningFunction;
let google: FakeGoogle;

beforeAll(async () => {
  admin = await adminCluster();
  google = await startFakeGoogle();
  provision = await startProvision(admin);
  const tokenFile = await signupTokenFile(admin, stack);
  [signup, production] = await Promise.all([
    startSignupFunction(stack, provision.fn.url, tokenFile),
    startSignupFunction(stack, provision.fn.url, tokenFile, {
      env: {
        KUBEFN_CUSTOMER_PROJECT: productionProject,
        KUBEFN_CUSTOMER_AUTH_EMULATOR: undefined,
        KUBEFN_CUSTOMER_API_KEY: 'AIzaSyFakeKeyForTheTestProject',
        KUBEFN_CUSTOMER_JWKS_URL: google.jwksUrl,
      },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([signup?.stop(), production?.stop(), provision?.fn.stop()]);
  await google?.close();
  await admin?.close();
});

type Reply = { status: number; body: Record<string, unknown> };
async function api(
  fn: RunningFunction,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<Reply> {
  const res = await fetch(`${fn.url}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const signUp = (token: string | undefined, customerId: string, plan = 'free', fn = signup) =>
  api(fn, 'POST', '/api/signup', token, { customerId, plan });

const namespaces = () => admin.resource({ apiVersion: 'v1', kind: 'Namespace' });
/** The tenant namespaces for these ids that exist now (none, for a refused sign-up). */
async function existing(...ids: string[]): Promise<string[]> {
  const found = await Promise.all(ids.map((id) => namespaces().find(`tenant-${id}`)));
  return found.flatMap((ns) => (ns?.metadata?.name ? [ns.metadata.name] : []));
}

const now = () => Math.floor(Date.now() / 1000);
const firebaseClaims = (project: string, extra: Record<string, unknown> = {}) => ({
  iss: `https://securetoken.google.com/${project}`,
  aud: project,
  sub: uniqueName('uid'),
  email: 'signed@example.com',
  email_verified: true,
  auth_time: now() - 5,
  iat: now() - 5,
  exp: now() + 3600,
  ...extra,
});

describe('refused, creating nothing', () => {
  const id = uniqueName('anon');

  test.each([
    ['no token at all', () => undefined],
    ['a bearer that is no JWT', () => 'not-a-token'],
    [
      'an unsigned token for another project',
      () => new UnsecuredJWT(firebaseClaims('demo-other')).encode(),
    ],
    [
      'an unsigned token with our audience but another issuer',
      () =>
        new UnsecuredJWT(
          firebaseClaims(stack.authProject, { iss: 'https://securetoken.google.com/demo-other' }),
        ).encode(),
    ],
    [
      'an expired emulator token',
      () =>
        new UnsecuredJWT(
          firebaseClaims(stack.authProject, { iat: now() - 7200, exp: now() - 3600 }),
        ).encode(),
    ],
    ['a signed token, where only the emulator’s are taken', () => 'signed'],
  ])('emulator backend, %s: 401 unauthenticated', async (_what, make) => {
    let token = make();
    if (token === 'signed') token = await google.idToken(firebaseClaims(stack.authProject));
    const answer = await signUp(token, id, 'pro');
    expect(answer).toEqual({
      status: 401,
      body: { error: 'unauthenticated', message: 'sign in first' },
    });
    expect(await existing(id)).toEqual([]);
  });

  test.each([
    ['no token at all', async () => undefined],
    [
      'an unsigned (emulator-style) token',
      async () => new UnsecuredJWT(firebaseClaims(productionProject)).encode(),
    ],
    [
      'a signed token of another project',
      () => google.idToken(firebaseClaims('kubefn-other-project')),
    ],
    [
      'a signed token with our audience and another project’s issuer',
      () =>
        google.idToken(
          firebaseClaims(productionProject, {
            iss: 'https://securetoken.google.com/kubefn-other-project',
          }),
        ),
    ],
    [
      'a signed Google service-account token',
      () =>
        google.idToken({
          ...firebaseClaims(productionProject),
          iss: 'https://accounts.google.com',
        }),
    ],
    [
      'a token signed with a key Identity Platform does not publish',
      () => google.idToken(firebaseClaims(productionProject), { kid: 'not-published' }),
    ],
    [
      'a signed token whose sign-in is in the future',
      () => google.idToken(firebaseClaims(productionProject, { auth_time: now() + 600 })),
    ],
    [
      'an expired signed token',
      () =>
        google.idToken(firebaseClaims(productionProject, { iat: now() - 7200, exp: now() - 3600 })),
    ],
  ])('production backend, %s: 401 unauthenticated', async (_what, make) => {
    const answer = await signUp(await make(), id, 'pro', production);
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: 'unauthenticated' });
    expect(await existing(id)).toEqual([]);
  });

  test('a signed-in customer whose email is not verified: 403 email-not-verified', async () => {
    const customer = await newCustomer('unverified', { verified: false });
    const answer = await signUp(customer.idToken, id);
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: 'email-not-verified' });
    expect(await existing(id)).toEqual([]);
  });

  test('a paid plan without the entitlement: 403 plan-not-entitled', async () => {
    const customer = await newCustomer('no-entitlement');
    const answer = await signUp(customer.idToken, id, 'pro');
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: 'plan-not-entitled' });
    expect(await existing(id)).toEqual([]);
  });

  test('the body cannot carry an owner or an entitlement: 400', async () => {
    const customer = await newCustomer('smuggler');
    const answer = await api(signup, 'POST', '/api/signup', customer.idToken, {
      customerId: id,
      plan: 'pro',
      owner: { uid: customer.uid, entitlement: 'pro' },
    });
    expect(answer.status).toBe(400);
    expect(await existing(id)).toEqual([]);
  });
});

describe('tenants belong to their customer', () => {
  let first: TestCustomer;
  let second: TestCustomer;
  const mine = uniqueName('mine');

  beforeAll(async () => {
    [first, second] = await Promise.all([newCustomer('first'), newCustomer('second')]);
  });

  test('a verified customer gets a free tenant that records who they are', async () => {
    const answer = await signUp(first.idToken, mine);
    expect(answer.status).toBe(201);
    const ns = (await namespaces().get(`tenant-${mine}`)) as KubeObject;
    expect(ns.metadata?.labels).toMatchObject({
      'kubefn.dev/customer': mine,
      'kubefn.dev/plan': 'free',
      'kubefn.dev/owner': first.uid,
    });
    expect(ns.metadata?.annotations).toMatchObject({ 'kubefn.dev/owner-uid': first.uid });
    // The free plan gives no owner access: the email is not bound, nor recorded.
    const owners = await admin
      .resource({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' })
      .get('tenant-owners', { namespace: `tenant-${mine}` });
    expect(JSON.stringify(owners)).not.toContain(first.email);
    expect(JSON.stringify(ns)).not.toContain(first.email);

    expect((await signUp(first.idToken, mine)).body).toMatchObject({ created: false });
    const listed = await api(signup, 'GET', '/api/tenants', first.idToken);
    expect(listed).toEqual({
      status: 200,
      body: {
        tenants: [
          { customerId: mine, namespace: `tenant-${mine}`, plan: 'free', terminating: false },
        ],
      },
    });
  });

  test('the free plan allows one: a second tenant is 403 tenant-limit', async () => {
    const another = uniqueName('another');
    const answer = await signUp(first.idToken, another);
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: 'tenant-limit' });
    expect(await existing(another)).toEqual([]);
  });

  test('another customer cannot see it (404, as a missing one), list it, or take its id', async () => {
    const seen = await api(signup, 'GET', `/api/tenants/${mine}`, second.idToken);
    const missing = uniqueName('nobody');
    const absent = await api(signup, 'GET', `/api/tenants/${missing}`, second.idToken);
    expect(seen.status).toBe(404);
    expect(seen.body).toEqual({
      error: 'no-such-tenant',
      message: `there is no tenant ${mine}`,
    });
    expect(absent.body).toEqual({
      error: 'no-such-tenant',
      message: `there is no tenant ${missing}`,
    });
    expect(await api(signup, 'GET', '/api/tenants', second.idToken)).toEqual({
      status: 200,
      body: { tenants: [] },
    });

    const before = (await namespaces().get(`tenant-${mine}`)) as KubeObject;
    const taken = await signUp(second.idToken, mine);
    expect(taken.status).toBe(409);
    expect(taken.body).toMatchObject({ error: 'namespace-taken' });
    const after = (await namespaces().get(`tenant-${mine}`)) as KubeObject;
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);

    // Provision's delete, asked for the second customer, finds nothing to delete either.
    const deleted = await fetch(
      `${provision.fn.url}/tenants/${mine}?confirm=${mine}&owner=${encodeURIComponent(second.uid)}`,
      { method: 'DELETE', headers: { authorization: `Bearer ${provision.callerToken}` } },
    );
    expect(deleted.status).toBe(404);
    expect((await namespaces().get(`tenant-${mine}`)).metadata?.deletionTimestamp).toBeUndefined();

    // Its owner still sees it.
    const own = await api(signup, 'GET', `/api/tenants/${mine}`, first.idToken);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ customerId: mine, plan: 'free' });
  });

  test('a paid plan with the SaaS’s entitlement: pro, the verified email bound as owner', async () => {
    const paying = await newCustomer('paying', { entitlement: 'pro' });
    const id = uniqueName('pro');
    const answer = await signUp(paying.idToken, id, 'pro');
    expect(answer.status).toBe(201);
    const ns = (await namespaces().get(`tenant-${id}`)) as KubeObject;
    expect(ns.metadata?.labels).toMatchObject({ 'kubefn.dev/plan': 'pro' });
    const owners = (await admin
      .resource({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' })
      .get('tenant-owners', { namespace: `tenant-${id}` })) as KubeObject & {
      subjects?: unknown[];
    };
    expect(owners.subjects).toEqual([
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: paying.email },
    ]);
  });
});

test('20 concurrent sign-ups by one customer: exactly the plan’s 3 tenants, 17 refused', async () => {
  const customer = await newCustomer('burst', { entitlement: 'pro' });
  const ids = Array.from({ length: 20 }, (_, i) => uniqueName(`burst${i}`));
  const begun = performance.now();
  const answers = await Promise.all(ids.map((id) => signUp(customer.idToken, id, 'pro')));
  const took = Math.round(performance.now() - begun);
  const statuses = answers.map((a) => `${a.status} ${a.body.error ?? 'created'}`).sort();
  console.log(`20 concurrent sign-ups of one customer: ${took} ms`);
  expect(statuses).toEqual([
    ...Array(3).fill('201 created'),
    ...Array(17).fill('403 tenant-limit'),
  ]);
  const held = await namespaces().list({ labelSelector: `kubefn.dev/owner=${customer.uid}` });
  expect(held.items).toHaveLength(3);
  expect((await existing(...ids)).sort()).toEqual(
    answers.flatMap((a, i) => (a.status === 201 ? [`tenant-${ids[i]}`] : [])).sort(),
  );
  // The lock is gone with the last request: nothing of it is left in kubefn-system.
  const leases = await admin
    .resource({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' })
    .list({ namespace: 'kubefn-system' });
  expect(leases.items.filter((l) => l.metadata?.name?.startsWith('kubefn-signup-'))).toEqual([]);
});

test('a lock left by an instance that died expires: the next sign-up takes it over', async () => {
  const customer = await newCustomer('stale-lock');
  const leases = admin.resource({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' });
  const name = signupLeaseName(customer.uid);
  const minuteAgo = new Date(Date.now() - 60_000).toISOString().replace('Z', '000Z');
  await leases.create({
    metadata: { name, namespace: 'kubefn-system' },
    spec: { holderIdentity: 'died', leaseDurationSeconds: 15, acquireTime: minuteAgo },
  } as KubeObject);
  const id = uniqueName('stale');
  expect((await signUp(customer.idToken, id)).status).toBe(201);
  expect(await leases.find(name, { namespace: 'kubefn-system' })).toBeUndefined();
});

test('a lock held by a live sign-up: the next one gives up after its wait (signup-busy), having done nothing', async () => {
  const customer = await newCustomer('busy-lock');
  const leases = admin.resource({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' });
  const name = signupLeaseName(customer.uid);
  const now = new Date().toISOString().replace('Z', '000Z');
  await leases.create({
    metadata: { name, namespace: 'kubefn-system' },
    spec: { holderIdentity: 'alive', leaseDurationSeconds: 15, acquireTime: now },
  } as KubeObject);
  let worked = false;
  const refused = await withCustomerLock(
    admin,
    customer.uid,
    async () => {
      worked = true;
    },
    { waitMs: 500 },
  ).catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(DomainError);
  expect(refused).toMatchObject({ code: 'signup-busy', retryable: true });
  expect(statusOf['signup-busy']).toBe(429);
  expect(worked).toBe(false);
  // The other holder's lock is left as it was.
  expect((await leases.find(name, { namespace: 'kubefn-system' }))?.spec).toMatchObject({
    holderIdentity: 'alive',
  });
  await leases.delete(name, { namespace: 'kubefn-system' });
});

test('production settings: a token Identity Platform signed for the project is accepted', async () => {
  const id = uniqueName('signed');
  const claims = firebaseClaims(productionProject);
  const answer = await signUp(await google.idToken(claims), id, 'free', production);
  expect(answer.status).toBe(201);
  const ns = (await namespaces().get(`tenant-${id}`)) as KubeObject;
  expect(ns.metadata?.labels).toMatchObject({ 'kubefn.dev/owner': claims.sub });
});

test('the ceiling on all tenants: a new one beyond it is 409 capacity-reached', async () => {
  const prefix = `${uniqueName('cap')}-`;
  const capped = await startProvision(admin, {
    KUBEFN_NAMESPACE_PREFIX: prefix,
    KUBEFN_MAX_TENANTS: '2',
  });
  try {
    const post = (customerId: string, uid: string) =>
      fetch(`${capped.fn.url}/tenants`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${capped.callerToken}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ customerId, plan: 'free', owner: { uid } }),
      }).then(async (res) => ({ status: res.status, body: await res.json() }));
    expect((await post('a', 'uid-a')).status).toBe(201);
    expect((await post('b', 'uid-b')).status).toBe(201);
    const third = await post('c', 'uid-c');
    expect(third).toMatchObject({ status: 409, body: { error: 'capacity-reached' } });
    expect(await namespaces().find(`${prefix}c`)).toBeUndefined();
    // An existing tenant is no new one: its sign-up still answers.
    expect((await post('a', 'uid-a')).status).toBe(200);
  } finally {
    await capped.fn.stop();
    for (const name of ['a', 'b'])
      await namespaces()
        .delete(`${prefix}${name}`)
        .catch(() => {});
  }
});

test('a token refreshed after the entitlement is granted carries it', async () => {
  // What the page does after the SaaS grants a plan: sign in again (or refresh), then sign up.
  const customer = await newCustomer('upgrade');
  const id = uniqueName('upgrade');
  expect((await signUp(customer.idToken, id, 'pro')).status).toBe(403);
  await fetch(
    `http://${stack.authEmulatorHost}/identitytoolkit.googleapis.com/v1/projects/${stack.authProject}/accounts:update`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer owner' },
      body: JSON.stringify({
        localId: customer.uid,
        customAttributes: JSON.stringify({ kubefnPlan: 'pro' }),
      }),
    },
  );
  const fresh = await signIn(customer.email, customer.password);
  expect((await signUp(fresh, id, 'pro')).status).toBe(201);
});
