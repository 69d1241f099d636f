// The operator console's backend: serves the page, admits only operators on every API call, and
// reads and acts on the cells with its own service identity (the browser never holds one).
//   GET  /                          the page
//   GET  /api/me                    who is signed in (the page's check that it is an operator)
//   GET  /api/tenants?q=&hours=     every cell's tenants (those matching q), the cells, and the
//                                   plots of time to ready and heal latency over the last hours
//   GET  /api/deletions             every cell's held deletions
//   POST /api/deletions/approve     {cell, customerIds}: do these held deletions now
//   POST /api/deletions/drop        {cell, customerIds}: never do them
//   GET  /api/dead-letters          the dead letters (ids and attributes, never the data)
//   POST /api/dead-letters/replay   {messageIds}: publish them again to their source topics
//   GET  /api/stream                Server-Sent Events: changes and tenant outcomes, live
// Every call: the ID token (401 without a valid one), then the operator rule (403 for anyone
// else, with nothing shown), then valibot on the query and body (400, nothing done), then the
// handler. Every action is one audit line naming the operator, what, where and the answer.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import * as v from 'valibot';
import { AuthError } from '../../shared/auth/errors.ts';
import type { Customer } from '../../shared/auth/identity-platform.ts';
import { DomainError } from '../../shared/errors.ts';
import { functionApp } from '../../shared/http/app.ts';
import { relay } from '../../shared/http/call-function.ts';
import { renderAuthFailure } from '../../shared/http/errors.ts';
import { readJson } from '../../shared/http/json-body.ts';
import { readQuery } from '../../shared/http/query.ts';
import { jsonLogger } from '../../shared/log.ts';
import { CustomerIdSchema } from '../provision/schema.ts';
import {
  type ConsoleDeps,
  changeStream,
  deadLetterList,
  decideDeletions,
  heldView,
  operatorRefusal,
  replayDeadLetters,
  tenantsView,
} from './handler.ts';
import { page } from './page.ts';

type Env = { Variables: { operator: Customer & { email: string } } };

const DecisionSchema = v.strictObject({
  cell: v.pipe(v.string(), v.maxLength(12)),
  customerIds: v.pipe(v.array(CustomerIdSchema), v.minLength(1), v.maxLength(100)),
});
const ReplaySchema = v.strictObject({
  messageIds: v.pipe(
    v.array(v.pipe(v.string(), v.regex(/^[\w-]{1,100}$/))),
    v.minLength(1),
    v.maxLength(100),
  ),
});
const TenantsQuery = {
  q: v.optional(v.pipe(v.string(), v.maxLength(100)), ''),
  hours: v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,3}$/), v.transform(Number), v.minValue(1), v.maxValue(168)),
    '6',
  ),
};

export function createApp(deps: ConsoleDeps): Hono<Env> {
  const app = functionApp<Env>();
  const log = deps.log ?? jsonLogger;
  const html = page(deps.signIn);
  const cellNames = new Set(deps.cells.map((c) => c.name));
  const audit = (c: Context<Env>, action: string, detail: Record<string, unknown>) =>
    log('INFO', 'operator action', {
      audit: true,
      operator: c.get('operator').email,
      action,
      ...detail,
    });

  app.get('/', (c) => {
    readQuery(c, {});
    return c.html(html);
  });

  // The token and the operator rule before anything else, the body included.
  app.use('/api/*', operatorsOnly(deps));

  app.get('/api/me', (c) => {
    readQuery(c, {});
    return c.json({ email: c.get('operator').email });
  });

  app.get('/api/tenants', async (c) => {
    const { q, hours } = readQuery(c, TenantsQuery);
    return c.json(await tenantsView(deps, q, hours));
  });

  app.get('/api/deletions', async (c) => {
    readQuery(c, {});
    return c.json(await heldView(deps));
  });

  for (const decision of ['approve', 'drop'] as const) {
    app.post(`/api/deletions/${decision}`, async (c) => {
      readQuery(c, {});
      const { cell, customerIds } = await readJson(c, DecisionSchema, { maxBytes: 8192 });
      if (!cellNames.has(cell))
        throw new DomainError('invalid-input', 'choose one of the cells', {
          fields: [{ field: 'cell', expected: [...cellNames].join(', ') }],
        });
      const answer = await decideDeletions(deps, cell, decision, customerIds);
      audit(c, `deletions.${decision}`, { cell, customerIds, status: answer.status });
      return relay(answer);
    });
  }

  app.get('/api/dead-letters', async (c) => {
    readQuery(c, {});
    if (!deps.pubsub) return c.json({ configured: false, messages: [] });
    return c.json({ configured: true, ...(await deadLetterList(deps.pubsub)) });
  });

  app.post('/api/dead-letters/replay', async (c) => {
    readQuery(c, {});
    const { messageIds } = await readJson(c, ReplaySchema, { maxBytes: 16_384 });
    if (!deps.pubsub) throw new DomainError('not-allowed', 'Pub/Sub is not configured here');
    const answer = await replayDeadLetters(deps.pubsub, messageIds);
    audit(c, 'dead-letters.replay', {
      messageIds,
      outcomes: answer.outcomes.map((o) => o.outcome),
    });
    return c.json(answer);
  });

  app.get('/api/stream', (c) => {
    readQuery(c, {});
    if (!deps.pubsub) return c.json({ configured: false });
    return new Response(changeStream(deps.pubsub), {
      headers: {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      },
    });
  });
  return app;
}

/**
 * 401 for a missing, bad or foreign token; 403 `not-allowed` for a valid one that is not an
 * operator's (the reason as a code in the log, never in the answer); 503 if the keys could not be
 * fetched. Otherwise the operator is set.
 */
function operatorsOnly(deps: ConsoleDeps): MiddlewareHandler<Env> {
  const log = deps.log ?? jsonLogger;
  return async (c, next) => {
    let who: Customer;
    try {
      who = await deps.operator(c.req.header('authorization'));
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      return renderAuthFailure(c, error, {
        log,
        who: 'customer',
        messages: { 401: 'sign in first' },
      });
    }
    const refusal = operatorRefusal(who, deps.operators);
    if (refusal) {
      log('WARNING', 'operator refused', {
        reason: refusal,
        method: c.req.method,
        path: c.req.path,
      });
      return c.json(
        { error: 'not-allowed', message: 'this console is for kubefn operators only' },
        403,
      );
    }
    c.set('operator', { ...who, email: who.email?.toLowerCase() ?? '' });
    await next();
  };
}
