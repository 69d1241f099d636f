// The Watcher against a scripted API server, for what the real one here will not do on cue:
// refuse the streaming initial list (servers without WatchList), so the fallback to a plain
// list is exercised.
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
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

/** Answers discovery of ConfigMaps; false for any other request. */
function discovery(url: URL, res: ServerResponse): boolean {
  if (url.pathname !== '/api/v1') return false;
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({ resources: [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true }] }),
  );
  return true;
}

/** The resume point is compacted: 410 as a watch event, so the watcher relists. */
const expired = `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } })}\n`;

/** A read of one ConfigMap by name: 404, as for one deleted; false for any other request. */
function notFound(url: URL, res: ServerResponse): boolean {
  if (!/\/configmaps\/[^/]+$/.test(url.pathname)) return false;
  res.statusCode = 404;
  res.end(JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound' }));
  return true;
}

/** A client of the scripted server, and its ConfigMaps. */
async function scripted(listening: Server) {
  listening.listen(0, '127.0.0.1');
  await once(listening, 'listening');
  const client = new KubeClient({
    server: `http://127.0.0.1:${(listening.address() as AddressInfo).port}`,
  });
  const resource = new Resource(client, new Discovery(client), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
  });
  return { client, resource };
}

test('without WatchList on the server, it lists, then watches from the list', async () => {
  const requests: string[] = [];
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (discovery(url, res)) return;
    requests.push(`${url.pathname}?${url.searchParams}`);
    res.setHeader('content-type', 'application/json');
    if (url.searchParams.get('sendInitialEvents')) {
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
  const { client, resource } = await scripted(server);
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

test('a store keeping part of each object: a deletion found by a relist carries that part', async () => {
  let lists = 0;
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (discovery(url, res)) return;
    res.setHeader('content-type', 'application/json');
    // Read again by name after the relist: gone.
    if (notFound(url, res)) return;
    if (!url.searchParams.get('watch')) {
      lists++;
      const a = { ...cm('a', '9'), data: { v: '1' } };
      a.metadata = { ...a.metadata, labels: { team: 'x' } } as typeof a.metadata;
      res.end(
        JSON.stringify(
          lists === 1
            ? { metadata: { resourceVersion: '10' }, items: [a] }
            : { metadata: { resourceVersion: '12' }, items: [] },
        ),
      );
    } else if (lists === 1) {
      res.end(expired);
    } else res.write(''); // stays open
  });
  const { client, resource } = await scripted(server);
  const controller = new AbortController();
  const watcher = new Watcher(resource, {
    namespace: 'x',
    sendInitialEvents: false,
    keepObjects: (object) => ({ metadata: { labels: object.metadata?.labels ?? {} } }),
    signal: controller.signal,
  });
  const events: WatcherEvent[] = [];
  for await (const event of watcher) {
    events.push(event);
    if (event.type === 'SYNCED' && events.length > 2) break;
  }
  controller.abort();
  expect(events.map((e) => e.type)).toEqual(['ADDED', 'SYNCED', 'DELETED', 'SYNCED']);
  const deleted = events[2];
  expect(deleted && 'object' in deleted && deleted.object).toEqual({
    metadata: {
      namespace: 'x',
      name: 'a',
      uid: 'uid-a',
      resourceVersion: '9',
      labels: { team: 'x' },
    },
  });
  expect(watcher.store.get('x/a')).toBeUndefined();
  await client.close();
});

test('a relist that comes back short reports DELETED only for what is gone or no longer selected', async () => {
  // First list: a, b, c, d. Then the resume point is compacted, and the relist shows only a (a
  // proxy dropped its continue token). Read by name: b is there, c is gone, d lost its label.
  const selected = { team: 'x' };
  const labelled = (name: string, labels: Record<string, string>) => {
    const object = cm(name, '9');
    return { ...object, metadata: { ...object.metadata, labels } };
  };
  const live: Record<string, object> = {
    b: labelled('b', selected),
    d: labelled('d', { team: 'y' }),
  };
  let lists = 0;
  const reads: string[] = [];
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (discovery(url, res)) return;
    res.setHeader('content-type', 'application/json');
    const byName = /\/configmaps\/([^/]+)$/.exec(url.pathname)?.[1];
    if (byName) {
      reads.push(byName);
      if (live[byName]) res.end(JSON.stringify(live[byName]));
      else notFound(url, res);
    } else if (!url.searchParams.get('watch')) {
      lists++;
      const items =
        lists === 1
          ? ['a', 'b', 'c', 'd'].map((n) => labelled(n, selected))
          : [labelled('a', selected)];
      res.end(JSON.stringify({ metadata: { resourceVersion: String(9 + lists) }, items }));
    } else if (lists === 1) {
      res.end(expired);
    } else res.write(''); // stays open
  });
  const { client, resource } = await scripted(server);
  const controller = new AbortController();
  const watcher = new Watcher(resource, {
    namespace: 'x',
    labelSelector: 'team=x',
    sendInitialEvents: false,
    signal: controller.signal,
  });
  const events: WatcherEvent[] = [];
  for await (const event of watcher) {
    events.push(event);
    if (event.type === 'SYNCED' && lists > 1) break;
  }
  controller.abort();
  const after = events.slice(events.findIndex((e) => e.type === 'SYNCED') + 1);
  expect(
    after.map((e) => `${e.type} ${'object' in e ? e.object.metadata?.name : ''}`).sort(),
  ).toEqual(['DELETED c', 'DELETED d', 'SYNCED ']);
  expect(reads.sort()).toEqual(['b', 'c', 'd']);
  expect([...watcher.store.keys()].sort()).toEqual(['x/a', 'x/b']);
  await client.close();
});
