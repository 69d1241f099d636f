import { Hono } from 'hono';
import * as v from 'valibot';
import { describe, expect, test } from 'vitest';
import { DomainError } from '../errors.ts';
import { KubeError } from '../kube/errors.ts';
import type { LogFields, Severity } from '../log.ts';
import { decode, type PushOutcome, pushRoute, RecentKeys } from './push.ts';

const Data = v.object({ name: v.string() });
const base64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
const envelope = (message: Record<string, unknown>) =>
  JSON.stringify({ subscription: 'projects/p/subscriptions/s', message });

describe('decode', () => {
  test.each([
    ['not-json', '{'],
    ['not-an-envelope', JSON.stringify({ message: 'x' })],
    ['no-message-id', envelope({ data: base64({ name: 'a' }) })],
    ['data-not-json', envelope({ messageId: '1', data: 'bm90IGpzb24=' })],
    ['data-mismatch', envelope({ messageId: '1', data: base64({ name: 7 }) })],
  ])('refuses with %s', (code, body) => {
    expect(decode(body, Data)).toMatchObject({ ok: false, code });
  });

  test('a mismatch says what was expected, never what was sent', () => {
    const secret = 'hunter2-secret-value';
    const decoded = decode(envelope({ messageId: '1', data: base64({ name: { secret } }) }), Data);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).not.toContain(secret);
  });

  test.each([
    ['eventKey from the attributes', { eventKey: 'uid/7/MODIFIED' }, 'uid/7/MODIFIED'],
    ['the messageId without one', {}, '42'],
  ])('%s', (_name, attributes, eventKey) => {
    const decoded = decode(
      envelope({ message_id: '42', data: base64({ name: 'a' }), attributes }),
      Data,
    );
    expect(decoded).toMatchObject({ ok: true, message: { messageId: '42', eventKey } });
  });
});

describe('RecentKeys', () => {
  test('forgets the least recently finished key past its capacity', () => {
    const recent = new RecentKeys(2);
    recent.add('a');
    recent.add('b');
    recent.add('a'); // refreshed: b is now the oldest
    recent.add('c');
    expect([recent.has('a'), recent.has('b'), recent.has('c')]).toEqual([true, false, true]);
  });
});

describe('pushRoute answers', () => {
  const run = async (handle: () => Promise<PushOutcome>, body?: string) => {
    const logs: { severity: Severity; message: string; fields: LogFields | undefined }[] = [];
    const app = new Hono().post(
      '/push',
      pushRoute(Data, handle, {
        log: (severity, message, fields) => logs.push({ severity, message, fields }),
      }),
    );
    const res = await app.request('/push', {
      method: 'POST',
      body: body ?? envelope({ messageId: '1', data: base64({ name: 'a' }) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, logs };
  };

  test.each([
    ['done', async () => ({ outcome: 'applied' }), 200, 'applied'],
    [
      'a retryable failure',
      async () => Promise.reject(new KubeError('unavailable', 'x')),
      503,
      'retry',
    ],
    [
      'a permanent failure',
      async () => Promise.reject(new KubeError('forbidden', 'x')),
      200,
      'failed',
    ],
    [
      // kube-apiserver's 500 (an address range full, a webhook down): redelivery cannot help.
      'the cluster failing the request',
      async () => Promise.reject(new KubeError('internal', 'x')),
      200,
      'failed',
    ],
    [
      'a refused request',
      async () => Promise.reject(new DomainError('invalid-input', 'x')),
      200,
      'failed',
    ],
    ['a bug', async () => Promise.reject(new TypeError('x is undefined')), 500, 'error'],
  ] as const)('%s: %d %s', async (_name, handle, status, outcome) => {
    const answer = await run(handle);
    expect(answer.status).toBe(status);
    expect(answer.body.outcome).toBe(outcome);
    // One 'push handled' line per push, the last: what kubefn/push_outcomes counts.
    expect(answer.logs.filter((l) => l.message === 'push handled')).toEqual([answer.logs.at(-1)]);
    expect(answer.logs.at(-1)?.fields).toMatchObject({
      subscription: 's',
      outcome,
      status,
      result: status === 200 ? 'done' : 'retried',
    });
  });

  test("the line's ageMs: from Pub/Sub's publish time to the answer", async () => {
    const publishTime = new Date(Date.now() - 5_000).toISOString();
    const answer = await run(
      async () => ({ outcome: 'healed' }),
      envelope({ messageId: '1', data: base64({ name: 'a' }), publishTime }),
    );
    const ageMs = answer.logs.at(-1)?.fields?.ageMs as number;
    expect(ageMs).toBeGreaterThanOrEqual(5_000);
    expect(ageMs).toBeLessThan(60_000);
  });

  test('bad data is acknowledged with its code and logged at ERROR', async () => {
    const answer = await run(async () => ({ outcome: 'unreached' }), '{');
    expect(answer).toMatchObject({ status: 200, body: { outcome: 'rejected', code: 'not-json' } });
    expect(answer.logs[0]?.severity).toBe('ERROR');
    expect(answer.logs[1]).toMatchObject({
      message: 'push handled',
      fields: { outcome: 'rejected', result: 'done' },
    });
  });

  test('a redelivery of a finished event is answered without running the handler', async () => {
    let calls = 0;
    const app = new Hono().post(
      '/push',
      pushRoute(Data, async () => ({ outcome: `run ${++calls}` }), { log: () => {} }),
    );
    const body = envelope({
      messageId: '1',
      data: base64({ name: 'a' }),
      attributes: { eventKey: 'k' },
    });
    const first = await app.request('/push', { method: 'POST', body });
    const second = await app.request('/push', { method: 'POST', body });
    expect([await first.json(), await second.json(), calls]).toEqual([
      { outcome: 'run 1' },
      { outcome: 'duplicate' },
      1,
    ]);
  });
});

describe('pushRoute and cells', () => {
  test.each([
    ['another cell', { cluster: 'us1' }, 'other-cell', 0],
    ['its own cell', { cluster: 'eu1' }, 'done', 1],
    ['no cell named (a tenant request)', {}, 'done', 1],
  ])('a message of %s', async (_case, attributes, outcome, handled) => {
    let calls = 0;
    const app = new Hono().post(
      '/push',
      pushRoute(
        Data,
        async () => {
          calls++;
          return { outcome: 'done' };
        },
        { log: () => {}, cell: async () => 'eu1' },
      ),
    );
    const res = await app.request('/push', {
      method: 'POST',
      body: envelope({ messageId: '1', data: base64({ name: 'a' }), attributes }),
    });
    expect([res.status, ((await res.json()) as PushOutcome).outcome, calls]).toEqual([
      200,
      outcome,
      handled,
    ]);
  });
});
