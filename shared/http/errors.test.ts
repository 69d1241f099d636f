import { Hono } from 'hono';
import { describe, expect, test } from 'vitest';
import { AuthError } from '../auth/errors.ts';
import { DomainError } from '../errors.ts';
import { ComputeError } from '../gcp/compute.ts';
import { KubeError } from '../kube/errors.ts';
import type { Severity } from '../log.ts';
import { renderAuthFailure, renderError } from './errors.ts';
import { requireCaller } from './require-caller.ts';

function answer(error: unknown) {
  const logs: { severity: Severity; message: string; detail?: unknown }[] = [];
  const app = new Hono();
  app.get('/', () => {
    throw error;
  });
  app.onError((e, c) =>
    renderError(c, e, (severity, message, fields) =>
      logs.push({ severity, message, detail: fields?.detail }),
    ),
  );
  return Promise.resolve(app.request('/')).then(async (res) => ({
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: (await res.json()) as Record<string, unknown>,
    logs,
  }));
}

describe('one table from failure codes to answers', () => {
  test.each([
    ['a refused request', new DomainError('invalid-input', 'bad'), 400, null],
    ['an unknown tenant', new DomainError('no-such-tenant', 'none'), 404, null],
    ['a taken namespace', new DomainError('namespace-taken', 'taken'), 409, null],
    [
      'an unreachable service',
      new DomainError('provisioning-unavailable', 'down', undefined, { retryable: true }),
      503,
      '5',
    ],
    ['Kubernetes unavailable', new KubeError('unavailable', 'GET /api: HTTP 503'), 503, '5'],
    ['Kubernetes conflict', new KubeError('conflict', 'x'), 409, null],
    ['our identity forbidden', new KubeError('forbidden', 'x'), 500, null],
    [
      'Compute throttling',
      new ComputeError('GET x: answered 429', 429, 'rateLimitExceeded'),
      503,
      '5',
    ],
    [
      'a stale fingerprint',
      new ComputeError('PATCH x: answered 412', 412, 'conditionNotMet'),
      409,
      null,
    ],
    ['issuer keys unreachable', new AuthError('keys-unavailable'), 503, '5'],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'x')"), 500, null],
  ])('%s: %d', async (_name, error, status, retryAfter) => {
    const res = await answer(error);
    expect(res.status).toBe(status);
    expect(res.retryAfter).toBe(retryAfter);
  });

  test('a domain error shows its code and message; a dependency shows only its code', async () => {
    const refused = await answer(new DomainError('namespace-taken', 'namespace t-a is taken'));
    expect(refused.body).toEqual({ error: 'namespace-taken', message: 'namespace t-a is taken' });
    const kube = await answer(new KubeError('unavailable', 'GET /api/v1/namespaces/secret-ns'));
    expect(kube.body).toEqual({ error: 'unavailable', retryable: true });
    expect(JSON.stringify(kube.body)).not.toContain('secret-ns');
  });

  test('a bug is a 500 with its cause in the log, not in the answer', async () => {
    const res = await answer(new TypeError('x is not a function'));
    expect(res.body).toEqual({ error: 'internal' });
    expect(res.logs).toHaveLength(1);
    expect(res.logs[0]).toMatchObject({ severity: 'ERROR', message: 'unexpected failure' });
    expect(String(res.logs[0]?.detail)).toContain('x is not a function');
  });
});

describe('a caller turned away: one answer per status, the reason only in the log', () => {
  const codes: AuthError['code'][] = [
    'missing',
    'malformed',
    'ambiguous',
    'untrusted-issuer',
    'alg-not-allowed',
    'unknown-key',
    'bad-signature',
    'signature-removed',
    'expired',
    'not-yet-valid',
    'too-old',
    'wrong-audience',
    'bad-claims',
  ];
  const expected = [
    ...codes.map((code) => [code, 401, { error: 'unauthenticated' }, 'WARNING'] as const),
    ['not-allowed', 403, { error: 'forbidden' }, 'WARNING'] as const,
    ['keys-unavailable', 503, { error: 'unavailable' }, 'ERROR'] as const,
  ];

  async function turnedAway(error: AuthError, messages?: Record<number, string>) {
    const logs: { severity: Severity; message: string; reason?: unknown }[] = [];
    const app = new Hono();
    app.get('/', (c) =>
      renderAuthFailure(c, error, {
        who: messages ? 'customer' : 'caller',
        log: (severity, message, fields) =>
          logs.push({ severity, message, reason: fields?.reason }),
        ...(messages ? { messages } : {}),
      }),
    );
    const res = await app.request('/');
    return { res, body: await res.json(), logs };
  }

  test.each(expected)('%s: %d %o', async (code, status, body, severity) => {
    const { res, body: answer, logs } = await turnedAway(new AuthError(code, 'secret detail'));
    expect(res.status).toBe(status);
    expect(answer).toEqual(body);
    expect(res.headers.get('www-authenticate')).toBe(
      status === 401 ? 'Bearer error="invalid_token"' : null,
    );
    expect(res.headers.get('retry-after')).toBe(status === 503 ? '10' : null);
    expect(logs).toEqual([{ severity, message: 'caller rejected', reason: code }]);
  });

  test("a person's answer carries the sentence for its status", async () => {
    const messages = { 401: 'sign in first', 503: 'sign-in cannot be checked now' };
    const expired = await turnedAway(new AuthError('expired'), messages);
    expect(expired.body).toEqual({ error: 'unauthenticated', message: 'sign in first' });
    expect(expired.logs[0]?.message).toBe('customer rejected');
    const down = await turnedAway(new AuthError('keys-unavailable'), messages);
    expect(down.body).toEqual({ error: 'unavailable', message: 'sign-in cannot be checked now' });
  });
});

describe('the auth middleware', () => {
  // A token whose signature Cloud Run removed: claims are read, no key is fetched.
  const claims = { iss: 'https://issuer.test', aud: 'https://fn.test', exp: 4e9, iat: 1.7e9 };
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const token = `${b64({ alg: 'RS256' })}.${b64(claims)}.SIGNATURE_REMOVED_BY_GOOGLE`;

  test('a bug while checking the caller is a 500, not "keys unavailable"', async () => {
    const app = new Hono();
    app.onError((e, c) => renderError(c, e, () => {}));
    app.use(
      requireCaller({
        audience: 'https://fn.test',
        platformVerified: true,
        allow: ['someone'],
        log: () => {},
        issuers: [
          {
            names: ['https://issuer.test'],
            keys: async () => {
              throw new AuthError('keys-unavailable');
            },
            algorithms: ['RS256'],
            maxTokenAgeSeconds: 1e10,
            googleSigned: true,
            principal: () => {
              throw new TypeError('a bug in the principal mapping');
            },
          },
        ],
      }),
    );
    app.get('/', (c) => c.text('ok'));
    const res = await app.request('/', { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'internal' });
  });
});
