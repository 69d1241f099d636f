// Serves a Hono app (any fetch handler) as a Functions Framework HTTP function.
//
// Hand-written instead of @hono/node-server's getRequestListener, for cold start: that adapter
// imports node:http2 (21 ms on these machines, Node 20 and 22) and 20 KB of code on every cold
// start, to serve plain HTTP/1.1 requests the framework has already parsed. Here the framework's
// raw body bytes (req.rawBody) become the Request body, and the Response is copied back.
//
// The function runs outside the node:domain the framework opens for each request. Inside it,
// every promise, socket and callback of ours is tracked by the domain (measured: a quarter of a
// warm status request's CPU, and the sockets kept the first request's domain for good). Errors
// lose nothing: Hono and the catch below answer them, and anything thrown outside a request
// still reaches the framework's uncaughtException handler (crash answer, instance restarted).
import type { IncomingMessage, ServerResponse } from 'node:http';

type FrameworkRequest = IncomingMessage & { rawBody?: Buffer; originalUrl?: string };
type FetchHandler = (request: Request) => Response | Promise<Response>;

export function asHttpFunction(fetchHandler: FetchHandler) {
  return async function httpFunction(req: FrameworkRequest, res: ServerResponse): Promise<void> {
    (process as { domain?: { exit(): void } }).domain?.exit();
    try {
      const response = await fetchHandler(toRequest(req));
      res.statusCode = response.status;
      response.headers.forEach((value, name) => {
        res.setHeader(name, value);
      });
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch {
      // Hono answers its own errors; this is the last resort, and says nothing more.
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"internal"}');
    }
  };
}

function toRequest(req: FrameworkRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const method = req.method ?? 'GET';
  const withBody = method !== 'GET' && method !== 'HEAD' && req.rawBody !== undefined;
  const url = `http://${req.headers.host ?? 'localhost'}${req.originalUrl ?? req.url ?? '/'}`;
  return new Request(url, { method, headers, ...(withBody ? { body: req.rawBody } : {}) });
}
