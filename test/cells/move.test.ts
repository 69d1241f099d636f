// Moving tenants between two real cells (eu1 in europe-west1, us1 in us-central1), placement's
// records in the Firestore emulator. A move is killed after each of its steps (the step hook
// throws, as a crash right after the step's write would end it), both cells' scheduled checks
// run, and the move is asked again through placement: it finishes, with the operator's hand-set
// values, the tenant Ready in the cell it is placed in at every kill point, never placed in two
// cells or none, and the source copy gone for good. The real placement process is also killed
// (SIGKILL) just after two steps and the move asked again of its restart, with both cells polled:
// Ready in one of them throughout. Then: a move with both cells' real watchers
// and self-healing running; a target that refuses undoes the move; requests wait while a tenant
// is frozen; a move from Pub/Sub; a drain at a bounded rate.
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PlacementDeps } from '../../functions/placement/handler.ts';
import { type MoveStep, moveSteps, moveTenant } from '../../functions/placement/move.ts';
import { type LocalCell, type RunningCells, startCells } from '../../infra/local/cells.ts';
import { type ChangeFlow, startChangeFlow } from '../../infra/local/change-flow.ts';
import { placementAudience, provisionAudience } from '../../infra/local/deploy.ts';
import {
  mintToken,
  operatorAccount,
  principal,
  pushAccount,
  schedulerAccount,
  signupAccount,
} from '../../infra/local/identities.ts';
import { cellTrigger, topics, triggers } from '../../infra/subscriptions.ts';
import { firestoreClient, integerField } from '../../shared/gcp/firestore.ts';
import type { KubeObject } from '../../shared/kube/index.ts';
import { type Answer, httpRequest } from '../support/http.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { clearPlacementRecords, placementDeps } from '../support/placement-deps.ts';
import { pubsub, pullCloudEvents, topicPath } from '../support/pubsub.ts';
import { stack } from '../support/stack.ts';

type CellName = 'eu1' | 'us1';
const prefix = 'mv-';
const moveCells: LocalCell[] = [
  { name: 'eu1', region: 'europe-west1' },
  { name: 'us1', region: 'us-central1' },
];
let cells: RunningCells;
const tokens = {
  signup: '',
  operator: '',
  push: '',
  scheduler: { eu1: '', us1: '' },
  /** The signup backend's token for each cell's provision: reads the tenant's phase there. */
  read: { eu1: '', us1: '' },
  /** An operator's, for each cell's provision: its view of every tenant (the console's). */
  operatorOf: { eu1: '', us1: '' },
};
let deps: PlacementDeps;
const outcomesTopic = uniqueName('move-outcomes');
const firestore = firestoreClient({
  project: stack.firestoreProject,
  emulatorHost: stack.firestoreEmulatorHost,
});

beforeAll(async () => {
  // Placement's records start empty: the cells project's other files share the emulator.
  await clearPlacementRecords(stack);
  expect((await pubsub('PUT', `topics/${outcomesTopic}`)).status).toBe(200);
  const subscribed = await pubsub('PUT', `subscriptions/${outcomesTopic}-app`, {
    topic: topicPath(outcomesTopic),
    enableMessageOrdering: true,
  });
  expect(subscribed.status).toBe(200);
  cells = await startCells(stack, moveCells, {
    // A prefix of their own: the moves here delete more source copies than the default budget
    // of 10 an hour, and a deployment's budget is per prefix (its slot Leases): the cells
    // project's other files, on the same clusters, keep theirs.
    provisionEnv: {
      KUBEFN_DELETION_BUDGET: '50/1h',
      KUBEFN_NAMESPACE_PREFIX: prefix,
      // Operators' view of each cell's tenants (GET /all-tenants).
      KUBEFN_ALLOW_OPERATOR: principal(operatorAccount),
    },
    // Moves' outcome events, for the SaaS app.
    placementEnv: {
      KUBEFN_OUTCOMES_TOPIC: outcomesTopic,
      PUBSUB_EMULATOR_HOST: stack.pubsubEmulatorHost,
      PUBSUB_PROJECT_ID: stack.pubsubProject,
    },
  });
  const forPlacement = { audiences: [placementAudience] };
  tokens.signup = await mintToken(admin('eu1'), signupAccount, forPlacement);
  tokens.operator = await mintToken(admin('eu1'), operatorAccount, forPlacement);
  tokens.push = await mintToken(admin('eu1'), pushAccount, forPlacement);
  for (const cell of ['eu1', 'us1'] as const) {
    const forProvision = { audiences: [provisionAudience] };
    tokens.scheduler[cell] = await mintToken(admin(cell), schedulerAccount, forProvision);
    tokens.read[cell] = await mintToken(admin(cell), signupAccount, forProvision);
    tokens.operatorOf[cell] = await mintToken(admin(cell), operatorAccount, forProvision);
  }
  // The same placement logic in this process, over the same cells and records: what the kill
  // tests run, stopping it after a step.
  deps = placementDeps(cells, moveCells, firestore);
}, 180_000);

