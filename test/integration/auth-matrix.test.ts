// Every kind of bad token against a real endpoint (a Hono app with shared/auth on 127.0.0.1)
// whose handler changes the real cluster: each gets the right 401 or 403, and nothing changes.
// Kubernetes tokens come from the real TokenRequest API; Google-style tokens are signed by the
// fake Google keys (test/support/fakes/google.ts).
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { googleIssuer, kubernetesIssuer, type TrustedIssuer } from '../../shared/auth/index.ts';
import { asHttpFunction } from '../../shared/http/functions-framework.ts';
import { type AuthVariables, requireCaller } from '../../shared/http/require-caller.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import type { LogFields } from '../../shared/log.ts';
import {
  closeTestNamespace,
  openTestNamespace,
  serviceAccountToken,
  tokenCluster,
} from '../support/cluster.ts';
import { type FakeGoogle, googleIssuerUrl, startFakeGoogle } from '../support/fakes/google.ts';

const audience = 'https://kubefn.test/provision';
const pusher = 'pusher@kubefn-test.iam.gserviceaccount.com';
let cluster: Cluster;
let ns: string;
let google: FakeGoogle;
let base: string;
let close: () => void;
const logs: (LogFields & { message: string })[] = [];
const tokens: Record<string, string> = {};

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const googleClaims = (overrides: Record<string, unknown> = {}) => ({
  iss: googleIssuerUrl,
  aud: audience,
  sub: '1234567890',
  azp: '1234567890',
  email: pusher,
  email_verified: true,
  iat: now() - 60,
  exp: now() + 3000,
  ...overrides,
});

beforeAll(async () => {
  ({ cluster, ns } = await openTestNamespace('auth'));
  google = await startFakeGoogle();
  const sa = cluster.resource({ apiVersion: 'v1', kind: 'ServiceAccount' });
  for (const name of ['caller', 'stranger']) await sa.create({ metadata: { name, namespace: ns } });
  const mint = async (name: string, audiences: string[]) =>
    (
      await cluster.client.request<{ status: { token: string } }>(
        `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`,
        { method: 'POST', body: { spec: { audiences, expirationSeconds: 600 } } },
      )
    ).status.token;
  tokens.kubeCaller = await mint('caller', [audience]);
  tokens.kubeStranger = await mint('stranger', [audience]);
  tokens.kubeWrongAudience = await mint('caller', ['https://kubefn.test/other']);
  // The right audience and another: exactness refuses a token minted for several services.
  tokens.kubeTwoAudiences = await mint('caller', [audience, 'https://kubefn.test/other']);

  // The endpoint reads the issuer's discovery and keys with a service-account token and the CA.
  const kube: TrustedIssuer = await kubernetesIssuer(
    tokenCluster(await serviceAccountToken(cluster, ns, 'caller')).client,
  );
  const issuers = [googleIssuer({ jwksUrl: google.jwksUrl }), kube];
  const log = (_severity: string, message: string, fields: LogFields = {}) =>
    logs.push({ message, ...fields });
  const allow = [pusher, `system:serviceaccount:${ns}:caller`];
  const app = new Hono<{ Variables: AuthVariables }>();
  const change = async (c: {
    get(key: 'principal'): { id: string };
    json: (body: unknown, status: 201) => Response;
  }) => {
    await cluster.resource({ apiVersion: 'v1', kind: 'ConfigMap' }).create({
      metadata: { generateName: 'change-', namespace: ns, labels: { matrix: 'change' } },
    });
    return c.json({ caller: c.get('principal').id }, 201);
  };
  app.post('/verify', requireCaller({ audience, issuers, allow, log }), (c) => change(c));
  app.post('/iam', requireCaller({ audience, issuers, allow, log, platformVerified: true }), (c) =>
    change(c),
  );
  // The same adapter the deployed functions use (the handlers read no body).
  const server = createServer(asHttpFunction(app.fetch));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();

  tokens.valid = await google.idToken(googleClaims());
  tokens.expired = await google.idToken(googleClaims({ iat: now() - 7200, exp: now() - 3600 }));
  tokens.notYetValid = await google.idToken(googleClaims({ nbf: now() + 600 }));
  tokens.wrongAudience = await google.idToken(googleClaims({ aud: 'https://kubefn.test/other' }));
  tokens.twoAudiences = await google.idToken(
    googleClaims({ aud: ['https://kubefn.test/other', audience] }),
  );
  // Two Authorization headers, as Node and Fetch join them: which one counts is ambiguous.
  tokens.twoCredentials = `${tokens.valid}, Bearer ${tokens.valid}`;
  tokens.wrongIssuer = await google.idToken(googleClaims({ iss: 'https://evil.example' }));
  tokens.tooOld = await google.idToken(googleClaims({ iat: now() - 7200, exp: now() + 600 }));
  tokens.unverifiedEmail = await google.idToken(googleClaims({ email_verified: false }));
  tokens.notAllowed = await google.idToken(
    googleClaims({ email: 'someone@else.iam.gserviceaccount.com' }),
  );
  tokens.unknownKid = await google.idToken(googleClaims(), { kid: 'no-such-key' });
  tokens.algNone = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(googleClaims())}.`;
  const hsInput = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'fake-google-key-1' })}.${b64(googleClaims())}`;
  tokens.hs256 = `${hsInput}.${createHmac('sha256', google.publicKeyPem).update(hsInput).digest('base64url')}`;
  const [header, , signature] = tokens.valid.split('.');
  tokens.tampered = `${header}.${b64(googleClaims({ email: 'admin@kubefn-test.iam.gserviceaccount.com' }))}.${signature}`;
  const stripped = (token: string) =>
    `${token.split('.').slice(0, 2).join('.')}.SIGNATURE_REMOVED_BY_GOOGLE`;
  tokens.stripped = stripped(tokens.valid);
  tokens.strippedExpired = stripped(tokens.expired);
  tokens.strippedWrongAudience = stripped(tokens.wrongAudience);
  tokens.strippedNotAllowed = stripped(tokens.notAllowed);
  tokens.strippedKube = stripped(tokens.kubeCaller);
  tokens.strippedTwoAudiences = stripped(tokens.twoAudiences);
});

