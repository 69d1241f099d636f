// Customers' ID tokens, with time frozen: signed ones against a local key set (the published
// keys' stand-in), and the Auth emulator's unsigned ones, each through both verifiers.
import { createLocalJWKSet, SignJWT, UnsecuredJWT } from 'jose';
import { beforeAll, describe, expect, test } from 'vitest';
import { AuthError } from './errors.ts';
import {
  type Customer,
  identityPlatformIssuer,
  identityPlatformIssuerName,
  verifyCustomerToken,
} from './identity-platform.ts';
import { signingKey } from './issuer.fixture.ts';
import type { TrustedIssuer } from './issuers.ts';

const now = 1_800_000_000;
const projectId = 'demo-kubefn';
const uid = 'Uf3kQ9w2bXc7RkLmP0aZ1yT4vN8s';
let issuer: TrustedIssuer;
let signed: (claims: Record<string, unknown>, kid?: string) => Promise<string>;
let otherKey: (claims: Record<string, unknown>) => Promise<string>;

const claims = (extra: Record<string, unknown>) => ({
  iss: identityPlatformIssuerName(projectId),
  aud: projectId,
  sub: uid,
  user_id: uid,
  email: 'ada@example.com',
  email_verified: true,
  auth_time: now - 100,
  iat: now - 10,
  exp: now + 3590,
  firebase: { sign_in_provider: 'password' },
  ...extra,
});
// UnsecuredJWT writes exactly what the emulator sends: {"alg":"none"}, the claims, no signature.
const unsigned = (extra: Record<string, unknown>) => new UnsecuredJWT(claims(extra)).encode();

beforeAll(async () => {
  const key = await signingKey();
  const other = await signingKey();
  issuer = identityPlatformIssuer({ projectId, keys: createLocalJWKSet({ keys: [key.jwk] }) });
  signed = (extra, kid = 'k1') =>
    new SignJWT(claims(extra)).setProtectedHeader({ alg: 'RS256', kid }).sign(key.privateKey);
  otherKey = (extra) =>
    new SignJWT(claims(extra))
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(other.privateKey);
});

async function outcome(
  token: string | undefined,
  emulator: boolean,
): Promise<string | Partial<Customer>> {
  return verifyCustomerToken(token === undefined ? undefined : `Bearer ${token}`, {
    projectId,
    issuer,
    emulator,
    now: () => now,
  }).then(
    (customer) => customer,
    (error: unknown) => (error instanceof AuthError ? error.code : String(error)),
  );
}

// Each case: the token's changes, and the code (or undefined: accepted).
const claimCases = [
  { what: 'a fresh token', extra: {}, code: undefined },
  { what: 'another project (aud)', extra: { aud: 'demo-other' }, code: 'wrong-audience' },
  {
    what: 'another project (iss and aud)',
    extra: { iss: identityPlatformIssuerName('demo-other'), aud: 'demo-other' },
    code: 'untrusted-issuer',
  },
  {
    what: 'a Google service-account token',
    extra: { iss: 'https://accounts.google.com' },
    code: 'untrusted-issuer',
  },
  {
    what: 'the project among other audiences',
    extra: { aud: [projectId, 'demo-other'] },
    code: 'wrong-audience',
  },
  { what: 'expired a minute ago', extra: { exp: now - 60 }, code: 'expired' },
  { what: 'issued 2 hours ago', extra: { iat: now - 7200, exp: now + 60 }, code: 'too-old' },
  { what: 'issued in the future', extra: { iat: now + 120 }, code: 'not-yet-valid' },
  { what: 'signed in in the future', extra: { auth_time: now + 120 }, code: 'not-yet-valid' },
  { what: 'no auth_time', extra: { auth_time: undefined }, code: 'bad-claims' },
  { what: 'an empty sub', extra: { sub: '' }, code: 'bad-claims' },
  { what: 'a sub of 129 characters', extra: { sub: 'a'.repeat(129) }, code: 'bad-claims' },
] as const;

describe.each([
  { path: 'signed (production)', emulator: false },
  { path: 'unsigned (emulator)', emulator: true },
])('$path', ({ emulator }) => {
  test.each(claimCases)('$what -> $code', async ({ extra, code }) => {
    const token = emulator ? unsigned(extra) : await signed(extra);
    const result = await outcome(token, emulator);
    if (code) expect(result).toBe(code);
    else expect(result).toMatchObject({ kind: 'customer', id: uid, emailVerified: true });
  });

  test('no token, or not a bearer JWT: 401 codes', async () => {
    expect(await outcome(undefined, emulator)).toBe('missing');
    expect(
      await verifyCustomerToken('Basic abc', { projectId, issuer, emulator, now: () => now }).catch(
        (error: AuthError) => error.code,
      ),
    ).toMatch(/malformed|alg-not-allowed/);
  });
});

test('production refuses an unsigned (emulator) token', async () => {
  expect(await outcome(unsigned({}), false)).toBe('alg-not-allowed');
});

test('the emulator mode refuses a signed token: it takes the emulator’s only', async () => {
  expect(await outcome(await signed({}), true)).toBe('alg-not-allowed');
});

test('production refuses a token signed by another key, or naming an unknown key', async () => {
  expect(await outcome(await otherKey({}), false)).toBe('bad-signature');
  expect(await outcome(await signed({}, 'k2'), false)).toBe('unknown-key');
});

test.each([
  [{ email_verified: false }, { emailVerified: false }],
  [
    { email: undefined, email_verified: true },
    { emailVerified: false, email: undefined },
  ],
  [{ kubefnPlan: 'pro' }, { entitlement: 'pro' }],
  [{ kubefnPlan: ['pro'] }, { entitlement: undefined }],
  [{ kubefnPlan: 'Pro Plan!' }, { entitlement: undefined }],
  [{}, { entitlement: undefined }],
])('claims %o read as %o', async (extra, expected) => {
  expect(await outcome(await signed(extra), false)).toMatchObject(expected);
});