afterAll(async () => {
  await cells?.stop();
  await firestore.close();
});

const json = (answer: Answer) => JSON.parse(answer.body) as Record<string, unknown>;
const placement = (method: string, path: string, token: string, body?: unknown) =>
  httpRequest(
    `${cells.placement.url}${path}`,
    token,
    method,
    body === undefined ? undefined : JSON.stringify(body),
  );
function admin(cell: CellName) {
  const running = cells.cells[cell];
  if (!running) throw new Error(`no cell ${cell}`);
  return running.admin;
}
const namespaceOf = (id: string) => `${prefix}${id}`;
const find = (
  cell: CellName,
  kind: { apiVersion: string; kind: string },
  name: string,
  ns?: string,
) =>
  admin(cell)
    .resource(kind)
    .find(name, ns ? { namespace: ns } : {});
const nsRef = { apiVersion: 'v1', kind: 'Namespace' };
const deploymentRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const ingressRef = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' };
const quotaRef = { apiVersion: 'v1', kind: 'ResourceQuota' };

const record = async (id: string) => firestore.get(`placements/${id}`);
const count = async (cell: CellName) =>
  integerField(await firestore.get(`cells/${cell}`), 'tenants');

/** The tenant's phase in `cell`, as that cell's provision reports it. */
async function phaseIn(cell: CellName, id: string): Promise<string | undefined> {
  const url = cells.cells[cell]?.provision.url ?? '';
  const answer = await httpRequest(`${url}/tenants/${id}`, tokens.read[cell], 'GET');
  return answer.status === 200 ? (json(answer).phase as string) : undefined;
}

/** A Ready tenant in eu1, with what an operator set by hand: replicas, a backend timeout, a label. */
async function readyTenantInEu1(): Promise<string> {
  const id = uniqueName('mv');
  const answer = await placement('POST', '/tenants', tokens.signup, {
    customerId: id,
    plan: 'free',
    region: 'europe-west1',
  });
  expect([answer.status, json(answer).cell]).toEqual([201, 'eu1']);
  const ns = namespaceOf(id);
  // kubectl scale and kubectl edit write as updates; kubectl annotate --server-side as an apply.
  await admin('eu1')
    .resource(deploymentRef)
    .patch('monitoring', { spec: { replicas: 2 } }, { namespace: ns, fieldManager: 'ops-scale' });
  await admin('eu1')
    .resource(ingressRef)
    .apply(
      {
        ...ingressRef,
        metadata: {
          name: 'monitoring',
          namespace: ns,
          annotations: { 'kubefn.dev/backend-timeout': '90s' },
        },
      },
      { fieldManager: 'ops-annotate', force: true },
    );
  await admin('eu1')
    .resource(nsRef)
    .patch(ns, { metadata: { labels: { team: 'blue' } } }, { fieldManager: 'ops-label' });
  await eventually(`${id} Ready in eu1`, 90_000, async () =>
    (await phaseIn('eu1', id)) === 'Ready' ? true : undefined,
  );
  return id;
}

/** Both cells' scheduled checks, as Cloud Scheduler runs them: neither may fight the move. */
async function scheduledChecks() {
  for (const cell of ['eu1', 'us1'] as const) {
    const url = cells.cells[cell]?.provision.url ?? '';
    const answer = await httpRequest(`${url}/resync`, tokens.scheduler[cell], 'POST');
    expect(answer.status, answer.body).toBe(200);
  }
}

/** Placed in exactly one cell, and Ready there. */
async function placedAndReady(id: string): Promise<CellName> {
  const doc = await record(id);
  const cell = doc?.fields?.cell;
  const placed = (cell && 'stringValue' in cell ? cell.stringValue : undefined) as CellName;
  expect(['eu1', 'us1']).toContain(placed);
  expect(await phaseIn(placed, id)).toBe('Ready');
  return placed;
}

