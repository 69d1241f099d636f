// Placement over two real cells (eu1 in europe-west1, us1 in us-central1): each a control plane
// of its own with its own provision; placement in front, its records in the Firestore emulator.
// Tenants land by region, exactly once, never past a cell's capacity; every request reaches the
// tenant's cell; and with eu1's kube-apiserver stopped, us1's tenants keep signing up, being
// served and healed while eu1's answer 503 cell-unavailable and nothing is placed in eu1.

import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningCells, startCells } from '../../infra/local/cells.ts';
import { placementAudience, provisionAudience } from '../../infra/local/deploy.ts';
import { mintToken, pushAccount, schedulerAccount } from '../../infra/local/identities.ts';
import { firestoreClient, integerField } from '../../shared/gcp/firestore.ts';
import { cellKube } from '../support/cell-kube.ts';
import { type Answer, httpRequest } from '../support/http.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { stack } from '../support/stack.ts';
import { cellApiserver } from '../support/stack-control.ts';

const kube = { eu1: cellKube('eu1'), us1: cellKube('us1') };
const euCapacity = 4;
let cells: RunningCells;
let token: string;
const firestore = firestoreClient({
  project: stack.firestoreProject,
  emulatorHost: stack.firestoreEmulatorHost,
});

beforeAll(async () => {
  cells = await startCells(stack, [
    { name: 'eu1', region: 'europe-west1', capacity: euCapacity },
    { name: 'us1', region: 'us-central1' },
  ]);
  token = (await readFile(cells.signupTokenFile, 'utf8')).trim();
}, 180_000);

afterAll(async () => {
  await cellApiserver('eu1', 'start');
  await cells?.stop();
  await firestore.close();
});

const call = (method: string, path: string, body?: unknown): Promise<Answer> =>
  httpRequest(
    `${cells.placement.url}${path}`,
    token,
    method,
    body === undefined ? undefined : JSON.stringify(body),
  );
const json = (answer: Answer) => JSON.parse(answer.body) as Record<string, unknown>;
const signUp = (customerId: string, region: string | undefined, extra: object = {}) =>
  call('POST', '/tenants', {
    customerId,
    plan: 'free',
    ...(region ? { region } : {}),
    ...extra,
  });
const namespaceIn = async (cell: 'eu1' | 'us1', customerId: string) =>
  (await kube[cell]('GET', `/api/v1/namespaces/tenant-${customerId}`)).status;
const placed = async (customerId: string) => firestore.get(`placements/${customerId}`);
const count = async (cell: string) => integerField(await firestore.get(`cells/${cell}`), 'tenants');

test('the regions offered are the cells', async () => {
  const answer = await call('GET', '/regions');
  expect([answer.status, json(answer)]).toEqual([
    200,
    { regions: ['europe-west1', 'us-central1'] },
  ]);
});

test('a tenant lands in the region chosen, in that cell only, and becomes Ready there', async () => {
  const id = uniqueName('us');
  const answer = await signUp(id, 'us-central1');
  expect([answer.status, json(answer).region, json(answer).cell]).toEqual([
    201,
    'us-central1',
    'us1',
  ]);
  expect([await namespaceIn('us1', id), await namespaceIn('eu1', id)]).toEqual([200, 404]);
  const ready = await eventually('the tenant Ready', 60_000, async () => {
    const state = json(await call('GET', `/tenants/${id}`));
    return state.phase === 'Ready' ? state : undefined;
  });
  expect(ready).toMatchObject({ region: 'us-central1', cell: 'us1' });
});

test('concurrent sign-ups of one id land in one cell, counted once; a retry finds it', async () => {
  const id = uniqueName('twice');
  const before = await count('eu1');
  const answers = await Promise.all(Array.from({ length: 6 }, () => signUp(id, 'europe-west1')));
  expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
  expect(new Set(answers.map((a) => json(a).cell))).toEqual(new Set(['eu1']));
  expect(await count('eu1')).toBe(before + 1);
  // Asked again for the other region: the first choice stands.
  const retry = await signUp(id, 'us-central1');
  expect([retry.status, json(retry).cell]).toEqual([200, 'eu1']);
  expect([await namespaceIn('eu1', id), await namespaceIn('us1', id)]).toEqual([200, 404]);
});

