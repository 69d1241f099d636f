// The operator console over two real cells, in real Chromium: an operator signs in with Google
// (the Auth emulator's Google provider, through the same accounts:signInWithIdp call a real
// Google ID token goes through), sees a tenant of us1 with its phase, cell, time to ready and the
// repair self-healing made (us1's real watcher, Pub/Sub and provision), its heal latency and time
// to ready plotted, the tenant outcomes live, replays a dead letter, and approves the tenant's
// held deletion (a deletion budget of 0: every deletion held), which us1 then does; the action is
// in the console's log with the operator's email. A stranger (a Google account not on the list)
// and a signed-in customer (their real session from the sign-up page) are refused, with nothing
// of kubefn shown; without a token every API route answers 401.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type LocalCell, type RunningCells, startCells } from '../../infra/local/cells.ts';
import { type ChangeFlow, startChangeFlow } from '../../infra/local/change-flow.ts';
import { consoleAccount, consolePrincipal, startConsole } from '../../infra/local/console.ts';
import {
  placementAudience,
  provisionAudience,
  startSignupFunction,
} from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { mintToken, operatorAccount } from '../../infra/local/identities.ts';
import { cellTrigger, topics, triggers } from '../../infra/subscriptions.ts';
import { createAccount, launchChromium } from '../support/browser.ts';
import { cellKube } from '../support/cell-kube.ts';
import { uniqueEmail } from '../support/customers.ts';
import { httpRequest, signUpTenant } from '../support/http.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { pubsub, topicPath } from '../support/pubsub.ts';
import { stack } from '../support/stack.ts';

const localCells: LocalCell[] = [
  { name: 'eu1', region: 'europe-west1' },
  { name: 'us1', region: 'us-central1' },
];
const operatorEmail = uniqueEmail('ops');
let cells: RunningCells;
let flow: ChangeFlow;
let consoleFn: RunningFunction;
let signup: RunningFunction;
let browser: Browser;
let signupToken: string;

beforeAll(async () => {
  cells = await startCells(stack, localCells, {
    provisionEnv: {
      KUBEFN_ALLOW_OPERATOR: consolePrincipal,
      // Every deletion held, for an operator to decide.
      KUBEFN_DELETION_BUDGET: '0/1h',
      KUBEFN_OUTCOMES_TOPIC: topics.tenantOutcomes,
      PUBSUB_EMULATOR_HOST: stack.pubsubEmulatorHost,
      PUBSUB_PROJECT_ID: stack.pubsubProject,
    },
  });
  signupToken = (await readFile(cells.signupTokenFile, 'utf8')).trim();
  consoleFn = await startConsole(stack, cells, localCells, { operators: [operatorEmail] });
  // us1's watcher on the changes topic, and us1's provision healing from its own subscription.
  const us1 = cells.cells.us1;
  const info = stack.cells.us1;
  if (!us1 || !info) throw new Error('us1 did not start');
  const own = cellTrigger(triggers.provisionChanges, 'us1');
  flow = await startChangeFlow(us1.admin, stack, {
    topic: topics.changes,
    cell: info,
    watcherName: uniqueName('console-watcher'),
    pushTo: [
      {
        subscription: uniqueName('console-heal'),
        url: `${us1.provision.url}${own.route}`,
        audience: provisionAudience,
        filter: own.filter,
        ordered: own.ordered,
      },
    ],
  });
  signup = await startSignupFunction(stack, cells.placement.url, cells.signupTokenFile, {
    env: { KUBEFN_PROVISION_AUDIENCE: placementAudience },
  });
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await signup?.stop();
  await flow?.stop();
  await consoleFn?.stop();
  await cells?.stop();
});

async function signInWithGoogle(page: Page, email: string): Promise<void> {
  await page.goto(consoleFn.url);
  await page.fill('#google-email', email);
  await page.click('#google-sign-in');
}

const refusedOnPage = async (page: Page) => {
  await page
    .locator('#message', { hasText: 'this console is for kubefn operators only (not-allowed)' })
    .waitFor({ timeout: 10_000 });
  expect(await page.isVisible('#console')).toBe(false);
  expect(await page.locator('#tenants tr').count()).toBe(0);
};