/** The move finished: in us1 with the hand-set values, gone from eu1, counted once. */
async function movedWithHandSetValues(id: string) {
  const ns = namespaceOf(id);
  const doc = await record(id);
  expect([doc?.fields?.cell, doc?.fields?.region, doc?.fields?.moveStep]).toEqual([
    { stringValue: 'us1' },
    { stringValue: 'us-central1' },
    undefined,
  ]);
  expect(await phaseIn('us1', id)).toBe('Ready');
  const deployment = (await find('us1', deploymentRef, 'monitoring', ns)) as KubeObject;
  const ingress = (await find('us1', ingressRef, 'monitoring', ns)) as KubeObject;
  const namespace = (await find('us1', nsRef, ns)) as KubeObject;
  expect((deployment.spec as { replicas: number }).replicas).toBe(2);
  expect(ingress.metadata?.annotations?.['kubefn.dev/backend-timeout']).toBe('90s');
  expect(namespace.metadata?.labels?.team).toBe('blue');
  expect(namespace.metadata?.labels?.['kubefn.dev/moving-to']).toBeUndefined();
  // The hand-set values are still the operator's: kubefn's defaults do not take them back.
  const managers = (deployment.metadata as { managedFields: { manager: string }[] }).managedFields;
  expect(managers.map((m) => m.manager)).toContain('ops-scale');
  await eventually(`${ns} gone from eu1`, 60_000, async () =>
    (await find('eu1', nsRef, ns)) === undefined ? true : undefined,
  );
}

class Killed extends Error {}

/**
 * `cell`'s watcher on the changes topic, and its provision healing from its own subscription;
 * `onAnswer` hears each push's answer with the change's attributes.
 */
function selfHealing(
  cell: CellName,
  onAnswer: (status: number, attributes: Record<string, string>) => void,
): Promise<ChangeFlow> {
  const info = stack.cells[cell];
  const provision = cells.cells[cell]?.provision;
  if (!info || !provision) throw new Error(`no cell ${cell}`);
  const own = cellTrigger(triggers.provisionChanges, cell);
  return startChangeFlow(admin(cell), stack, {
    topic: topics.changes,
    cell: info,
    watcherName: uniqueName(`move-watcher-${cell}`),
    pushTo: [
      {
        subscription: uniqueName(`move-heal-${cell}`),
        url: `${provision.url}${own.route}`,
        audience: provisionAudience,
        filter: own.filter,
        ordered: own.ordered,
        onAnswer,
      },
    ],
  });
}

