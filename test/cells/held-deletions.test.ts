// Placement and the deletion budget on two real cells: a cancel that a cell holds keeps the
// tenant's placement and its place in the cell's count; once the cell does the deletion (an
// operator approves it there), placement's minute round (/resync) forgets the record and gives
// the place back. A hold dropped by the operator keeps the tenant placed (unmarked), and a
// sign-up of a held tenant over HTTP leaves it marked: the cell's hold stands (only a newer
// Pub/Sub request supersedes it). Every deletion here is held (a budget of 0).
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type LocalCell, type RunningCells, startCells } from '../../infra/local/cells.ts';
import { placementAudience, provisionAudience } from '../../infra/local/deploy.ts';
import {
  mintToken,
  operatorAccount,
  principal,
  pushAccount,
  schedulerAccount,
  signupAccount,
} from '../../infra/local/identities.ts';
import { firestoreClient, integerField, stringField } from '../../shared/gcp/firestore.ts';
import { httpRequest } from '../support/http.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { clearPlacementRecords } from '../support/placement-deps.ts';
import { stack } from '../support/stack.ts';

const prefix = 'hd-';
const heldCells: LocalCell[] = [
  { name: 'eu1', region: 'europe-west1' },
  { name: 'us1', region: 'us-central1' },
];
let cells: RunningCells;
const tokens = { signup: '', push: '', scheduler: '', operator: '' };
const firestore = firestoreClient({
  project: stack.firestoreProject,
  emulatorHost: stack.firestoreEmulatorHost,
});
/** Every tenant this file signs up: whatever a failed test left held is approved at the end. */
const signedUp: string[] = [];

beforeAll(async () => {
  // Placement's records start empty: the cells project's other files share the emulator, and
  // a record another file left marked would be forgotten (and counted) by this file's rounds.
  await clearPlacementRecords(stack);
  cells = await startCells(stack, heldCells, {
    // Its own prefix, so its own budget (slot Leases are per prefix): 0, every deletion held.
    provisionEnv: {
      KUBEFN_DELETION_BUDGET: '0/1h',
      KUBEFN_NAMESPACE_PREFIX: prefix,
      // An operator decides held deletions in the cell.
      KUBEFN_ALLOW_OPERATOR: principal(operatorAccount),
    },
  });
  const [eu1, us1] = [cells.cells.eu1?.admin, cells.cells.us1?.admin];
  if (!eu1 || !us1) throw new Error('the cells did not start');
  // Placement trusts the first cell's cluster as its issuer (as every test of placement here);
  // us1's provision trusts us1's.
  const forPlacement = { audiences: [placementAudience] };
  tokens.signup = await mintToken(eu1, signupAccount, forPlacement);
  tokens.push = await mintToken(eu1, pushAccount, forPlacement);
  tokens.scheduler = await mintToken(eu1, schedulerAccount, forPlacement);
  tokens.operator = await mintToken(us1, operatorAccount, { audiences: [provisionAudience] });
}, 180_000);

afterAll(async () => {
  if (cells && signedUp.length > 0)
    await provisionOfUs1('POST', '/deletions/approve', { customerIds: signedUp }).catch(() => {});
  await cells?.stop();
  await firestore.close();
});

const json = (answer: { body: string }) => JSON.parse(answer.body) as Record<string, unknown>;
const placement = (method: string, path: string, token: string, body?: unknown) =>
  httpRequest(
    `${cells.placement.url}${path}`,
    token,
    method,
    body === undefined ? undefined : JSON.stringify(body),
  );
/** us1's provision, as an operator calls it (held deletions are decided in the cell). */
const provisionOfUs1 = (method: string, path: string, body?: unknown) =>
  httpRequest(
    `${cells.cells.us1?.provision.url}${path}`,
    tokens.operator,
    method,
    body === undefined ? undefined : JSON.stringify(body),
  );
const us1Count = async () => integerField(await firestore.get('cells/us1'), 'tenants');
const marked = async (id: string) => {
  const doc = await firestore.get(`placements/${id}`);
  return doc ? stringField(doc, 'deletion') === 'held' : undefined;
};
type Round = { rounds: unknown[]; forgotten: string[]; stillHeld: number; kept: number };
async function resyncRound(): Promise<Round> {
  const answer = await placement('POST', '/resync', tokens.scheduler);
  expect(answer.status, answer.body).toBe(200);
  return json(answer) as Round;
}