test('bad input is refused with a clear code and leaves nothing', async () => {
  const cases: [string, object, number, string][] = [
    ['a region not offered', { region: 'asia-east1' }, 400, 'unknown-region'],
    ['no region, two offered', {}, 400, 'unknown-region'],
    ['a plan that does not exist', { region: 'europe-west1', plan: 'gold' }, 400, 'invalid-input'],
    [
      'a field provision does not take',
      { region: 'europe-west1', dryRun: 'yes' },
      400,
      'invalid-input',
    ],
  ];
  for (const [what, extra, status, code] of cases) {
    const id = uniqueName('bad');
    const answer = await call('POST', '/tenants', { customerId: id, plan: 'free', ...extra });
    expect([what, answer.status, json(answer).error]).toEqual([what, status, code]);
    expect([what, await placed(id), await namespaceIn('eu1', id)]).toEqual([what, undefined, 404]);
  }
});

test('a full region is refused with region-full and nothing is created', async () => {
  // Fill eu1 to its capacity (earlier tests may have placed some there already).
  const filled: string[] = [];
  while ((await count('eu1')) < euCapacity) {
    const id = uniqueName('fill');
    expect((await signUp(id, 'europe-west1')).status).toBe(201);
    filled.push(id);
  }
  const id = uniqueName('full');
  const answer = await signUp(id, 'europe-west1');
  expect([answer.status, json(answer).error]).toEqual([409, 'region-full']);
  expect([await placed(id), await namespaceIn('eu1', id), await count('eu1')]).toEqual([
    undefined,
    404,
    euCapacity,
  ]);
  // A deletion gives its place back.
  const gone = filled[0] ?? '';
  if (gone) {
    expect((await call('DELETE', `/tenants/${gone}?confirm=${gone}`)).status).toBe(202);
    expect([await placed(gone), await count('eu1')]).toEqual([undefined, euCapacity - 1]);
  }
});

test("a customer's list asks only the cells that hold their tenants, and names each region", async () => {
  const owner = { uid: uniqueName('uid'), email: 'owner@example.com', entitlement: 'pro' };
  const us = uniqueName('own-us');
  expect((await signUp(us, 'us-central1', { plan: 'pro', owner })).status).toBe(201);
  const list = json(await call('GET', `/tenants?owner=${owner.uid}`));
  expect(list.tenants).toEqual([
    expect.objectContaining({ customerId: us, region: 'us-central1', cell: 'us1' }),
  ]);
  // Another customer's tenant answers as a missing one.
  const other = await call('GET', `/tenants/${us}?owner=someone-else`);
  expect(other.status).toBe(404);
});

test('a tenant request from Pub/Sub reaches the cell that holds the tenant', async () => {
  const id = uniqueName('req');
  expect((await signUp(id, 'us-central1')).status).toBe(201);
  const push = await mintToken(cells.cells.eu1?.admin as never, pushAccount, {
    audiences: [placementAudience],
  });
  // As Pub/Sub pushes a tenant request to placement.
  const pushed = (data: object) =>
    httpRequest(
      `${cells.placement.url}/pubsub/tenants`,
      push,
      'POST',
      JSON.stringify({
        subscription: 'projects/demo/subscriptions/kubefn-placement-tenant-requests',
        message: {
          messageId: uniqueName('m'),
          data: Buffer.from(JSON.stringify(data)).toString('base64'),
        },
      }),
    );
  const data = { action: 'suspend', customerId: id, requestedAt: new Date().toISOString() };
  const answer = await pushed(data);
  expect([answer.status, json(answer).outcome, json(answer).cell]).toEqual([200, 'done', 'us1']);
  const ns = await kube.us1('GET', `/api/v1/namespaces/tenant-${id}`);
  expect(
    (ns.body.metadata as { labels: Record<string, string> }).labels['kubefn.dev/suspended'],
  ).toBe('true');
  // A request for a tenant placed nowhere changes nothing anywhere.
  const refused = await pushed({ ...data, customerId: uniqueName('nowhere') });
  expect([refused.status, json(refused).outcome]).toEqual([200, 'failed']);
});

