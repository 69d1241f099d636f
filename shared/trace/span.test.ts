// One trace across the hops a process sees: a request's server span, its outgoing calls (the
// traceparent each sends), a push continuing the publisher's trace, and the log's trace fields.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as v from 'valibot';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { functionApp } from '../http/app.ts';
import { jsonLogger } from '../log.ts';
import { pushRoute } from '../pubsub/push.ts';
import { traceparentAttribute } from '../pubsub/trace-attribute.ts';
import { HttpsClient } from '../transport/https-client.ts';
import { activeSpan, inSpan, tracingMode } from './span.ts';
import { formatTraceparent, parseTraceparent } from './traceparent.ts';

const caller = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const errors = {
  fromResponse: (status: number) => Object.assign(new Error(`status ${status}`), { code: 'x' }),
  fromTransport: (code: string) => Object.assign(new Error(code), { code }),
} as unknown as ConstructorParameters<typeof HttpsClient>[1];

afterEach(() => vi.restoreAllMocks());

describe('inSpan', () => {
  test('a child keeps the trace, gets a span of its own, and is active only inside', async () => {
    const parent = parseTraceparent(caller);
    await inSpan('outer', { parent }, async (outer) => {
      expect(outer.context.traceId).toBe(parent?.traceId);
      expect(outer.context.spanId).not.toBe(parent?.spanId);
      expect(outer.context.sampled).toBe(true);
      await inSpan('inner', {}, async (inner) => {
        expect(inner.context.traceId).toBe(parent?.traceId);
        expect(activeSpan()).toEqual(inner.context);
      });
      expect(activeSpan()).toEqual(outer.context);
    });
    expect(activeSpan()).toBeUndefined();
  });

  test('parent null starts a new trace, not sampled while tracing is off', async () => {
    await inSpan('outer', { parent: parseTraceparent(caller) }, () =>
      inSpan('root', { parent: null }, async (root) => {
        expect(root.context.traceId).not.toBe(parseTraceparent(caller)?.traceId);
        expect(root.context.traceId).toMatch(/^[0-9a-f]{32}$/);
        expect(root.context.sampled).toBe(false);
      }),
    );
  });

  test('a throw is rethrown', async () => {
    await expect(inSpan('x', {}, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });

  test.each([
    [undefined, 'off'],
    ['', 'off'],
    ['off', 'off'],
    ['otlp', 'otlp'],
    ['cloud-trace', 'cloud-trace'],
  ])('KUBEFN_TRACING=%s is %s', (value, mode) => {
    expect(tracingMode({ KUBEFN_TRACING: value, GOOGLE_CLOUD_PROJECT: 'p' })).toBe(mode);
  });
  test.each([[{ KUBEFN_TRACING: 'jaeger' }], [{ KUBEFN_TRACING: 'cloud-trace' }]])(
    'KUBEFN_TRACING refuses %j',
    (env) => {
      expect(() => tracingMode(env)).toThrow(/KUBEFN_TRACING/);
    },
  );
});

describe('across a function', () => {
  test("a request's log lines, and the Kubernetes calls it makes, carry the caller's trace", async () => {
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.traceparent as string | undefined);
      res.end('{}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = new HttpsClient(
      { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` },
      errors,
    );
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((line) => {
      lines.push(String(line));
      return true;
    });
    try {
      const app = functionApp();
      app.get('/things/:id', async (c) => {
        await client.request('/api/v1/namespaces');
        jsonLogger('INFO', 'done', { id: c.req.param('id') });
        return c.json({});
      });
      const res = await app.request('/things/7', { headers: { traceparent: caller } });
      expect(res.status).toBe(200);
      // Outside a request: no span, no header.
      await client.request('/api/v1/namespaces');
    } finally {
      vi.restoreAllMocks();
      await client.close();
      server.close();
    }
    const traceId = parseTraceparent(caller)?.traceId;
    const sent = parseTraceparent(seen[0]);
    expect(sent).toMatchObject({ traceId, sampled: true });
    expect(seen[1]).toBeUndefined();
    const line = JSON.parse(lines.find((l) => l.includes('"done"')) ?? '{}');
    expect(line).toMatchObject({
      'logging.googleapis.com/trace': expect.stringMatching(new RegExp(`${traceId}$`)),
      'logging.googleapis.com/trace_sampled': true,
    });
    // The log line is the server span's; the call was a client span below it.
    expect(line['logging.googleapis.com/spanId']).toMatch(/^[0-9a-f]{16}$/);
    expect(line['logging.googleapis.com/spanId']).not.toBe(sent?.spanId);
  });

  test("a push continues the publisher's trace from googclient_traceparent", async () => {
    const published = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true };
    let during: ReturnType<typeof activeSpan>;
    const app = functionApp();
    app.post(
      '/pubsub',
      pushRoute(v.object({}), async () => {
        during = activeSpan();
        return { outcome: 'done' };
      }),
    );
    const body = JSON.stringify({
      subscription: 'projects/p/subscriptions/s',
      message: {
        messageId: '1',
        data: Buffer.from('{}').toString('base64'),
        attributes: { [traceparentAttribute]: formatTraceparent(published) },
      },
    });
    const res = await app.request('/pubsub', {
      method: 'POST',
      body,
      headers: { traceparent: caller },
    });
    expect(res.status).toBe(200);
    expect(during).toMatchObject({ traceId: published.traceId, sampled: true });
    expect(during?.spanId).not.toBe(published.spanId);
  });
});
