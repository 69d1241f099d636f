// The sign-up page over two cells, in real Chromium: the page offers the regions kubefn runs in
// (placement's), the customer picks one, and their tenant comes up in that region's cell and
// nowhere else; the page says the region, never the cell.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type RunningCells, startCells } from '../../infra/local/cells.ts';
import { placementAudience, startSignupFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { createAccount, launchChromium, message } from '../support/browser.ts';
import { cellKube } from '../support/cell-kube.ts';
import { uniqueName } from '../support/kube.ts';
import { stack } from '../support/stack.ts';

let cells: RunningCells;
let signup: RunningFunction;
let browser: Browser;

beforeAll(async () => {
  cells = await startCells(stack, [
    { name: 'eu1', region: 'europe-west1' },
    { name: 'us1', region: 'us-central1' },
  ]);
  signup = await startSignupFunction(stack, cells.placement.url, cells.signupTokenFile, {
    env: { KUBEFN_PROVISION_AUDIENCE: placementAudience },
  });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await signup?.stop();
  await cells?.stop();
});

test('the customer chooses a region; the tenant comes up in that cell, the page names the region', async () => {
  const page = await browser.newPage();
  await createAccount(browser, page, signup.url, 'regions');
  await page.locator('#region-choice').waitFor({ state: 'visible', timeout: 10_000 });
  expect(await page.locator('#region option').allTextContents()).toEqual([
    'europe-west1',
    'us-central1',
  ]);
  const customerId = uniqueName('web-us');
  await page.fill('#customerId', customerId);
  await page.selectOption('#region', 'us-central1');
  await page.click('#submit');
  await message(page, 'Your instance is ready.', 60_000);
  expect(await page.textContent('#where')).toBe(' in us-central1');
  await page
    .locator('#my-tenants', { hasText: `${customerId} (free, us-central1)` })
    .waitFor({ timeout: 5_000 });
  expect(await page.content()).not.toContain('us1');
  const ns = `/api/v1/namespaces/tenant-${customerId}`;
  expect([
    (await cellKube('us1')('GET', ns)).status,
    (await cellKube('eu1')('GET', ns)).status,
  ]).toEqual([200, 404]);
});
