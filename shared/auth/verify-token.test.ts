// Clock-skew and age bounds with time frozen, on the claims-only (platform-verified) path and on
// the signature-checking path, with a local key set.
import { createLocalJWKSet, SignJWT } from 'jose';
import { beforeAll, describe, expect, test } from 'vitest';
import { AuthError } from './errors.ts';
import { googleIssuer, signingKey } from './issuer.fixture.ts';
import type { TrustedIssuer } from './issuers.ts';
import { verifyToken } from './verify-token.ts';

const now = 1_800_000_000;
const audience = 'https://fn.example/push';
let issuer: TrustedIssuer;
let sign: (claims: Record<string, unknown>) => Promise<string>;

beforeAll(async () => {
  const { jwk, privateKey } = await signingKey();
  issuer = googleIssuer(createLocalJWKSet({ keys: [jwk] }));
  sign = (claims) =>
    new SignJWT({
      iss: 'https://accounts.google.com',
      aud: audience,
      email: 'a@b',
      iat: now - 10,
      exp: now + 600,
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(privateKey);
});

const cases = [
  { what: 'fresh', claims: {}, code: undefined },
  { what: 'expired 20 s ago (inside 30 s skew)', claims: { exp: now - 20 }, code: undefined },
  { what: 'expired 40 s ago', claims: { exp: now - 40 }, code: 'expired' },
  { what: 'valid from 20 s on (inside skew)', claims: { nbf: now + 20 }, code: undefined },
  { what: 'valid from 40 s on', claims: { nbf: now + 40 }, code: 'not-yet-valid' },
  { what: 'issued 61 minutes ago', claims: { iat: now - 3660 }, code: 'too-old' },
  { what: 'issued in 40 s', claims: { iat: now + 40 }, code: 'not-yet-valid' },
  { what: 'for another audience', claims: { aud: 'https://other' }, code: 'wrong-audience' },
  { what: 'a list of only the audience', claims: { aud: [audience] }, code: undefined },
  {
    what: 'one of several audiences',
    claims: { aud: ['https://other', audience] },
    code: 'wrong-audience',
  },
  {
    what: 'the audience twice',
    claims: { aud: [audience, audience] },
    code: 'wrong-audience',
  },
] as const;

describe.each([
  { path: 'signature checked', platformVerified: false, strip: false },
  { path: 'platform-verified', platformVerified: true, strip: true },
])('$path', ({ platformVerified, strip }) => {
  test.each(cases)('$what -> $code', async ({ claims, code }) => {
    let token = await sign(claims);
    if (strip) token = `${token.split('.').slice(0, 2).join('.')}.SIGNATURE_REMOVED_BY_GOOGLE`;
    const result = await verifyToken(`Bearer ${token}`, {
      audience,
      issuers: [issuer],
      platformVerified,
      now: () => now,
    }).then(
      (principal) => principal.id,
      (error: unknown) => (error instanceof AuthError ? error.code : error),
    );
    expect(result).toBe(code ?? 'a@b');
  });
});

test.each([
  [
    'two credentials, joined as Node and Fetch join repeated headers',
    (t: string) => `Bearer ${t}, Bearer ${t}`,
  ],
  ['a credential and garbage', (t: string) => `Bearer ${t}, x`],
  ['two tokens without a space', (t: string) => `Bearer ${t},${t}`],
])('%s -> ambiguous', async (_what, header) => {
  const token = await sign({});
  const result = await verifyToken(header(token), {
    audience,
    issuers: [issuer],
    now: () => now,
  }).catch((error: unknown) => (error instanceof AuthError ? error.code : error));
  expect(result).toBe('ambiguous');
});
