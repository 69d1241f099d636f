// A real browser (Debian's Chromium, headless, driven by Playwright's library) signs up through
// the page; the signup backend calls the provisioning function with its service-account token;
// the namespace becomes ready on the real kube-apiserver.
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { signupTokenFile, startSignupFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { uniqueName } from '../support/kube.ts';
import { type ProvisionFixture, startProvision } from '../support/provision.ts';

const chromiumPath = process.env.KUBEFN_CHROMIUM ?? '/usr/bin/chromium';
let admin: Cluster;
let provision: ProvisionFixture;
let signup: RunningFunction;
let browser: Browser;

beforeAll(async () => {
  admin = await adminCluster();
  provision = await startProvision(admin);
  signup = await startSignupFunction(stack, provision.fn.url, await signupTokenFile(admin, stack));
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // This machine's network is closed: keep Chromium from reaching out at all.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await signup?.stop();
  await provision?.fn.stop();
  await admin?.close();
});

test('clicking "Sign up" brings a namespace up, shown live on the page', async () => {
  const customerId = uniqueName('web');
  const page = await browser.newPage();
  await page.goto(signup.url);
  await page.fill('#customerId', customerId);
  await page.selectOption('#plan', 'pro');
  await page.click('#submit');
  await page
    .locator('#message', { hasText: 'Your namespace is ready.' })
    .waitFor({ timeout: 30_000 });
  expect(await page.textContent('#phase')).toBe('Ready');
  expect(await page.textContent('#namespace')).toBe(`tenant-${customerId}`);
  expect(await page.locator('#objects li').count()).toBe(10);
  await page.screenshot({
    path: `${process.env.KUBEFN_SCREENSHOTS ?? '/tmp'}/kubefn-signup.png`,
    fullPage: true,
  });

  const ns = await admin
    .resource({ apiVersion: 'v1', kind: 'Namespace' })
    .get(`tenant-${customerId}`);
  expect(ns.status).toMatchObject({ phase: 'Active' });
  expect(ns.metadata?.labels).toMatchObject({ 'kubefn.dev/plan': 'pro' });

  // Signing up again says so instead of failing (the final message, not a transient one).
  await page.click('#submit');
  await page
    .locator('#message', { hasText: 'Already signed up: your namespace is ready.' })
    .waitFor({ timeout: 10_000 });
  await page.close();
});

test('a bad customer id is refused with a clear message and creates nothing', async () => {
  const page = await browser.newPage();
  await page.goto(signup.url);
  // Past the form's own pattern check, straight to the backend, as a script could.
  const answer = await page.evaluate(async () => {
    const res = await fetch('/api/signup', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: 'Not_Valid', plan: 'free' }),
    });
    return { status: res.status, body: await res.json() };
  });
  expect(answer).toMatchObject({ status: 400, body: { error: 'invalid-input' } });
  const tenants = await admin
    .resource({ apiVersion: 'v1', kind: 'Namespace' })
    .list({ labelSelector: 'kubefn.dev/customer=Not_Valid' })
    .catch(() => ({ items: [] }));
  expect(tenants.items).toHaveLength(0);
  await page.close();
});