test('with both cells watching and healing, a move finishes and neither cell fights it', async () => {
  const flows: ChangeFlow[] = [];
  const eu1Healed: { status: number; attributes: Record<string, string> }[] = [];
  try {
    flows.push(
      await selfHealing('eu1', (status, attributes) => eu1Healed.push({ status, attributes })),
    );
    flows.push(await selfHealing('us1', () => {}));
    const id = await readyTenantInEu1();
    const ns = namespaceOf(id);
    const moved = await placement('POST', `/tenants/${id}/move`, tokens.operator, { to: 'us1' });
    expect(moved.status, moved.body).toBe(200);
    await movedWithHandSetValues(id);
    // us1 heals its copy (so healing runs here): a quota deleted by hand is put back.
    const quotas = (await admin('us1').resource(quotaRef).list({ namespace: ns })).items;
    const quota = quotas[0]?.metadata?.name ?? '';
    await admin('us1').resource(quotaRef).delete(quota, { namespace: ns });
    await eventually(`${quota} put back in us1`, 60_000, async () =>
      (await find('us1', quotaRef, quota, ns)) ? true : undefined,
    );
    // eu1's healing has had the source's deletion (its objects' DELETED changes, answered): it
    // brought nothing back, and stays so; us1's healing kept the operator's values.
    await eventually("eu1's healing told of the source's deletion", 60_000, async () =>
      eu1Healed.some(
        ({ status, attributes: a }) =>
          status === 200 &&
          a.type === 'DELETED' &&
          (a.namespace === ns || (a.kind === 'Namespace' && a.name === ns)),
      )
        ? true
        : undefined,
    );
    const stillGone = Date.now() + 3_000;
    while (Date.now() < stillGone) {
      expect(await find('eu1', nsRef, ns)).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await movedWithHandSetValues(id);
  } finally {
    for (const flow of flows) await flow.stop();
  }
}, 240_000);

describe("the placement function's process killed (SIGKILL) during a move", () => {
  // Not a hook inside the move: the real process, killed when its log says the step is done
  // (so a few milliseconds into whatever comes next), then restarted by its supervisor on the
  // same address, as Cloud Run starts a new instance. The rest of a move after `frozen` takes
  // some 600 ms, after `switched` some 200 (bench move): a move that still ends before the kill
  // lands is done again with another tenant, and one of three must be cut.
  test.each([{ step: 'frozen' }, { step: 'switched' }])(
    'killed once $step: Ready somewhere throughout, and the move finishes when asked again',
    async ({ step }) => {
      for (let attempt = 1; ; attempt++) {
        const id = await readyTenantInEu1();
        const before = { eu1: await count('eu1'), us1: await count('us1') };
        const gaps = watchReadySomewhere(id);
        const fn = cells.placement.process;
        const line = logWatch(fn.logFile);
        const asked = placement('POST', `/tenants/${id}/move`, tokens.operator, { to: 'us1' });
        await line.seen(
          (text) => text.includes(id) && text.includes(`"step":"${step}"`),
          `the move's '${step}' logged`,
        );
        process.kill(fn.pid, 'SIGKILL');
        const first = await asked.catch(() => undefined);
        // Back on the same address (its supervisor restarts it): asked again, it finishes.
        const again = await eventually('the move asked again, answered', 60_000, async () => {
          const answer = await placement('POST', `/tenants/${id}/move`, tokens.operator, {
            to: 'us1',
          }).catch(() => undefined);
          return answer && answer.status !== 503 ? answer : undefined;
        });
        expect(again.status, again.body).toBe(200);
        await movedWithHandSetValues(id);
        expect(await gaps.stop()).toEqual([]);
        expect({ eu1: await count('eu1'), us1: await count('us1') }).toEqual({
          eu1: before.eu1 - 1,
          us1: before.us1 + 1,
        });
        const cut = first?.status !== 200;
        console.log(`placement killed after '${step}', attempt ${attempt}: move cut short ${cut}`);
        if (cut) return;
        expect(attempt, `every move had ended before the kill after '${step}'`).toBeLessThan(3);
      }
    },
    480_000,
  );
});

/** Lines appended to a log file from now on, read every 10 ms (a kill must land soon after). */
function logWatch(file: string) {
  const from = statSync(file).size;
  return {
    async seen(match: (line: string) => boolean, what: string): Promise<void> {
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        const text = (await readFile(file)).subarray(from).toString('utf8');
        if (text.split('\n').some(match)) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`${what}: not within 60000 ms`);
    },
  };
}

/**
 * Polls both cells for the tenant every 100 ms until stopped; answers the polls at which it
 * was Ready in neither (the move's promise: Ready somewhere at every moment).
 */
