// Hono middleware: every request proves who sent it (shared/auth checks the token), and only
// allow-listed principals pass. The refusal is renderAuthFailure's (errors.ts): 401 for a
// missing, bad or ambiguous token, 403 for a valid principal that is not allowed, 503 if the
// issuer's keys could not be fetched; the reason goes to the log as a code, never to the caller.
// Here rather than in shared/auth: it is the HTTP side (Hono, the answer), and shared/auth stays
// free of shared/http, which imports it.
import type { MiddlewareHandler } from 'hono';
import type { CallerRule } from '../auth/config.ts';
import { AuthError } from '../auth/errors.ts';
import type { Principal } from '../auth/issuers.ts';
import { checkToken } from '../auth/verify-token.ts';
import { jsonLogger } from '../log.ts';
import { renderAuthFailure } from './errors.ts';

export type AuthVariables = { principal: Principal };

export function requireCaller(rule: CallerRule): MiddlewareHandler<{ Variables: AuthVariables }> {
  const allowed = new Set(rule.allow);
  const log = rule.log ?? jsonLogger;
  const recent = recentlyVerified(rule);
  return async function requireCallerMiddleware(c, next) {
    let principal: Principal;
    try {
      // Cloud Run's IAM check reads X-Serverless-Authorization instead of Authorization when
      // both are sent, and passes Authorization on as it came: behind that check
      // (platformVerified) the claims read here would be ones nobody verified. kubefn's callers
      // send Authorization only, so a second credential is refused, whatever it holds.
      if (c.req.header('x-serverless-authorization') !== undefined)
        throw new AuthError('ambiguous', 'X-Serverless-Authorization');
      principal = await recent.check(c.req.header('authorization'));
      if (!allowed.has(principal.id)) throw new AuthError('not-allowed');
    } catch (error) {
      // Only a token check's failure is answered here; anything else is a bug: 500 via onError.
      if (!(error instanceof AuthError)) throw error;
      return renderAuthFailure(c, error, { log, who: 'caller' });
    }
    c.set('principal', principal);
    log('DEBUG', 'caller accepted', { principal: principal.id, path: c.req.path });
    await next();
  };
}

/**
 * The tokens a route accepted lately, by their exact text (signature included), so that a caller
 * reusing its token (the signup backend and Cloud Scheduler keep one for its lifetime) is not
 * verified again on every request: the signature check goes through the thread pool, measured
 * at 0.5 ms of the 3 ms a warm provisioning request spends outside its Kubernetes calls. An entry
 * lasts a minute at most, and never past the token's exp or its issuer's age limit; jose keeps
 * fetched keys for ten minutes, so a key the issuer withdraws is honoured no longer than before.
 * Only accepted tokens are kept, and at most `maxEntries` (the oldest goes first).
 */
function recentlyVerified(rule: CallerRule, maxEntries = 256, maxSeconds = 60) {
  const accepted = new Map<string, { principal: Principal; until: number }>();
  const now = () => rule.now?.() ?? Date.now() / 1000;
  return {
    async check(authorization: string | undefined): Promise<Principal> {
      const known = authorization === undefined ? undefined : accepted.get(authorization);
      if (known && now() < known.until) return known.principal;
      const { principal, validUntil } = await checkToken(authorization, rule);
      if (authorization !== undefined) {
        accepted.delete(authorization);
        if (accepted.size >= maxEntries) accepted.delete(accepted.keys().next().value ?? '');
        accepted.set(authorization, { principal, until: Math.min(validUntil, now() + maxSeconds) });
      }
      return principal;
    },
  };
}

/**
 * requireCaller for a rule that comes with the function's configuration, loaded while the
 * function starts: the middleware is built on the first request, once.
 */
export function requireCallerWhenReady(
  rule: () => Promise<CallerRule>,
): MiddlewareHandler<{ Variables: AuthVariables }> {
  let middleware: MiddlewareHandler<{ Variables: AuthVariables }> | undefined;
  return async (c, next) => {
    middleware ??= requireCaller(await rule());
    return middleware(c, next);
  };
}
