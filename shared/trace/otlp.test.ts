// The exporter as configured for each mode, against a local server standing for the OTLP
// endpoint (and, for cloud-trace, the metadata server): what reaches it, with which headers.
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { flush, otlpRecorder, serviceName } from './otlp.ts';

type Received = { path: string; headers: IncomingHttpHeaders; body: Buffer };
const received: Received[] = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
    if (req.url?.includes('/token'))
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ access_token: 'metadata-token', expires_in: 3600 }));
    res.writeHead(200).end();
  });
});
let base = '';
beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
  delete process.env.GCE_METADATA_HOST;
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
});

test.each(['otlp', 'cloud-trace'] as const)('%s: spans reach the endpoint', async (mode) => {
  received.length = 0;
  process.env.GCE_METADATA_HOST = base;
  // The exporter reads its endpoint from the process's environment itself.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://${base}`;
  const record = otlpRecorder(
    {
      GOOGLE_CLOUD_PROJECT: 'kubefn-test',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${base}`,
      // cloud-trace's URL, redirected here (otlp appends /v1/traces to the endpoint above).
      ...(mode === 'cloud-trace'
        ? { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://${base}/v1/traces` }
        : {}),
      OTEL_SERVICE_NAME: 'probe',
    },
    mode,
  );
  const span = record(`span-${mode}`, undefined, { kind: 'server', attributes: { a: 1 } });
  expect(span.context.traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(span.context.sampled).toBe(true);
  span.end();
  await flush();
  const exported = received.find((r) => r.path === '/v1/traces');
  expect(exported?.body.includes(`span-${mode}`)).toBe(true);
  expect(exported?.body.includes('probe')).toBe(true);
  if (mode === 'cloud-trace') {
    expect(exported?.headers.authorization).toBe('Bearer metadata-token');
    expect(exported?.headers['x-goog-user-project']).toBe('kubefn-test');
    expect(exported?.body.includes('gcp.project_id')).toBe(true);
  } else {
    expect(exported?.headers.authorization).toBeUndefined();
  }
});

test('a parent marked not sampled is not recorded, and its ids carry on', async () => {
  const record = otlpRecorder({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://${base}` });
  const parent = { traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), sampled: false };
  const span = record('child', parent, {});
  expect(span.context).toMatchObject({ traceId: parent.traceId, sampled: false });
  expect(span.context.spanId).not.toBe(parent.spanId);
  span.end();
});

test.each([
  [{ OTEL_SERVICE_NAME: 'a', K_SERVICE: 'b' }, ['node', 'x'], 'a'],
  [{ K_SERVICE: 'b' }, ['node', 'x', '--target=provision'], 'b'],
  [{}, ['node', 'main.js', '--target=provision'], 'provision'],
  [{}, ['node', '/x/dist/functions/watcher/index.mjs'], 'watcher'],
  [{}, ['node', 'x.js'], 'kubefn'],
])('service name from %j and %j: %s', (env, argv, name) => {
  expect(serviceName(env, argv)).toBe(name);
});