function watchReadySomewhere(id: string) {
  const gaps: string[] = [];
  let stopped = false;
  const polling = (async () => {
    while (!stopped) {
      const [eu1, us1] = await Promise.all([phaseIn('eu1', id), phaseIn('us1', id)]);
      if (eu1 !== 'Ready' && us1 !== 'Ready')
        gaps.push(`${new Date().toISOString()} eu1 ${eu1} us1 ${us1}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await polling;
      return gaps;
    },
  };
}

describe('a move killed after each step finishes when asked again', () => {
  test.each(moveSteps.map((step) => ({ step })))(
    'killed after $step',
    async ({ step }: { step: MoveStep }) => {
      const id = await readyTenantInEu1();
      const before = { eu1: await count('eu1'), us1: await count('us1') };
      await expect(
        moveTenant(id, 'us1', deps, {
          onStep: async (done) => {
            if (done === step) throw new Killed(step);
          },
        }),
      ).rejects.toBeInstanceOf(Killed);

      // At the kill point: placed in one cell, Ready there; the checks in both cells run.
      const placed = await placedAndReady(id);
      const switched = moveSteps.indexOf(step) >= moveSteps.indexOf('switched');
      expect(placed).toBe(switched ? 'us1' : 'eu1');
      await scheduledChecks();
      await placedAndReady(id);

      // Asked again (the operator's route on the placement process): the move finishes.
      const again = await placement('POST', `/tenants/${id}/move`, tokens.operator, { to: 'us1' });
      expect([again.status, json(again).outcome], again.body).toEqual([200, 'moved']);
      await movedWithHandSetValues(id);
      await scheduledChecks();
      expect(await find('eu1', nsRef, namespaceOf(id))).toBeUndefined();
      expect({ eu1: await count('eu1'), us1: await count('us1') }).toEqual({
        eu1: before.eu1 - 1,
        us1: before.us1 + 1,
      });
    },
    240_000,
  );
});

test('while a tenant is frozen for its move, changes wait and reads are served', async () => {
  const id = await readyTenantInEu1();
  await expect(
    moveTenant(id, 'us1', deps, {
      onStep: (done) => {
        if (done === 'frozen') throw new Killed(done);
      },
    }),
  ).rejects.toBeInstanceOf(Killed);
  const suspend = await pushTenantRequest({
    action: 'suspend',
    customerId: id,
    requestedAt: new Date().toISOString(),
  });
  // Not acknowledged: Pub/Sub delivers it again, after the move, to the tenant's new cell.
  expect([suspend.status, json(suspend).outcome]).toEqual([503, 'retry']);
  const cancel = await placement('DELETE', `/tenants/${id}?confirm=${id}`, tokens.signup);
  expect([cancel.status, json(cancel).error]).toEqual([503, 'tenant-moving']);
  const read = await placement('GET', `/tenants/${id}`, tokens.signup);
  expect([read.status, json(read).cell, json(read).phase]).toEqual([200, 'eu1', 'Ready']);
  const eu1 = (await find('eu1', nsRef, namespaceOf(id))) as KubeObject;
  expect(eu1.metadata?.labels?.['kubefn.dev/suspended']).toBeUndefined();
  // The operators' view (the console's rows) says where it is going, and then where it came from.
  expect(await operatorsRow('eu1', id)).toMatchObject({ phase: 'Ready', movingTo: 'us1' });
  const again = await placement('POST', `/tenants/${id}/move`, tokens.operator, { to: 'us1' });
  expect(again.status, again.body).toBe(200);
  expect(await operatorsRow('us1', id)).toMatchObject({ phase: 'Ready', movedFrom: 'eu1' });
}, 240_000);

/** The tenant's row in `cell`'s GET /all-tenants, the operators' view the console shows. */
async function operatorsRow(cell: CellName, id: string) {
  const url = cells.cells[cell]?.provision.url ?? '';
  const answer = await httpRequest(`${url}/all-tenants`, tokens.operatorOf[cell], 'GET');
  expect(answer.status, answer.body).toBe(200);
  const { tenants } = json(answer) as { tenants: { customerId: string }[] };
  return tenants.find((t) => t.customerId === id);
}

test('a target that refuses for good undoes the move: thawed, not placed, nothing left there', async () => {
  const id = await readyTenantInEu1();
  const ns = namespaceOf(id);
  // Someone else's namespace by that name in us1.
  await admin('us1')
    .resource(nsRef)
    .create({ ...nsRef, metadata: { name: ns } });
  const before = { eu1: await count('eu1'), us1: await count('us1') };
  const answer = await placement('POST', `/tenants/${id}/move`, tokens.operator, { to: 'us1' });
  expect([answer.status, json(answer).error]).toEqual([502, 'provisioning-refused']);
  const doc = await record(id);
  expect([doc?.fields?.cell, doc?.fields?.moveStep]).toEqual([{ stringValue: 'eu1' }, undefined]);
  const source = (await find('eu1', nsRef, ns)) as KubeObject;
  expect(source.metadata?.labels?.['kubefn.dev/moving-to']).toBeUndefined();
  const foreign = (await find('us1', nsRef, ns)) as KubeObject;
  expect([
    foreign.metadata?.deletionTimestamp,
    foreign.metadata?.labels?.['kubefn.dev/customer'],
  ]).toEqual([undefined, undefined]);
  expect({ eu1: await count('eu1'), us1: await count('us1') }).toEqual(before);
  expect(await phaseIn('eu1', id)).toBe('Ready');
  // Cancelled, so the drain below does not meet it.
  const gone = await placement('DELETE', `/tenants/${id}?confirm=${id}`, tokens.signup);
  expect(gone.status).toBe(202);
}, 240_000);

test('bad move requests change nothing, and only operators may move', async () => {
  const id = await readyTenantInEu1();
  const cases: [string, unknown, number, string][] = [
    [tokens.operator, { to: 'nowhere' }, 400, 'unknown-cell'],
    [tokens.operator, { to: 'us1', extra: 1 }, 400, 'invalid-input'],
    [tokens.operator, {}, 400, 'invalid-input'],
    [tokens.signup, { to: 'us1' }, 403, ''],
  ];
  for (const [token, body, status, code] of cases) {
    const answer = await placement('POST', `/tenants/${id}/move`, token, body);
    expect([answer.status, code ? json(answer).error : ''], answer.body).toEqual([status, code]);
  }
  const stranger = await placement('POST', `/tenants/${id}/move`, '', { to: 'us1' });
  expect(stranger.status).toBe(401);
  const doc = await record(id);
  expect([doc?.fields?.cell, doc?.fields?.moveStep]).toEqual([{ stringValue: 'eu1' }, undefined]);
}, 240_000);

test('a move from the tenant-requests topic; a stale one changes nothing', async () => {
  const id = await readyTenantInEu1();
  const requestedAt = new Date().toISOString();
  const answer = await pushTenantRequest({
    action: 'move',
    customerId: id,
    requestedAt,
    to: 'us1',
  });
  expect([answer.status, json(answer).outcome], answer.body).toEqual([200, 'moved']);
  await movedWithHandSetValues(id);
  // An older move back, delivered late: stale.
  const older = new Date(Date.parse(requestedAt) - 60_000).toISOString();
  const stale = await pushTenantRequest({
    action: 'move',
    customerId: id,
    requestedAt: older,
    to: 'eu1',
  });
  expect([stale.status, json(stale).outcome]).toEqual([200, 'stale']);
  expect((await record(id))?.fields?.cell).toEqual({ stringValue: 'us1' });
  // Its outcome events, as the SaaS app reads them: requested and succeeded for the move, and
  // the stale one's requested only; placement is their source.
  const events = (await pullCloudEvents(`${outcomesTopic}-app`, 3, true)).filter(
    (e) => e.subject === `tenants/${id}`,
  );
  expect(events.map((e) => [e.type, e.source, e.id])).toEqual([
    [
      'dev.kubefn.tenant.requested',
      '//kubefn.dev/clusters/global/placement',
      `${id}/move/${requestedAt}/requested`,
    ],
    [
      'dev.kubefn.tenant.succeeded',
      '//kubefn.dev/clusters/global/placement',
      `${id}/move/${requestedAt}/succeeded`,
    ],
    [
      'dev.kubefn.tenant.requested',
      '//kubefn.dev/clusters/global/placement',
      `${id}/move/${older}/requested`,
    ],
  ]);
  expect(events[1]?.data).toMatchObject({
    action: 'move',
    from: 'eu1',
    to: 'us1',
    region: 'us-central1',
    removed: 'deleted',
  });
}, 240_000);

test('a drain moves every tenant off a cell, a bounded number per round, and takes no new ones', async () => {
  const ids = [await readyTenantInEu1(), await readyTenantInEu1(), await readyTenantInEu1()];
  const inEu1 = await count('eu1');
  const first = await placement('POST', '/cells/eu1/drain', tokens.operator, {
    limit: 2,
    to: 'us1',
  });
  expect(first.status, first.body).toBe(200);
  const round1 = json(first) as { moved: unknown[]; failed: unknown[]; left: number };
  expect([round1.moved.length, round1.failed, round1.left]).toEqual([2, [], inEu1 - 2]);
  // No new tenant in a cell being drained: europe-west1 has no other cell.
  const refused = await placement('POST', '/tenants', tokens.signup, {
    customerId: uniqueName('late'),
    plan: 'free',
    region: 'europe-west1',
  });
  expect([refused.status, json(refused).error]).toEqual([409, 'region-full']);
  const view = json(await placement('GET', '/cells', tokens.signup)) as {
    cells: { name: string; draining?: { to?: string } }[];
  };
  expect(view.cells.find((c) => c.name === 'eu1')?.draining?.to).toBe('us1');
  // Cloud Scheduler's rounds finish it.
  const scheduler = await mintToken(admin('eu1'), schedulerAccount, {
    audiences: [placementAudience],
  });
  const rounds = await placement('POST', '/resync', scheduler);
  expect(rounds.status, rounds.body).toBe(200);
  const [round2] = (json(rounds) as { rounds: { cell: string; left: number; done: boolean }[] })
    .rounds;
  expect(round2).toMatchObject({ cell: 'eu1', left: 0, done: true });
  expect(await count('eu1')).toBe(0);
  for (const id of ids) await movedWithHandSetValues(id);
  const stop = await placement('DELETE', '/cells/eu1/drain', tokens.operator);
  expect(stop.status).toBe(200);
}, 600_000);

function pushTenantRequest(data: object) {
  return placement('POST', '/pubsub/tenants', tokens.push, {
    subscription: 'projects/demo/subscriptions/kubefn-placement-tenant-requests',
    message: {
      messageId: uniqueName('m'),
      data: Buffer.from(JSON.stringify(data)).toString('base64'),
    },
  });
}