describe('one cell down', () => {
  test("eu1 down: its tenants answer 503 cell-unavailable, nothing is placed there, us1's are served, signed up and healed", async () => {
    const eu = uniqueName('eu');
    const us = uniqueName('us');
    expect(
      (await call('POST', '/tenants', { customerId: eu, plan: 'free', region: 'europe-west1' }))
        .status,
    ).toBeLessThan(300);
    expect((await signUp(us, 'us-central1')).status).toBe(201);
    const scheduler = await mintToken(cells.cells.us1?.admin as never, schedulerAccount, {
      audiences: [provisionAudience],
    });

    await cellApiserver('eu1', 'stop');
    try {
      const read = await call('GET', `/tenants/${eu}`);
      expect([read.status, json(read).error]).toEqual([503, 'cell-unavailable']);
      const newEu = uniqueName('eu-new');
      const refused = await signUp(newEu, 'europe-west1');
      expect([refused.status, json(refused).error]).toEqual([503, 'region-unavailable']);
      expect(await placed(newEu)).toBeUndefined();

      // us1 goes on: a new tenant, a read, and a repair by its scheduled check.
      const another = uniqueName('us-new');
      expect((await signUp(another, 'us-central1')).status).toBe(201);
      expect((await call('GET', `/tenants/${us}`)).status).toBe(200);
      const path = `/api/v1/namespaces/tenant-${us}/resourcequotas`;
      const quotas = (await kube.us1('GET', path)).body.items as { metadata: { name: string } }[];
      const quota = quotas[0]?.metadata.name ?? '';
      expect((await kube.us1('DELETE', `${path}/${quota}`)).status).toBe(200);
      const resync = await httpRequest(
        `${cells.cells.us1?.provision.url}/resync`,
        scheduler,
        'POST',
      );
      expect(resync.status).toBe(200);
      expect((await kube.us1('GET', `${path}/${quota}`)).status).toBe(200);
    } finally {
      await cellApiserver('eu1', 'start');
    }
    // Back: eu1's tenant answers again.
    await eventually('eu1 serving again', 30_000, async () =>
      (await call('GET', `/tenants/${eu}`)).status === 200 ? true : undefined,
    );
  });
});

test('strangers are refused', async () => {
  const stranger = await mintToken(cells.cells.eu1?.admin as never, schedulerAccount, {
    audiences: [placementAudience],
  });
  for (const [method, path] of [
    ['POST', '/tenants'],
    ['GET', '/tenants/acme'],
    ['GET', '/cells'],
    ['POST', '/pubsub/tenants'],
  ] as const) {
    const body = method === 'POST' ? '{}' : undefined;
    const answer = await httpRequest(`${cells.placement.url}${path}`, stranger, method, body);
    expect([method, path, answer.status]).toEqual([method, path, 403]);
    const none = await httpRequest(`${cells.placement.url}${path}`, '', method, body);
    expect([method, path, none.status]).toEqual([method, path, 401]);
  }
});

test('the operator sees every cell with its region, capacity, tenants and health', async () => {
  // eu1 was down a moment ago: it is asked again once its last answer is 5 s old.
  const view = await eventually('both cells up', 20_000, async () => {
    const answer = json(await call('GET', '/cells')) as { cells: Record<string, unknown>[] };
    return answer.cells.every((c) => c.up) ? answer : undefined;
  });
  expect(view.cells.map((c) => [c.name, c.region, c.capacity, c.up])).toEqual([
    ['eu1', 'europe-west1', euCapacity, true],
    ['us1', 'us-central1', 5000, true],
  ]);
  expect(view.cells.every((c) => typeof c.tenants === 'number')).toBe(true);
});