/** A Ready tenant in us1, placed by placement. */
async function readyTenant(): Promise<string> {
  const id = uniqueName('hd');
  signedUp.push(id);
  const answer = await placement('POST', '/tenants', tokens.signup, {
    customerId: id,
    plan: 'free',
    region: 'us-central1',
  });
  expect([answer.status, json(answer).cell], answer.body).toEqual([201, 'us1']);
  await eventually(`${id} Ready`, 90_000, async () => {
    const status = await placement('GET', `/tenants/${id}`, tokens.signup);
    return status.status === 200 && json(status).phase === 'Ready' ? true : undefined;
  });
  return id;
}

/** A cancel from the tenant-requests topic, as Pub/Sub pushes it to placement. */
const pushCancel = (customerId: string) =>
  placement('POST', '/pubsub/tenants', tokens.push, {
    subscription: 'projects/demo/subscriptions/kubefn-placement-tenant-requests',
    message: {
      messageId: uniqueName('m'),
      data: Buffer.from(
        JSON.stringify({
          action: 'cancel',
          customerId,
          confirm: customerId,
          requestedAt: new Date().toISOString(),
        }),
      ).toString('base64'),
    },
  });

test('a held cancel keeps the placement until the cell deletes the tenant; then the round forgets it', async () => {
  const [byHttp, byPubsub] = [await readyTenant(), await readyTenant()];
  const before = await us1Count();

  const held = await placement('DELETE', `/tenants/${byHttp}?confirm=${byHttp}`, tokens.signup);
  expect([held.status, json(held).error], held.body).toEqual([429, 'deletion-held']);
  const pushed = await pushCancel(byPubsub);
  expect([pushed.status, json(pushed).outcome], pushed.body).toEqual([200, 'held']);
  expect([await marked(byHttp), await marked(byPubsub)]).toEqual([true, true]);

  // Held: the round keeps both, counted, and still served.
  const waiting = await resyncRound();
  expect(waiting.forgotten).toEqual([]);
  expect(waiting.stillHeld).toBeGreaterThanOrEqual(2);
  expect(await us1Count()).toBe(before);
  expect((await placement('GET', `/tenants/${byHttp}`, tokens.signup)).status).toBe(200);

  // The operator approves both in us1; once the namespaces are gone, the round forgets them.
  const approved = await provisionOfUs1('POST', '/deletions/approve', {
    customerIds: [byHttp, byPubsub],
  });
  expect(approved.status, approved.body).toBe(200);
  const forgotten = new Set<string>();
  await eventually('both records forgotten', 90_000, async () => {
    for (const id of (await resyncRound()).forgotten) forgotten.add(id);
    return forgotten.has(byHttp) && forgotten.has(byPubsub) ? true : undefined;
  });
  expect(await us1Count()).toBe(before - 2);
  expect([await marked(byHttp), await marked(byPubsub)]).toEqual([undefined, undefined]);
  const gone = await placement('GET', `/tenants/${byHttp}`, tokens.signup);
  expect([gone.status, json(gone).error]).toEqual([404, 'no-such-tenant']);
  // Asked again, nothing more changes.
  expect((await resyncRound()).forgotten).toEqual([]);
  expect(await us1Count()).toBe(before - 2);
}, 300_000);

test('a dropped hold keeps the tenant placed and unmarked; a sign-up over HTTP leaves the hold and the mark', async () => {
  const [dropped, again] = [await readyTenant(), await readyTenant()];
  const before = await us1Count();
  for (const id of [dropped, again]) {
    const held = await placement('DELETE', `/tenants/${id}?confirm=${id}`, tokens.signup);
    expect(held.status, held.body).toBe(429);
  }
  expect([await marked(dropped), await marked(again)]).toEqual([true, true]);

  // Signed up again over HTTP: already there (200), where it is; its cell still holds the
  // cancel, so the record is marked again once the sign-up is through.
  const signup = await placement('POST', '/tenants', tokens.signup, {
    customerId: again,
    plan: 'free',
    region: 'us-central1',
  });
  expect([signup.status, json(signup).cell], signup.body).toEqual([200, 'us1']);
  expect(await marked(again)).toBe(true);
  const status = await placement('GET', `/tenants/${again}`, tokens.signup);
  expect(json(status).deletionHeld).toBe(true);

  // Dropped by the operator: the round sees the tenant kept, and unmarks it.
  const drop = await provisionOfUs1('POST', '/deletions/drop', { customerIds: [dropped] });
  expect(drop.status, drop.body).toBe(200);
  await eventually('the dropped hold unmarked', 30_000, async () => {
    await resyncRound();
    return (await marked(dropped)) === false ? true : undefined;
  });
  expect(await marked(again)).toBe(true);
  expect(await us1Count()).toBe(before);
  for (const id of [dropped, again]) {
    const status = await placement('GET', `/tenants/${id}`, tokens.signup);
    expect([status.status, json(status).phase]).toEqual([200, 'Ready']);
  }
}, 300_000);
