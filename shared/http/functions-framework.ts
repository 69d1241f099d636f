// Serves a Hono app (any fetch handler) as a Functions Framework HTTP function.
//
// Security: the request boundary; none of these may be removed (the first three are
// test/integration/request-boundary.test.ts's cases).
// - One credential: headers come from req.rawHeaders, every copy, repeats joined with ", " as
//   Fetch joins them. req.headers keeps only the first Authorization (or Content-Type), so a
//   second would go unseen; joined, shared/auth/verify-token.ts refuses it as ambiguous.
// - The route is the request line's path and query on a fixed origin, never the Host header
//   (`Host: h/pubsub?` moved POST /labels to /pubsub).
// - Body refusals: the framework's Express app parses every body first (body-parser, up to
//   1024 MB) and has no hook for what it refuses (functions-framework-nodejs issue #686, open);
//   its default answered HTML and printed the body to stderr. asFrameworkFunction gives it a
//   final handler of ours: the refused body reaches the app without its bytes, marked
//   (json-body.ts refuseBody), so the caller check still runs first and readJson answers in
//   JSON; one log line, without the body or the parser's message (it quotes the body). The
//   bytes are still read before the token: only serving outside the framework would avoid it.
// - A failure is logged by its name and frames, never its message (it may quote the request).
//
// Performance, not security (each was measured; change one only against a new measurement):
// - Cold start: hand-written rather than @hono/node-server, whose node:http2 import cost 21 ms
//   of every cold start (Node 20 and 22) and 20 KB of code, for requests already parsed.
// - Warm CPU: run outside the framework's per-request node:domain, which tracked every promise,
//   socket and callback of ours (a quarter of a warm status request's CPU; warm p50 13-15 ->
//   10-11 ms). domain.create() gets a stand-in that only runs its callback: the first real
//   Domain turns on node:domain's async hook for the whole process (1 ms of the warm
//   provisioning request's 13 ms CPU). Errors lose nothing: Hono and the catch below answer
//   them, and a throw outside a request still reaches the framework's uncaughtException handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { jsonLogger, type Logger } from '../log.ts';
import { type BodyRefusal, refuseBody } from './json-body.ts';

type FrameworkRequest = IncomingMessage & { rawBody?: Buffer; originalUrl?: string };
type FetchHandler = (request: Request) => Response | Promise<Response>;
type Serve = (req: FrameworkRequest, res: ServerResponse, refusal?: BodyRefusal) => Promise<void>;
export type HttpFunction = (req: FrameworkRequest, res: ServerResponse) => Promise<void>;

export function asHttpFunction(fetchHandler: FetchHandler, log: Logger = jsonLogger): HttpFunction {
  const serve = serving(fetchHandler, log);
  return function httpFunction(req, res) {
    return serve(req, res);
  };
}

/**
 * asHttpFunction for the framework's `http` (each function's index.ts): what the framework's own
 * layers leave unanswered (a body its parser refused) comes to the same app.
 */
export function asFrameworkFunction(
  fetchHandler: FetchHandler,
  log: Logger = jsonLogger,
): HttpFunction {
  const serve = serving(fetchHandler, log);
  answerFrameworkFailures(serve, log);
  return function httpFunction(req, res) {
    return serve(req, res);
  };
}

function serving(fetchHandler: FetchHandler, log: Logger): Serve {
  return async function serve(req, res, refusal) {
    (process as { domain?: { exit(): void } }).domain?.exit();
    try {
      const request = toRequest(req, refusal);
      const response = await fetchHandler(request);
      res.statusCode = response.status;
      response.headers.forEach((value, name) => {
        res.setHeader(name, value);
      });
      // Server-Sent Events (the operator console's stream) go out as they come; a reader that
      // leaves cancels the stream. Everything else is answered whole.
      if (response.body && response.headers.get('content-type') === 'text/event-stream') {
        await streamBody(response.body, res);
        return;
      }
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      // Hono answers its own errors; this is the last resort, and says nothing more. A bug:
      // logged with its frames, never its message (it may quote the request).
      log('ERROR', 'unexpected failure', { ...framesOf(error), path: pathOf(req) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"internal"}');
    }
  };
}

function toRequest(req: FrameworkRequest, refusal: BodyRefusal | undefined): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2)
    headers.append(raw[i] as string, raw[i + 1] as string);
  const method = req.method ?? 'GET';
  const withBody =
    method !== 'GET' && method !== 'HEAD' && req.rawBody !== undefined && refusal === undefined;
  // The path and query are the request line's alone. The Host header is not the app's to read:
  // `Host: h/pubsub?` would have moved POST /labels to another route, and one that is not a URL
  // host was a 500.
  const target = req.originalUrl ?? req.url ?? '/';
  const url = `http://localhost${target.startsWith('/') ? target : '/'}`;
  const request = new Request(url, { method, headers, ...(withBody ? { body: req.rawBody } : {}) });
  if (refusal) refuseBody(request, refusal);
  return request;
}

