// An HTTP proxy on 127.0.0.1 in front of kube-apiserver (HTTPS, the stack's CA) that breaks paginated
// lists the way a flaky network or a broken middlebox would, for the deletion budget's fault tests
// (issue 31: a list cut short or empty must never delete anything). Every other request, watches
// included, passes through untouched.
//
// A paginated list is a GET with `limit` (shared/kube's `items()` always sends one). The proxy
// asks kube-apiserver for pages of `pageSize` objects instead, so a few tenants already make a
// list of several real pages with real continue tokens. Then, by `fault`:
//   cut-after-first-page  the first page is answered; a request for a later one (it carries the
//                         continue token) has its connection destroyed, every time (the client's
//                         retries fail too): kube-apiserver lost in the middle of a list
//   empty                 each page comes back as an empty list with no continue token
//   drop-continue         each page comes back without its continue token: the list ends after
//                         its first page, with no sign that it was cut short
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent, request } from 'node:https';
import type { AddressInfo } from 'node:net';

export type ListFault = 'none' | 'cut-after-first-page' | 'empty' | 'drop-continue';

export type ListFaultProxy = {
  /** http://127.0.0.1:<port>: a kubeconfig's server. */
  url: string;
  fault: ListFault;
  /** Which lists the fault breaks (by their request URL); every list when unset. */
  only: ((url: URL) => boolean) | undefined;
  /** What the proxy did, since the last reset: list pages asked for, and pages it broke. */
  counts: { pages: number; broken: number };
  resetCounts(): void;
  close(): Promise<void>;
};

export async function startListFaultProxy(
  target: { server: string; caFile: string },
  options: { pageSize: number },
): Promise<ListFaultProxy> {
  const upstream = new URL(target.server);
  const agent = new Agent({ ca: readFileSync(target.caFile, 'utf8'), keepAlive: true });
  const sockets = new Set<import('node:net').Socket>();
  const proxy: ListFaultProxy = {
    url: '',
    fault: 'none',
    only: undefined,
    counts: { pages: 0, broken: 0 },
    resetCounts() {
      proxy.counts = { pages: 0, broken: 0 };
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };

  function forward(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const isPage =
      req.method === 'GET' && url.searchParams.has('limit') && !url.searchParams.has('watch');
    const fault = isPage && (proxy.only?.(url) ?? true) ? proxy.fault : 'none';
    if (isPage) {
      proxy.counts.pages++;
      url.searchParams.set('limit', String(options.pageSize));
      if (fault === 'cut-after-first-page' && url.searchParams.has('continue')) {
        proxy.counts.broken++;
        req.socket.destroy();
        return;
      }
    }
    const rewrite = fault === 'empty' || fault === 'drop-continue';
    const headers = { ...req.headers, host: upstream.host };
    // A body the proxy rewrites must come as plain JSON.
    if (rewrite) delete headers['accept-encoding'];
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: url.pathname + url.search,
        headers,
        agent,
      },
      (answer) => {
        if (!rewrite || answer.statusCode !== 200) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const list = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            items?: unknown[];
            metadata?: Record<string, unknown>;
          };
          if (fault === 'empty') list.items = [];
          if (list.metadata) {
            delete list.metadata.continue;
            delete list.metadata.remainingItemCount;
          }
          proxy.counts.broken++;
          const body = JSON.stringify(list);
          const { 'content-length': _, 'transfer-encoding': __, ...rest } = answer.headers;
          res.writeHead(200, { ...rest, 'content-length': Buffer.byteLength(body) });
          res.end(body);
        });
      },
    );
    out.on('error', () => res.destroy());
    // The client went away mid-answer (a watch it stopped, say): so does the upstream request.
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  }

  const server = createServer(forward);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
