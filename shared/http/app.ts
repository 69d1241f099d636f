// The Hono app every function starts from: failures rendered by one function (errors.ts), and a
// JSON 404 for unknown routes.
import { Hono } from 'hono/quick';
import type { AuthVariables } from '../auth/index.ts';
import { renderError } from './errors.ts';

export type FunctionEnv = { Variables: AuthVariables };

export function functionApp(): Hono<FunctionEnv> {
  const app = new Hono<FunctionEnv>();
  app.onError((error, c) => renderError(c, error));
  app.notFound((c) => c.json({ error: 'not-found' }, 404));
  return app;
}
