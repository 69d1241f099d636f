// Hono middleware: every request proves who sent it, and only allow-listed principals pass.
// 401 (with WWW-Authenticate) for a missing, bad or ambiguous token, 403 for a valid principal
// that is not allowed, 503 if the issuer's keys could not be fetched. The reason goes to the log
// as a code; the response says nothing about keys, issuers or configuration.
import type { MiddlewareHandler } from 'hono';
import { jsonLogger, type Logger } from '../log.ts';
import { AuthError } from './errors.ts';
import type { Principal } from './issuers.ts';
import { checkToken, type VerifyOptions } from './verify-token.ts';

export type CallerRule = VerifyOptions & {
  /** Principal ids allowed here: Google service-account emails or system:serviceaccount:NS:NAME. */
  allow: string[];
  log?: Logger;
};

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
      const failure = error;
      log(failure.status === 503 ? 'ERROR' : 'WARNING', 'caller rejected', {
        reason: failure.code,
        method: c.req.method,
        path: c.req.path,
      });
      if (failure.status === 401) {
        c.header('WWW-Authenticate', 'Bearer error="invalid_token"');
        return c.json({ error: 'unauthenticated' }, 401);
      }
      if (failure.status === 503) {
        c.header('Retry-After', '10');
        return c.json({ error: 'unavailable' }, 503);
      }
      return c.json({ error: 'forbidden' }, 403);
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
