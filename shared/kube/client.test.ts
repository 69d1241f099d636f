// The transport's retry rules against a scripted local HTTP server (it plays the answers a real
// kube-apiserver gives under load or during a restart, which the real one cannot give on cue).
import { getEventListeners, once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { KubeClient } from './client.ts';
import type { KubeError } from './errors.ts';

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/** Answers requests from a script, one entry per request; records what came in. */
async function scripted(
  answers: { status: number; headers?: Record<string, string>; body?: string }[],
) {
  const seen: { method: string; auth: string | undefined }[] = [];
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', auth: req.headers.authorization });
    const answer = answers[Math.min(seen.length - 1, answers.length - 1)] ?? { status: 500 };
    req.resume();
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body ?? '{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen };
}

const fast = { attempts: 4, baseMs: 1, capMs: 20 };
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as KubeError,
  );

test('a GET is retried on 5xx, then succeeds', async () => {
  const { url, seen } = await scripted([
    { status: 503 },
    { status: 500 },
    { status: 200, body: '{"ok":true}' },
  ]);
  const client = new KubeClient({ server: url }, { retry: fast });
  expect(await client.request('/x')).toEqual({ ok: true });
  expect(seen).toHaveLength(3);
});

test('a POST is not retried on 5xx (it may have been applied)', async () => {
  const { url, seen } = await scripted([{ status: 503 }, { status: 201 }]);
  const client = new KubeClient({ server: url }, { retry: fast });
  expect((await failure(client.request('/x', { method: 'POST', body: {} })))?.code).toBe(
    'unavailable',
  );
  expect(seen).toHaveLength(1);
});

test('429 is retried for any verb, honouring Retry-After', async () => {
  const { url, seen } = await scripted([
    { status: 429, headers: { 'retry-after': '0' } },
    { status: 201, body: '{"created":true}' },
  ]);
  const client = new KubeClient({ server: url }, { retry: fast });
  expect(await client.request('/x', { method: 'POST', body: {} })).toEqual({ created: true });
  expect(seen.map((s) => s.method)).toEqual(['POST', 'POST']);
});

test('retries stop after the configured attempts', async () => {
  const { url, seen } = await scripted([{ status: 503 }]);
  const client = new KubeClient({ server: url }, { retry: fast });
  expect((await failure(client.request('/x')))?.code).toBe('unavailable');
  expect(seen).toHaveLength(4);
});

test('a refused connection on a GET is a retryable network error', async () => {
  const { url } = await scripted([]);
  server?.close();
  await once(server as Server, 'close');
  const client = new KubeClient({ server: url }, { retry: fast });
  const error = await failure(client.request('/x'));
  expect(error?.code).toBe('network');
  expect(error?.retryable).toBe(true);
});

test('a 401 makes the token provider read its token again, once', async () => {
  const { url, seen } = await scripted([{ status: 401 }, { status: 200, body: '{}' }]);
  let token = 'old';
  const client = new KubeClient(
    {
      server: url,
      token: () => token,
      invalidateToken: () => {
        token = 'rotated';
      },
    },
    { retry: fast },
  );
  await client.request('/x', { method: 'POST', body: {} });
  expect(seen.map((s) => s.auth)).toEqual(['Bearer old', 'Bearer rotated']);
});

test('a deadline covers the retries', async () => {
  const { url } = await scripted([{ status: 503, headers: { 'retry-after': '5' } }]);
  const client = new KubeClient(
    { server: url },
    { retry: { attempts: 10, baseMs: 1, capMs: 10_000 } },
  );
  const started = performance.now();
  expect((await failure(client.request('/x', { timeoutMs: 200 })))?.code).toBe('timeout');
  expect(performance.now() - started).toBeLessThan(2_000);
});

test("a stream's end takes its listener off the caller's signal (a watcher reconnects for days)", async () => {
  const { url } = await scripted([{ status: 200, body: '{}' }]);
  const client = new KubeClient({ server: url }, { retry: fast });
  const signal = new AbortController().signal;
  for (let i = 0; i < 20; i++) {
    const body = await client.stream('/w', { signal });
    body.resume();
    await once(body, 'close');
  }
  expect(getEventListeners(signal, 'abort')).toHaveLength(0);
});
