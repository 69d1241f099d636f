// A real browser (Debian's Chromium, headless, driven by Playwright's library) signs a customer up
// on the page: an account on the real Firebase Auth emulator, the verification link opened, then
// "Sign up"; the signup backend checks the customer's ID token and calls the provisioning
// function with its service-account token; the namespace becomes ready on the real
// kube-apiserver. A second customer then cannot see or take the first one's tenant.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { signupTokenFile, startSignupFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { createAccount, launchChromium, message } from '../support/browser.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { uniqueName } from '../support/kube.ts';
import { type ProvisionFixture, startProvision } from '../support/provision.ts';

let admin: Cluster;
let provision: ProvisionFixture;
let signup: RunningFunction;
let browser: Browser;

beforeAll(async () => {
  admin = await adminCluster();
  provision = await startProvision(admin);
  signup = await startSignupFunction(stack, provision.fn.url, await signupTokenFile(admin, stack));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await signup?.stop();
  await provision?.fn.stop();
  await admin?.close();
});

const newAccount = (page: Page, prefix: string) => createAccount(browser, page, signup.url, prefix);

/** What the page's own script gets for a call with its session's token (or none). */
function fromPage(
  page: Page,
  path: string,
  init: { method?: string; body?: unknown; signedIn: boolean },
) {
  return page.evaluate(
    async ({ path, init }) => {
      const session = JSON.parse(
        (
          globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }
        ).sessionStorage.getItem('kubefn-session') || 'null',
      );
      const res = await fetch(path, {
        method: init.method ?? 'GET',
        headers: {
          'content-type': 'application/json',
          ...(init.signedIn && session ? { authorization: `Bearer ${session.idToken}` } : {}),
        },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
      return { status: res.status, body: await res.json() };
    },
    { path, init },
  );
}

test('a customer signs in, verifies, signs up; a second customer cannot see that tenant', async () => {
  const customerId = uniqueName('web');
  const page = await browser.newPage();

  // A stranger on the page, not signed in: refused, nothing created.
  await page.goto(signup.url);
  expect(
    await fromPage(page, '/api/signup', {
      method: 'POST',
      body: { customerId, plan: 'pro' },
      signedIn: false,
    }),
  ).toMatchObject({ status: 401, body: { error: 'unauthenticated' } });

  const email = await newAccount(page, 'web-first');
  expect(await page.textContent('#who')).toBe(email);
  await page.locator('#my-tenants', { hasText: 'none yet' }).waitFor({ timeout: 5_000 });
  // The page offers only what the account may have: free, no entitlement.
  expect(await page.locator('#plan option').allTextContents()).toEqual(['Free']);

  await page.fill('#customerId', customerId);
  // Every state the page shows, as it shows it: it must follow the tenant up by itself.
  await page.evaluate(`(() => {
    const shown = (window.shown = []);
    const phase = document.getElementById('phase');
    new MutationObserver(() => shown.push(phase.textContent)).observe(phase, {
      childList: true, characterData: true, subtree: true,
    });
  })()`);
  await page.click('#submit');
  await message(page, 'Your instance is ready.', 30_000);
  // Provisioning first (the workload's pod is scheduled and started on a simulated node after
  // the request returns), then Ready, with no reload: the page updated itself.
  const shown = (await page.evaluate('window.shown')) as string[];
  expect(shown[0]).toBe('Provisioning');
  expect(shown.at(-1)).toBe('Ready');
  expect(await page.textContent('#phase')).toBe('Ready');
  expect(
    await page
      .locator('#phases li')
      .evaluateAll((items) => items.map((i) => [i.getAttribute('data-phase'), i.className])),
  ).toEqual([
    ['accepted', 'reached'],
    ['namespace-active', 'reached'],
    ['policy-in-force', 'reached'],
    ['workload-available', 'reached'],
    ['reachable', 'reached'],
  ]);
  expect(await page.textContent('#elapsed')).toMatch(/^\(under \d+ s from the click\)$/);
  // The Deployment's pod runs on a simulated node.
  const pods = await admin
    .resource({ apiVersion: 'v1', kind: 'Pod' })
    .list({ namespace: `tenant-${customerId}` });
  expect(pods.items.map((p) => (p.spec as { nodeName?: string }).nodeName)).toEqual([
    expect.stringMatching(/^kwok-node-/),
  ]);
  expect(await page.textContent('#namespace')).toBe(`tenant-${customerId}`);
  expect(await page.locator('#objects li').count()).toBe(10);
  await page
    .locator('#my-tenants', { hasText: `${customerId} (free)` })
    .waitFor({ timeout: 5_000 });
  await page.screenshot({
    path: `${process.env.KUBEFN_SCREENSHOTS ?? '/tmp'}/kubefn-signup.png`,
    fullPage: true,
  });

  const ns = await admin
    .resource({ apiVersion: 'v1', kind: 'Namespace' })
    .get(`tenant-${customerId}`);
  expect(ns.status).toMatchObject({ phase: 'Active' });
  expect(ns.metadata?.labels).toMatchObject({ 'kubefn.dev/plan': 'free' });
  const owner = ns.metadata?.labels?.['kubefn.dev/owner'];
  expect(owner).toMatch(/^[A-Za-z0-9]{20,}$/);

  // Signing up again says so instead of failing (the final message, not a transient one).
  await page.click('#submit');
  await message(page, 'Already signed up: your instance is ready.');

  // A second tenant is beyond the free plan: refused with its code.
  await page.fill('#customerId', uniqueName('web-more'));
  await page.click('#submit');
  await message(page, '(tenant-limit)');

  // Another customer on the same page.
  await page.click('#sign-out');
  await message(page, 'Signed out.');
  await newAccount(page, 'web-second');
  await page.locator('#my-tenants', { hasText: 'none yet' }).waitFor({ timeout: 5_000 });
  await page.fill('#customerId', customerId);
  await page.click('#submit');
  await message(page, '(namespace-taken)');
  expect(await fromPage(page, `/api/tenants/${customerId}`, { signedIn: true })).toEqual({
    status: 404,
    body: { error: 'no-such-tenant', message: `there is no tenant ${customerId}` },
  });
  await page.locator('#my-tenants', { hasText: 'none yet' }).waitFor({ timeout: 5_000 });
  // The first tenant is as it was: still the first customer's.
  const after = await admin
    .resource({ apiVersion: 'v1', kind: 'Namespace' })
    .get(`tenant-${customerId}`);
  expect(after.metadata?.labels?.['kubefn.dev/owner']).toBe(owner);
  await page.close();
});

test('a bad customer id is refused with a clear message and creates nothing', async () => {
  const page = await browser.newPage();
  await newAccount(page, 'web-bad-id');
  const namespaces = admin.resource({ apiVersion: 'v1', kind: 'Namespace' });
  const names = async () => (await namespaces.list()).items.map((n) => n.metadata?.name).sort();
  const before = await names();
  // Past the form's own pattern check, straight to the backend, as a script could.
  const answer = await fromPage(page, '/api/signup', {
    method: 'POST',
    body: { customerId: 'Not_Valid', plan: 'free' },
    signedIn: true,
  });
  expect(answer).toMatchObject({ status: 400, body: { error: 'invalid-input' } });
  // No namespace for it under any spelling (tests in other files may create their own meanwhile).
  const created = (await names()).filter((name) => !before.includes(name));
  expect(created.filter((name) => /not.?valid/i.test(name ?? ''))).toEqual([]);
  await page.close();
});
