// The event path over two real cells: one watcher per cell, each message naming its cell; each
// cell's provision subscribed through its own copy of the trigger (cellTrigger: the filter on
// the cluster attribute), so it takes only its own cell's changes; and with eu1's kube-apiserver
// down, a us1 tenant's deleted quota is still put back by us1 through the watcher and Pub/Sub.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type RunningCells, startCells } from '../../infra/local/cells.ts';
import { type ChangeFlow, startChangeFlow } from '../../infra/local/change-flow.ts';
import { provisionAudience } from '../../infra/local/deploy.ts';
import { mintToken, signupAccount } from '../../infra/local/identities.ts';
import { cellTrigger, triggers } from '../../infra/subscriptions.ts';
import { cellKube } from '../support/cell-kube.ts';
import { signUpTenant } from '../support/http.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { stack } from '../support/stack.ts';
import { cellApiserver } from '../support/stack-control.ts';

const names = ['eu1', 'us1'] as const;
type Name = (typeof names)[number];
const topic = uniqueName('cells-changes');
let cells: RunningCells;
const flows: ChangeFlow[] = [];
/** What each cell's subscription did with each message: [the message's cluster, status]. */
const answers: Record<Name, [string, number][]> = { eu1: [], us1: [] };

beforeAll(async () => {
  cells = await startCells(stack, [
    { name: 'eu1', region: 'europe-west1' },
    { name: 'us1', region: 'us-central1' },
  ]);
  for (const name of names) {
    const { admin, provision } = cells.cells[name] ?? {};
    const info = stack.cells[name];
    if (!admin || !provision || !info) throw new Error(`cell ${name} did not start`);
    const own = cellTrigger(triggers.provisionChanges, name);
    const flow = await startChangeFlow(admin, stack, {
      topic,
      cell: info,
      pushTo: [
        {
          subscription: `${topic}-${own.subscription}`,
          url: `${provision.url}${own.route}`,
          audience: provisionAudience,
          filter: own.filter,
          ordered: own.ordered,
          onAnswer: (status, attributes) => answers[name].push([attributes.cluster ?? '', status]),
        },
      ],
    });
    flows.push(flow);
  }
}, 180_000);

afterAll(async () => {
  await cellApiserver('eu1', 'start');
  for (const flow of flows) await flow.stop();
  await cells?.stop();
});

/** A new tenant straight at the cell's provision (placement is not what this file tests). */
async function tenantIn(name: Name): Promise<string> {
  const cell = cells.cells[name];
  if (!cell) throw new Error(name);
  const token = await mintToken(cell.admin, signupAccount, { audiences: [provisionAudience] });
  const id = uniqueName(name);
  await signUpTenant(cell.provision.url, token, id);
  return id;
}

async function deleteQuotaAndSeeItBack(name: Name, customerId: string): Promise<void> {
  const kube = cellKube(name);
  const path = `/api/v1/namespaces/tenant-${customerId}/resourcequotas`;
  const quota = ((await kube('GET', path)).body.items as { metadata: { name: string } }[])[0];
  const quotaName = quota?.metadata.name ?? '';
  expect((await kube('DELETE', `${path}/${quotaName}`)).status).toBe(200);
  await eventually(`${name}'s quota put back through its watcher and Pub/Sub`, 30_000, async () =>
    (await kube('GET', `${path}/${quotaName}`)).status === 200 ? true : undefined,
  );
}

test("each cell's watcher names its cell; each cell's provision takes only its own", async () => {
  const eu = await tenantIn('eu1');
  const us = await tenantIn('us1');
  await deleteQuotaAndSeeItBack('eu1', eu);
  await deleteQuotaAndSeeItBack('us1', us);
  for (const name of names) {
    const handled = answers[name].filter(([, status]) => status === 200);
    const others = answers[name].filter(([cluster]) => cluster !== name);
    // Both watchers publish to the one topic: a cell's subscription handles messages of its own
    // cell only, and its filter keeps every message of the other cell back (204).
    expect(handled.length, name).toBeGreaterThan(0);
    expect(new Set(handled.map(([cluster]) => cluster)), name).toEqual(new Set([name]));
    expect(others.length, name).toBeGreaterThan(0);
    expect(
      others.filter(([, status]) => status !== 204),
      name,
    ).toEqual([]);
  }
});

test("with eu1's kube-apiserver down, us1's watcher and provision still heal us1's tenants", async () => {
  const us = await tenantIn('us1');
  await cellApiserver('eu1', 'stop');
  try {
    await deleteQuotaAndSeeItBack('us1', us);
  } finally {
    await cellApiserver('eu1', 'start');
  }
});
