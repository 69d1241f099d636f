// The signup backend: serves the page, checks the signed-in customer's ID token on every API
// call, and calls the provisioning function with its own service-account token (the browser
// never holds one), passing who the customer is: everything done for the click is bound to them.
//   GET  /                     the page
//   POST /api/signup           {customerId, plan} -> provision's answer (a new tenant needs a
//                              verified email; a paid plan needs the customer's entitlement)
//   GET  /api/tenants          the customer's own tenants
//   GET  /api/tenants/:id      one of them, for the live view (anyone else's answers 404)
//   GET  /api/regions          the regions a customer may choose (placement's; none when the
//                              backend calls one cell's provision directly)
// Answers name the tenant's region, never its cell: where a customer's data lives is theirs to
// know, how kubefn spreads its clusters is the operator's.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import * as v from 'valibot';
import { AuthError } from '../../shared/auth/errors.ts';
import type { Customer } from '../../shared/auth/identity-platform.ts';
import { DomainError } from '../../shared/errors.ts';
import { functionApp } from '../../shared/http/app.ts';
import { callFunction, relay } from '../../shared/http/call-function.ts';
import { renderAuthFailure } from '../../shared/http/errors.ts';
import { readJson } from '../../shared/http/json-body.ts';
import { readQuery } from '../../shared/http/query.ts';
import type { TokenProvider } from '../../shared/kube/index.ts';
import { jsonLogger, type Logger } from '../../shared/log.ts';
import { page, type SignInConfig } from './page.ts';

export type SignupDeps = {
  provisionUrl: string;
  token: TokenProvider;
  /** The customer an Authorization header names (Identity Platform ID token); AuthError if none. */
  customer: (authorization: string | undefined) => Promise<Customer>;
  signIn: SignInConfig;
  log?: Logger;
};

type Env = { Variables: { customer: Customer } };

const SignupSchema = v.strictObject({
  customerId: v.pipe(v.string(), v.maxLength(40)),
  plan: v.pipe(v.string(), v.maxLength(20)),
  region: v.optional(v.pipe(v.string(), v.maxLength(40))),
});

export function createApp(deps: SignupDeps): Hono<Env> {
  const app = functionApp<Env>();
  const log = deps.log ?? jsonLogger;

  const html = page(deps.signIn);
  // Every route reads its query strictly, as provision does: a parameter this backend does not
  // take (`?dryRun=true`) is a 400, never ignored on the way to a real sign-up.
  app.get('/', (c) => {
    readQuery(c, {});
    return c.html(html);
  });

  // The token before anything else, the body included.
  app.use('/api/*', signedIn(deps, log));

  app.post('/api/signup', async (c) => {
    readQuery(c, {});
    const customer = c.get('customer');
    if (!customer.emailVerified || !customer.email) {
      throw new DomainError(
        'email-not-verified',
        'verify your email address first: open the link we sent you, then sign in again',
      );
    }
    const input = await readJson(c, SignupSchema, { maxBytes: 1024 });
    const owner = {
      uid: customer.id,
      email: customer.email,
      ...(customer.entitlement ? { entitlement: customer.entitlement } : {}),
    };
    return forward(deps, 'POST', '/tenants', { ...input, owners: [], owner });
  });

  app.get('/api/regions', async (c) => {
    readQuery(c, {});
    const answer = await forward(deps, 'GET', '/regions');
    // One cell's provision has no regions to offer: the page offers none.
    return answer.status === 404 ? c.json({ regions: [] }) : answer;
  });

  app.get('/api/tenants', (c) => {
    readQuery(c, {});
    return forward(deps, 'GET', `/tenants?owner=${encodeURIComponent(c.get('customer').id)}`);
  });

  app.get('/api/tenants/:customerId', (c) => {
    readQuery(c, {});
    return forward(
      deps,
      'GET',
      `/tenants/${encodeURIComponent(c.req.param('customerId'))}?owner=${encodeURIComponent(c.get('customer').id)}`,
    );
  });
  return app;
}

/** The words the sign-up page shows beside the code. */
const customerMessages = { 401: 'sign in first', 503: 'sign-in cannot be checked now' };

/**
 * 401 for a missing, bad, forged or foreign token (the reason as a code in the log, never in the
 * answer), 503 if Identity Platform's keys could not be fetched; otherwise the customer is set.
 */
function signedIn(deps: SignupDeps, log: Logger): MiddlewareHandler<Env> {
  return async (c: Context<Env>, next) => {
    try {
      c.set('customer', await deps.customer(c.req.header('authorization')));
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      return renderAuthFailure(c, error, { log, who: 'customer', messages: customerMessages });
    }
    await next();
  };
}

/** Calls placement (or a cell's provision) and relays its answer. */
async function forward(
  deps: SignupDeps,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  const answer = await callFunction(
    { url: deps.provisionUrl, token: deps.token },
    { method, path, ...(body === undefined ? {} : { body }) },
    () =>
      new DomainError(
        'provisioning-unavailable',
        'provisioning is not reachable; try again',
        undefined,
        { retryable: true },
      ),
  );
  return relay({ status: answer.status, text: withoutCell(answer.text, answer.status) });
}

/** The answer without the tenant's cell (placement names it for operators). */
function withoutCell(text: string, status: number): string {
  if (status >= 300) return text;
  try {
    const body = JSON.parse(text) as { cell?: unknown; tenants?: { cell?: unknown }[] };
    delete body.cell;
    for (const tenant of body.tenants ?? []) delete tenant.cell;
    return JSON.stringify(body);
  } catch {
    return text;
  }
}
