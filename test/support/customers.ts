// Customers of the SaaS on the stack's real Firebase Authentication emulator, through its REST
// API as a browser (Identity Toolkit) and as the SaaS's back office (the emulator's admin token
// "owner", custom claims) would use it; the verification link read from the emulator's own list
// of sent emails.
import { stack } from './stack.ts';

const base = `http://${stack.authEmulatorHost}`;
const apiKey = 'emulator-api-key';

export type TestCustomer = { uid: string; email: string; password: string; idToken: string };

async function call<T>(path: string, body: unknown, admin = false): Promise<T> {
  const res = await fetch(`${base}/identitytoolkit.googleapis.com/v1/${path}?key=${apiKey}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(admin ? { authorization: 'Bearer owner' } : {}),
    },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as T & { error?: { message?: string } };
  if (!res.ok) throw new Error(`auth emulator ${path}: ${answer.error?.message ?? res.status}`);
  return answer;
}

/** A unique email for one test's customer. */
export const uniqueEmail = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}@example.com`;

/** Signs in with email and password: a fresh ID token with the account's current claims. */
export async function signIn(email: string, password: string): Promise<string> {
  const answer = await call<{ idToken: string }>('accounts:signInWithPassword', {
    email,
    password,
    returnSecureToken: true,
  });
  return answer.idToken;
}

/** Opens the newest verification link the emulator "sent" to this address, as its owner would. */
export async function openVerificationLink(email: string): Promise<void> {
  const res = await fetch(`${base}/emulator/v1/projects/${stack.authProject}/oobCodes`);
  const { oobCodes } = (await res.json()) as {
    oobCodes: { email: string; requestType: string; oobLink: string }[];
  };
  const link = oobCodes.filter((c) => c.email === email && c.requestType === 'VERIFY_EMAIL').at(-1);
  if (!link) throw new Error(`no verification email for ${email}`);
  const opened = await fetch(link.oobLink);
  if (!opened.ok) throw new Error(`verification link answered ${opened.status}`);
}

/**
 * A new account: signed up, its email verified unless `verified` is false, and the SaaS's
 * entitlement set as the kubefnPlan custom claim when `entitlement` is given.
 */
export async function newCustomer(
  prefix: string,
  options: { verified?: boolean; entitlement?: string } = {},
): Promise<TestCustomer> {
  const email = uniqueEmail(prefix);
  const password = 'correct horse battery';
  const created = await call<{ localId: string; idToken: string }>('accounts:signUp', {
    email,
    password,
    returnSecureToken: true,
  });
  if (options.verified !== false) {
    await call('accounts:sendOobCode', { requestType: 'VERIFY_EMAIL', idToken: created.idToken });
    await openVerificationLink(email);
  }
  if (options.entitlement) {
    await call(
      `projects/${stack.authProject}/accounts:update`,
      {
        localId: created.localId,
        customAttributes: JSON.stringify({ kubefnPlan: options.entitlement }),
      },
      true,
    );
  }
  return { uid: created.localId, email, password, idToken: await signIn(email, password) };
}
