// The sign-up page in a real browser: Debian's Chromium, headless, driven by Playwright's library,
// and a customer's account on the real Firebase Auth emulator, verified as its owner would.
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { uniqueEmail } from './customers.ts';
import { uniqueName } from './kube.ts';
import { stack } from './stack.ts';

const chromiumPath = process.env.KUBEFN_CHROMIUM ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
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
}

/** Waits until the page's message says `text`. */
export const message = (page: Page, text: string, timeout = 10_000) =>
  page.locator('#message', { hasText: text }).waitFor({ timeout });

/** The newest verification link the emulator "sent" to this address. */
async function verificationLink(email: string): Promise<string> {
  const res = await fetch(
    `http://${stack.authEmulatorHost}/emulator/v1/projects/${stack.authProject}/oobCodes`,
  );
  const { oobCodes } = (await res.json()) as { oobCodes: { email: string; oobLink: string }[] };
  const link = oobCodes.filter((c) => c.email === email).at(-1)?.oobLink;
  if (!link) throw new Error(`no verification email for ${email}`);
  return link;
}

/** Creates an account on the page and verifies it as its owner would: the link, then "verified". */
export async function createAccount(
  browser: Browser,
  page: Page,
  signupUrl: string,
  prefix: string,
): Promise<string> {
  const email = uniqueEmail(prefix);
  await page.goto(signupUrl);
  await page.fill('#email', email);
  await page.fill('#password', 'correct horse battery');
  await page.click('#create-account');
  await message(page, 'Account created.');
  expect(await page.isVisible('#verify')).toBe(true);
  // Before verifying, a sign-up is refused, with the code on the page.
  await page.fill('#customerId', uniqueName('early'));
  await page.click('#submit');
  await message(page, '(email-not-verified)');
  // The click started the request's trace; its id stays on the message (docs/tracing.md).
  expect(await page.getAttribute('#message', 'data-trace')).toMatch(/^[0-9a-f]{32}$/);

  const mail = await browser.newPage();
  await mail.goto(await verificationLink(email));
  expect(await mail.textContent('body')).toContain('successfully verified');
  await mail.close();
  await page.click('#verified');
  await message(page, 'Email verified.');
  expect(await page.isVisible('#verify')).toBe(false);
  return email;
}