type Done = (error?: unknown) => void;
type ExpressHandle = (
  this: unknown,
  req: FrameworkRequest,
  res: ServerResponse,
  done?: Done,
) => void;

let answering: { serve: Serve; log: Logger } | undefined;

/**
 * Express copies `application` onto each app it creates, and the framework creates its app after
 * loading the function's module: a `handle` wrapped now is the framework's. It only adds the
 * final callback Express would otherwise make with its finalhandler; a mounted app gets its
 * parent's the same way. The framework serves one function per process: the last registered.
 * It also gives the framework's per-request domain.create() its stand-in (see the top).
 */
function answerFrameworkFailures(serve: Serve, log: Logger): void {
  const wrapped = answering !== undefined;
  answering = { serve, log };
  if (wrapped) return;
  const local = createRequire(import.meta.url);
  // The framework's own express (already loaded by the framework's CLI: nothing to load here).
  const express = createRequire(local.resolve('@google-cloud/functions-framework'))('express') as {
    application: { handle: ExpressHandle };
  };
  const handle = express.application.handle;
  // The framework's HTTP wrapper only calls on('error') and run() on its domain (see above).
  const domain = local('node:domain') as { create: () => unknown };
  domain.create = () => ({
    on() {
      return this;
    },
    run: (callback: () => unknown) => callback(),
  });
  express.application.handle = function handleWithKubefnFinal(req, res, done) {
    handle.call(this, req, res, done ?? ((error) => void unhandled(error, req, res)));
  };
}

async function unhandled(error: unknown, req: FrameworkRequest, res: ServerResponse) {
  const { serve, log } = answering ?? { serve: undefined, log: jsonLogger };
  if (res.headersSent) {
    req.socket.destroy(); // as Express's own final handler does
    return;
  }
  const path = pathOf(req);
  const refusal = refusalOf(error);
  if (refusal && serve) {
    log('WARNING', 'request body refused', { reason: refusal, method: req.method, path });
    await drained(req);
    await serve(req, res, refusal);
    return;
  }
  if (error !== undefined) {
    // Not the parser's refusal: a failure inside the framework. Its frames, never its message
    // (a parser's message quotes the body).
    const { type, status } = error as { type?: unknown; status?: unknown };
    log('ERROR', 'framework failure', {
      ...framesOf(error),
      type: typeof type === 'string' ? type : undefined,
      status: typeof status === 'number' ? status : undefined,
      method: req.method,
      path,
    });
  }
  await drained(req);
  const status = error === undefined ? 404 : 500;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(status === 404 ? '{"error":"not-found"}' : '{"error":"internal"}');
}

/** body-parser's failures are http-errors with a 4xx status (its `type` names the cause). */
function refusalOf(error: unknown): BodyRefusal | undefined {
  const status = (error as { status?: unknown } | undefined)?.status;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (status === 413) return 'too-large';
  if (status === 415) return 'unsupported-media-type';
  return 'invalid-json';
}

/** What the parser left unread is read off first, as Express's final handler does. */
function drained(req: IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  req.unpipe();
  return new Promise((resolve) => {
    req.once('end', resolve).once('close', resolve);
    req.resume();
  });
}

const pathOf = (req: FrameworkRequest) => (req.originalUrl ?? req.url ?? '/').split('?')[0];

/** An error's name and stack frames, without its message line. */
function framesOf(error: unknown): { name: string; frames?: string } {
  if (!(error instanceof Error)) return { name: typeof error };
  const frames = error.stack?.split('\n').filter((line) => /^\s+at /.test(line));
  return { name: error.name, ...(frames ? { frames: frames.join('\n') } : {}) };
}

async function streamBody(body: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  const reader = body.getReader();
  res.once('close', () => void reader.cancel().catch(() => {}));
  res.flushHeaders();
  for (;;) {
    const { value, done } = await reader.read();
    if (done || res.destroyed) break;
    res.write(value);
  }
  res.end();
}
