// The signup backend: serves the page, and calls the provisioning function with its own
// service-account token (the browser never holds one). Only the customer's input goes through.
//   GET  /                     the page
//   POST /api/signup           {customerId, plan} -> provision's answer
//   GET  /api/tenants/:id      the tenant's status, for the live view
import { Hono } from 'hono';
import * as v from 'valibot';
import { DomainError } from '../../shared/errors.ts';
import { renderError } from '../../shared/http/errors.ts';
import { readJson } from '../../shared/http/json-body.ts';
import type { TokenProvider } from '../../shared/kube/index.ts';
import { page } from './page.ts';

export type SignupDeps = { provisionUrl: string; token: TokenProvider };

const SignupSchema = v.strictObject({
  customerId: v.pipe(v.string(), v.maxLength(40)),
  plan: v.pipe(v.string(), v.maxLength(20)),
});

export function createApp(deps: SignupDeps): Hono {
  const app = new Hono();
  app.onError((error, c) => renderError(c, error));
  app.notFound((c) => c.json({ error: 'not-found' }, 404));

  app.get('/', (c) => c.html(page));

  app.post('/api/signup', async (c) => {
    const input = await readJson(c, SignupSchema, { maxBytes: 1024 });
    return forward(deps, 'POST', '/tenants', { ...input, owners: [] });
  });

  app.get('/api/tenants/:customerId', (c) =>
    forward(deps, 'GET', `/tenants/${encodeURIComponent(c.req.param('customerId'))}`),
  );
  return app;
}

/** Calls the provisioning function and relays its answer; its failures are not ours to explain. */
async function forward(
  deps: SignupDeps,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  const res = await fetch(`${deps.provisionUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${await deps.token()}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).catch(() => {
    throw new DomainError(
      'provisioning-unavailable',
      'provisioning is not reachable; try again',
      undefined,
      { retryable: true },
    );
  });
  if (res.status === 401 || res.status === 403) {
    // Our own identity was refused: a deployment problem, never the customer's.
    throw new DomainError('provisioning-refused', 'provisioning refused this backend');
  }
  return new Response(await res.text(), {
    status: res.status,
    headers: { 'content-type': 'application/json' },
  });
}