test('without a token, every API route answers 401 and the page holds no data', async () => {
  for (const path of [
    '/api/me',
    '/api/tenants',
    '/api/deletions',
    '/api/dead-letters',
    '/api/stream',
  ]) {
    const res = await fetch(`${consoleFn.url}${path}`);
    expect(res.status, path).toBe(401);
  }
  const res = await fetch(`${consoleFn.url}/api/deletions/approve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ cell: 'us1', customerIds: ['anyone'] }),
  });
  expect(res.status).toBe(401);
});

test('a stranger signed in with Google, not on the list, is refused and shown nothing', async () => {
  const page = await browser.newPage();
  await signInWithGoogle(page, uniqueEmail('stranger'));
  await refusedOnPage(page);
  await page.close();
});

test("a signed-in customer's session is refused by the console", async () => {
  const page = await browser.newPage();
  await createAccount(browser, page, signup.url, 'console-customer');
  const session = await page.evaluate("sessionStorage.getItem('kubefn-session')");
  expect(session).toBeTruthy();
  const consolePage = await browser.newPage();
  await consolePage.goto(consoleFn.url);
  // The page's own session store: a customer who signed in on the sign-up page brings it here.
  await consolePage.evaluate(
    `sessionStorage.setItem('kubefn-console-session', ${JSON.stringify(session)})`,
  );
  await consolePage.reload();
  await refusedOnPage(consolePage);
  await page.close();
  await consolePage.close();
});

test('an operator sees a tenant with its phase, cell, time to ready and last repair, replays a dead letter, and approves its held deletion', async () => {
  const customerId = uniqueName('ops-us');
  await signUpTenant(cells.placement.url, signupToken, customerId, { region: 'us-central1' });
  const status = async () =>
    JSON.parse(
      (await httpRequest(`${cells.placement.url}/tenants/${customerId}`, signupToken, 'GET')).body,
    ) as { phase: string };
  await eventually('the tenant Ready', 60_000, async () =>
    (await status()).phase === 'Ready' ? true : undefined,
  );

  // Self-healing: its quota deleted, put back by us1 through the watcher and Pub/Sub.
  const kube = cellKube('us1');
  const quotas = `/api/v1/namespaces/tenant-${customerId}/resourcequotas`;
  const quota = ((await kube('GET', quotas)).body.items as { metadata: { name: string } }[])[0]
    ?.metadata.name;
  expect((await kube('DELETE', `${quotas}/${quota}`)).status).toBe(200);
  await eventually('the quota put back and the repair recorded', 30_000, async () => {
    const ns = await kube('GET', `/api/v1/namespaces/tenant-${customerId}`);
    const metadata = ns.body.metadata as { annotations?: Record<string, string> } | undefined;
    return metadata?.annotations?.['kubefn.dev/last-repair'] ? true : undefined;
  });

  // A dead letter, as Pub/Sub moves one there (its attributes), from us1's label requests.
  const probe = uniqueName('console-replayed');
  await pubsub('PUT', `topics/${topics.labelRequests}`);
  expect(
    (await pubsub('PUT', `subscriptions/${probe}`, { topic: topicPath(topics.labelRequests) }))
      .status,
  ).toBe(200);
  const published = await pubsub('POST', `topics/${topics.deadLetter}:publish`, {
    messages: [
      {
        data: Buffer.from('{"probe":true}').toString('base64'),
        attributes: {
          probe,
          CloudPubSubDeadLetterSourceSubscription: 'kubefn-label-requests-us1',
          CloudPubSubDeadLetterSourceDeliveryCount: '5',
        },
      },
    ],
  });
  const deadId = (published.body.messageIds as string[])[0] ?? '';

  const page = await browser.newPage();
  page.on('dialog', (dialog) => void dialog.accept());
  await signInWithGoogle(page, operatorEmail);
  await page.locator('#console').waitFor({ state: 'visible', timeout: 15_000 });
  expect(await page.textContent('#who')).toBe(operatorEmail.toLowerCase());

  // Searchable: only this tenant's row, with its phase, cell, time to ready and last repair.
  await page.fill('#search', customerId);
  // The list loaded at sign-in has the row too: wait for the search's own answer.
  await page.locator(`#tenants[data-query="${customerId}"]`).waitFor({ timeout: 10_000 });
  const row = page.locator(`#tenants tr[data-tenant="${customerId}"]`);
  await row.waitFor({ timeout: 10_000 });
  expect(await page.locator('#tenants tr').count()).toBe(1);
  const cellsText = await row.locator('td').allTextContents();
  expect(cellsText[1]).toBe('Ready');
  expect(cellsText[2]).toBe('free');
  expect(cellsText[4]).toBe('us1');
  expect(cellsText[5]).toMatch(/^\d+(\.\d)? s$/);
  expect(cellsText[6]).toMatch(/^ResourceQuota\/\S+ missing \(heal, \d+(\.\d)? s\)/);
  expect(Number(await page.getAttribute('#plot-ready', 'data-points'))).toBeGreaterThanOrEqual(1);
  expect(Number(await page.getAttribute('#plot-heal', 'data-points'))).toBeGreaterThanOrEqual(1);
  await page.locator('#plot-heal circle', { hasText: customerId }).waitFor({ state: 'attached' });

  // Live: the tenant's outcome events, pulled by the console as provision published them.
  await page
    .locator('#stream li[data-kind="outcome"]', {
      hasText: `dev.kubefn.tenant.succeeded tenants/${customerId}`,
    })
    .waitFor({ timeout: 20_000 });

  // The dead letter, replayed to its source topic, and gone from the list.
  const dead = page.locator('#dead-letters tr', { hasText: deadId });
  await dead.waitFor({ timeout: 10_000 });
  await dead.locator('button').click();
  await page.locator('#message', { hasText: `${deadId}: replayed` }).waitFor({ timeout: 15_000 });
  const pulled = await pubsub('POST', `subscriptions/${probe}:pull`, {
    maxMessages: 10,
    returnImmediately: true,
  });
  const replayed = (pulled.body.receivedMessages ?? []) as {
    message: { attributes: Record<string, string> };
  }[];
  expect(replayed.map((m) => m.message.attributes)).toEqual([{ probe }]);

  // Its deletion is held (budget 0); the operator approves it; us1 deletes the namespace.
  const held = await httpRequest(
    `${cells.placement.url}/tenants/${customerId}?confirm=${customerId}`,
    signupToken,
    'DELETE',
  );
  expect(held.status).toBe(429);
  await page.reload();
  const heldRow = page.locator(`#held tr[data-tenant="${customerId}"]`);
  await heldRow.waitFor({ timeout: 15_000 });
  expect(await heldRow.locator('td').nth(1).textContent()).toBe('us1');
  await heldRow.locator('button[data-decision="approve"]').click();
  await page
    .locator('#message', { hasText: `${customerId}: deleted` })
    .waitFor({ timeout: 15_000 });
  const ns = await kube('GET', `/api/v1/namespaces/tenant-${customerId}`);
  expect(
    ns.status === 404 ||
      Boolean((ns.body.metadata as { deletionTimestamp?: string } | undefined)?.deletionTimestamp),
  ).toBe(true);

  // One audit line for the approval, naming the operator.
  const log = await readFile(join(stack.dir, 'function-console.log'), 'utf8');
  const audits = log
    .split('\n')
    .filter((line) => line.includes('"operator action"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(audits).toContainEqual(
    expect.objectContaining({
      operator: operatorEmail.toLowerCase(),
      action: 'deletions.approve',
      cell: 'us1',
      customerIds: [customerId],
      status: 200,
    }),
  );
  expect(audits).toContainEqual(
    expect.objectContaining({
      operator: operatorEmail.toLowerCase(),
      action: 'dead-letters.replay',
      messageIds: [deadId],
    }),
  );
  await page.close();
});

test('a tenant moved to another cell: its row names the cell it is in and the one it came from', async () => {
  const customerId = uniqueName('ops-moved');
  await signUpTenant(cells.placement.url, signupToken, customerId, { region: 'europe-west1' });
  const eu1 = cells.cells.eu1?.admin;
  if (!eu1) throw new Error('eu1 did not start');
  // An operator's move, through placement (its KUBEFN_ALLOW_OPERATOR).
  const operator = await mintToken(eu1, operatorAccount, { audiences: [placementAudience] });
  const moved = await eventually('the tenant moved to us1', 90_000, async () => {
    const answer = await httpRequest(
      `${cells.placement.url}/tenants/${customerId}/move`,
      operator,
      'POST',
      JSON.stringify({ to: 'us1' }),
    );
    // 503 move-not-ready while the sign-up is still coming up in eu1: asked again.
    return answer.status === 503 ? undefined : answer;
  });
  expect(moved.status, moved.body).toBe(200);

  const page = await browser.newPage();
  await signInWithGoogle(page, operatorEmail);
  await page.locator('#console').waitFor({ state: 'visible', timeout: 15_000 });
  await page.fill('#search', customerId);
  await page.locator(`#tenants[data-query="${customerId}"]`).waitFor({ timeout: 10_000 });
  // us1's row (eu1's copy is still listed: its deletion is held, as every deletion here).
  const row = page.locator(`#tenants tr[data-tenant="${customerId}"]`, {
    hasText: 'moved from eu1',
  });
  await row.waitFor({ timeout: 30_000 });
  expect((await row.locator('td').allTextContents())[4]).toBe('us1 (moved from eu1)');
  await page.close();
  // eu1's held copy deleted, as an operator would approve it (the console's own account).
  const consoleToken = await mintToken(eu1, consoleAccount, { audiences: [provisionAudience] });
  const approved = await httpRequest(
    `${cells.cells.eu1?.provision.url}/deletions/approve`,
    consoleToken,
    'POST',
    JSON.stringify({ customerIds: [customerId] }),
  );
  expect(approved.status, approved.body).toBe(200);
});