afterAll(async () => {
  close?.();
  await google?.close();
  await closeTestNamespace(cluster, ns);
});

async function changes(): Promise<number> {
  const list = await cluster
    .resource({ apiVersion: 'v1', kind: 'ConfigMap' })
    .list({ namespace: ns, labelSelector: 'matrix=change' });
  return list.items.length;
}

test.each([
  // endpoint, token, status, logged reason
  ['verify', 'valid', 201, undefined],
  ['verify', 'kubeCaller', 201, undefined],
  ['verify', 'expired', 401, 'expired'],
  ['verify', 'notYetValid', 401, 'not-yet-valid'],
  ['verify', 'wrongAudience', 401, 'wrong-audience'],
  ['verify', 'kubeWrongAudience', 401, 'wrong-audience'],
  ['verify', 'twoAudiences', 401, 'wrong-audience'],
  ['verify', 'kubeTwoAudiences', 401, 'wrong-audience'],
  ['verify', 'twoCredentials', 401, 'ambiguous'],
  ['verify', 'wrongIssuer', 401, 'untrusted-issuer'],
  ['verify', 'tooOld', 401, 'too-old'],
  ['verify', 'unverifiedEmail', 401, 'bad-claims'],
  ['verify', 'algNone', 401, 'alg-not-allowed'],
  ['verify', 'hs256', 401, 'alg-not-allowed'],
  ['verify', 'unknownKid', 401, 'unknown-key'],
  ['verify', 'tampered', 401, 'bad-signature'],
  ['verify', 'missing', 401, 'missing'],
  ['verify', 'garbage', 401, 'malformed'],
  ['verify', 'notAllowed', 403, 'not-allowed'],
  ['verify', 'kubeStranger', 403, 'not-allowed'],
  ['verify', 'stripped', 401, 'signature-removed'],
  ['iam', 'stripped', 201, undefined],
  ['iam', 'valid', 201, undefined],
  ['iam', 'strippedExpired', 401, 'expired'],
  ['iam', 'strippedWrongAudience', 401, 'wrong-audience'],
  ['iam', 'strippedNotAllowed', 403, 'not-allowed'],
  ['iam', 'strippedKube', 401, 'signature-removed'],
  ['iam', 'strippedTwoAudiences', 401, 'wrong-audience'],
  ['iam', 'twoCredentials', 401, 'ambiguous'],
  ['iam', 'tampered', 401, 'bad-signature'],
] as const)('%s endpoint, %s token: %i', async (endpoint, name, expected, reason) => {
  const token = name === 'missing' ? undefined : name === 'garbage' ? 'not a jwt' : tokens[name];
  const before = await changes();
  const logged = logs.length;
  const res = await fetch(`${base}/${endpoint}`, {
    method: 'POST',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  const body = await res.text();
  expect(res.status).toBe(expected);
  expect(await changes()).toBe(before + (expected === 201 ? 1 : 0));
  if (expected === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  if (reason) {
    expect(logs.slice(logged)).toContainEqual(expect.objectContaining({ reason }));
    expect(body).not.toContain(reason); // the reason is for the log, not the caller
  }
  for (const line of logs) expect(JSON.stringify(line)).not.toContain(token ?? '\u0000');
});
