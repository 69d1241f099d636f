// The Hono app every function starts from: each request in a span of its trace
// (trace-request.ts), failures rendered by one function (errors.ts), a JSON 404 for unknown
// routes, and the function's dependencies awaited by the routes that need them.
//
// Settings are read synchronously when the module loads (shared/env.ts): a mistake fails the
// deploy. Only the network work (issuers' keys, the cluster's connection) is a promise, started
// at load and awaited by the first request, so a cold start overlaps it with the framework's own.
// hono/tiny (PatternRouter): the smallest router, one regular expression per route; a function
// has a handful of routes, and its cold start compiles 10 functions and 4 KB fewer than with
// hono/quick (measured on provision with `npm run bench -- coldstart`).
import type { Env } from 'hono';
import { Hono } from 'hono/tiny';
import type { CallerRule } from '../auth/index.ts';
import { renderError } from './errors.ts';
import { type AuthVariables, requireCallerWhenReady } from './require-caller.ts';
import { traceRequest } from './trace-request.ts';

export type FunctionEnv = { Variables: AuthVariables };

export function functionApp<E extends Env = FunctionEnv>(): Hono<E> {
  const app = new Hono<E>();
  app.use(traceRequest());
  app.onError((error, c) => renderError(c, error));
  app.notFound((c) => c.json({ error: 'not-found' }, 404));
  return app;
}

/** What a function's routes need: its dependencies once loaded, and each route's caller rule. */
export type FunctionSkeleton<Deps> = {
  app: Hono<FunctionEnv>;
  /** The dependencies; a failure to load them is answered by the request awaiting them. */
  deps: () => Promise<Deps>;
  /** The caller check of one route, its rule picked from the loaded dependencies. */
  guard: (pick: (deps: Deps) => CallerRule) => ReturnType<typeof requireCallerWhenReady>;
};

export function functionSkeleton<Deps>(ready: Promise<Deps>): FunctionSkeleton<Deps> {
  // Awaited by requests; a rejection before the first one is not unhandled.
  ready.catch(() => {});
  return {
    app: functionApp(),
    deps: () => ready,
    guard: (pick) => requireCallerWhenReady(async () => pick(await ready)),
  };
}
