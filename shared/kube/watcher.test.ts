// The Watcher against a scripted API server, for what the real one here will not do on cue:
// refuse the streaming initial list (servers without WatchList), so the fallback to a plain
// list is exercised.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { KubeClient } from './client.ts';
import { Discovery } from './discovery.ts';
import type { KubeError } from './errors.ts';
import { Resource } from './resources.ts';
import { Watcher, type WatcherEvent } from './watcher.ts';

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
});

const cm = (name: string, rv: string) => ({
  metadata: { name, namespace: 'x', uid: `uid-${name}`, resourceVersion: rv },
});

test('without WatchList on the server, it lists, then watches from the list', async () => {
  const requests: string[] = [];
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${url.pathname}?${url.searchParams}`);
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/api/v1') {
      res.end(
        JSON.stringify({
          resources: [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true }],
        }),
      );
    } else if (url.searchParams.get('sendInitialEvents')) {
      res.statusCode = 422;
      res.end(
        JSON.stringify({
          kind: 'Status',
          code: 422,
          reason: 'Invalid',
          message: 'sendInitialEvents is forbidden',
        }),
      );
    } else if (!url.searchParams.get('watch')) {
      res.end(JSON.stringify({ metadata: { resourceVersion: '10' }, items: [cm('a', '9')] }));
    } else {
      expect(url.searchParams.get('resourceVersion')).toBe('10');
      res.write(`${JSON.stringify({ type: 'ADDED', object: cm('b', '11') })}\n`); // and stays open
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = new KubeClient({
    server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  });
  const resource = new Resource(client, new Discovery(client), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
  });
  const controller = new AbortController();
  const retries: string[] = [];
  const watcher = new Watcher(resource, {
    namespace: 'x',
    signal: controller.signal,
    onRetry: (error: KubeError) => retries.push(error.code),
  });
  const events: WatcherEvent[] = [];
  for await (const event of watcher) {
    events.push(event);
    if (events.length === 3) break;
  }
  controller.abort();
  expect(events.map((e) => ('key' in e ? `${e.type} ${e.object.metadata?.name}` : e.type))).toEqual(
    ['ADDED a', 'SYNCED', 'ADDED b'],
  );
  expect(retries).toEqual(['invalid']); // the refusal, once; plain lists from then on
  expect(requests.filter((r) => r.includes('sendInitialEvents'))).toHaveLength(1);
  await client.close();
});
