// requireCaller keeps the tokens it accepted for a minute (never past exp or the age limit), by
// their exact text: counted here by how often the issuer's key set is asked for a key.
import { Hono } from 'hono';
import { createLocalJWKSet, type JWTVerifyGetKey, SignJWT } from 'jose';
import { beforeAll, expect, test } from 'vitest';
import { googleIssuer, signingKey } from '../auth/issuer.fixture.ts';
import type { TrustedIssuer } from '../auth/issuers.ts';
import { requireCaller } from './require-caller.ts';

const audience = 'https://fn.example/';
const start = 1_800_000_000;
let clock = start;
let lookups = 0;
let issuer: TrustedIssuer;
let sign: (claims: Record<string, unknown>) => Promise<string>;

beforeAll(async () => {
  const { jwk, privateKey } = await signingKey();
  const local = createLocalJWKSet({ keys: [jwk] });
  const keys: JWTVerifyGetKey = (header, token) => {
    lookups++;
    return local(header, token);
  };
  issuer = googleIssuer(keys);
  sign = (claims) =>
    new SignJWT({
      iss: 'https://accounts.google.com',
      aud: audience,
      iat: start,
      exp: start + 600,
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(privateKey);
});

function app(allow: string[]) {
  const served = new Hono();
  const rule = { audience, issuers: [issuer], allow, now: () => clock, log: () => {} };
  served.use(requireCaller(rule));
  served.get('/', (c) => c.text('ok'));
  return async (token: string) =>
    (await served.request('/', { headers: { authorization: `Bearer ${token}` } })).status;
}

test('an accepted token is verified once a minute at most, and never past its exp', async () => {
  const call = app(['a@b']);
  const token = await sign({ email: 'a@b', exp: start + 90 });
  clock = start;
  lookups = 0;
  expect(await call(token)).toBe(200);
  clock = start + 59;
  expect(await call(token)).toBe(200);
  expect(lookups).toBe(1);
  clock = start + 61; // a minute on: verified again
  expect(await call(token)).toBe(200);
  expect(lookups).toBe(2);
  clock = start + 125; // 35 s past exp (beyond the 30 s tolerance): refused, though seen 64 s ago
  expect(await call(token)).toBe(401);
});

test('a refused token is verified each time; the allow-list is checked on every request', async () => {
  clock = start;
  const refused = await sign({ email: 'a@b', aud: 'https://other/' });
  const call = app(['a@b']);
  lookups = 0;
  expect(await call(refused)).toBe(401);
  expect(await call(refused)).toBe(401);
  expect(lookups).toBe(2);
  const stranger = await sign({ email: 'c@d' });
  expect(await call(stranger)).toBe(403);
  expect(await call(stranger)).toBe(403);
  expect(lookups).toBe(3);
});

test('a token past its age limit is not kept beyond it', async () => {
  clock = start + 3590; // issued at start: ten seconds left of its hour
  const token = await sign({ email: 'a@b', exp: start + 7200 });
  const call = app(['a@b']);
  lookups = 0;
  expect(await call(token)).toBe(200);
  clock = start + 3600 + 31;
  expect(await call(token)).toBe(401);
  expect(lookups).toBe(2);
});
