// Every request a function answers runs in a server span: the child of the caller's
// `traceparent` (the sign-up page, signup calling provision, Cloud Run's front end), or a new
// trace. Inside it, log lines carry its ids and outgoing calls pass them on (shared/trace).
import type { MiddlewareHandler } from 'hono';
import { inSpan } from '../trace/span.ts';
import { parseTraceparent } from '../trace/traceparent.ts';

export function traceRequest(): MiddlewareHandler {
  return (c, next) =>
    inSpan(
      c.req.method,
      {
        kind: 'server',
        parent: parseTraceparent(c.req.header('traceparent')) ?? null,
        attributes: { 'http.request.method': c.req.method, 'url.path': c.req.path },
      },
      async (span) => {
        await next();
        // Known once routed: the matched route (low cardinality, as OpenTelemetry names server
        // spans) and the answer; a 5xx is the function's failure.
        span.rename(`${c.req.method} ${c.req.routePath}`);
        span.set({ 'http.route': c.req.routePath, 'http.response.status_code': c.res.status });
        if (c.res.status >= 500) span.fail(`answered ${c.res.status}`);
      },
    );
}
