// One place that turns failures into HTTP answers: one table from every failure code to its
// status, a safe body, and the retry hint. Handlers throw codes (shared/errors.ts), never
// statuses; anything that is not a KubefnError is a programming error: 500, its cause logged.
// A caller turned away at the door (an AuthError from a token check) is answered by
// renderAuthFailure: the same table's status, and nothing of the reason.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { AuthError, AuthFailureCode } from '../auth/errors.ts';
import { type DomainCode, DomainError, KubefnError } from '../errors.ts';
import type { ComputeErrorCode } from '../gcp/compute.ts';
import { KubeError, type KubeErrorCode, reasonOf } from '../kube/errors.ts';
import { jsonLogger, type Logger } from '../log.ts';

export type FailureCode = DomainCode | KubeErrorCode | AuthFailureCode | ComputeErrorCode;

// Our own identity lacking rights, or a call we built wrong, is our fault (500), not the caller's.
export const statusOf: Record<FailureCode, ContentfulStatusCode> = {
  // The caller's request
  'invalid-input': 400,
  'invalid-json': 400,
  'unsupported-media-type': 415,
  'too-large': 413,
  'reserved-key': 400,
  'unknown-kind': 400,
  'confirmation-required': 400,
  'deletion-held': 429, // the deletion budget is spent: held until the window allows or approval
  'requested-in-future': 400,
  'not-allowed': 403,
  'kubefn-key': 403, // kubefn's own labels, for every caller
  'namespace-not-allowed': 403,
  'no-such-tenant': 404,
  'namespace-taken': 409,
  'tenant-terminating': 409,
  'email-not-verified': 403,
  'plan-not-entitled': 403,
  'tenant-limit': 403, // the customer's plan allows no more tenants
  'capacity-reached': 409, // the deployment's ceiling on all tenants
  'signup-busy': 429, // the same customer's other sign-ups held the lock past the wait
  // Placement: a region not offered, every cell of it full or down, the tenant's cell down
  'unknown-region': 400,
  'region-full': 409,
  'region-unavailable': 503,
  'cell-unavailable': 503,
  // Moves: the tenant is frozen while it moves (retry later), another move is under way, a cell
  // not configured or full, the target not Ready yet (the move resumes when asked again)
  'tenant-moving': 503,
  'move-in-progress': 409,
  'not-moving': 409,
  'move-not-ready': 503,
  'unknown-cell': 400,
  'cell-full': 409,
  // Another service kubefn calls
  'provisioning-refused': 502,
  'provisioning-unavailable': 503,
  // Kubernetes (and Compute, which shares these codes)
  'not-found': 404,
  'already-exists': 409,
  conflict: 409,
  forbidden: 500,
  unauthorized: 500,
  invalid: 500, // our bundle or patch was refused: ours to fix
  gone: 500,
  'too-many-requests': 503,
  'server-timeout': 503,
  unavailable: 503,
  'bad-request': 500,
  unsupported: 500,
  internal: 502, // kube-apiserver failed this request; a retry would fail the same way
  timeout: 503,
  aborted: 500,
  network: 503,
  config: 500,
  unknown: 500,
  'operation-failed': 502,
  // Token checks (answered by renderAuthFailure below): 403 for a known caller that may not
  // ('not-allowed', above), 503 when the keys could not be fetched, 401 otherwise
  missing: 401,
  malformed: 401,
  ambiguous: 401,
  'untrusted-issuer': 401,
  'alg-not-allowed': 401,
  'unknown-key': 401,
  'bad-signature': 401,
  'signature-removed': 401,
  expired: 401,
  'not-yet-valid': 401,
  'too-old': 401,
  'wrong-audience': 401,
  'bad-claims': 401,
  'keys-unavailable': 503,
};

export function renderError(c: Context, error: unknown, log: Logger = jsonLogger): Response {
  if (!(error instanceof KubefnError)) {
    log('ERROR', 'unexpected failure', {
      detail: error instanceof Error ? (error.stack ?? error.message) : String(error),
      path: c.req.path,
    });
    return c.json({ error: 'internal' }, 500);
  }
  const status = statusOf[error.code as FailureCode] ?? 500;
  if (error.retryable) c.header('Retry-After', '5');
  if (error instanceof DomainError) {
    return c.json(
      {
        error: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
        ...(error.retryable ? { retryable: true } : {}),
      },
      status,
    );
  }
  // A dependency's failure: its message stays in the log (it may name hosts, paths or objects).
  log(status >= 500 ? 'ERROR' : 'WARNING', 'dependency call failed', {
    code: error.code,
    status: error instanceof KubeError ? error.status : undefined,
    detail: error.message,
    path: c.req.path,
  });
  // Which object, and why in words safe to show, when the handler said what it was writing.
  const object = error instanceof KubeError ? error.object : undefined;
  return c.json(
    {
      error: error.code,
      ...(object
        ? {
            message: `${object.kind} ${object.name}: ${reasonOf(error.code)}`,
            object,
          }
        : {}),
      retryable: error.retryable,
    },
    status,
  );
}

/** What a turned-away caller is told, by status: the reason stays in the log. */
const authAnswers = { 401: 'unauthenticated', 403: 'forbidden', 503: 'unavailable' } as const;

type AuthFailureOptions = {
  log?: Logger | undefined;
  /** Who was turned away, for the log line: a service calling kubefn, or a signed-in customer. */
  who: 'caller' | 'customer';
  /** A sentence for a person reading the answer (the sign-up page), by status. */
  messages?: Partial<Record<keyof typeof authAnswers, string>>;
};

/**
 * The answer to a caller whose token was refused: 401 with WWW-Authenticate, 403, or 503 with
 * Retry-After (the issuer's keys, not the caller, failed). The body names the status only; the
 * reason (expired, wrong audience, ...) is the log's, so a prober learns nothing from it.
 */
export function renderAuthFailure(
  c: Context,
  error: AuthError,
  { log = jsonLogger, who, messages = {} }: AuthFailureOptions,
): Response {
  const status = statusOf[error.code] as keyof typeof authAnswers;
  log(status === 503 ? 'ERROR' : 'WARNING', `${who} rejected`, {
    reason: error.code,
    method: c.req.method,
    path: c.req.path,
  });
  if (status === 401) c.header('WWW-Authenticate', 'Bearer error="invalid_token"');
  if (status === 503) c.header('Retry-After', '10');
  const message = messages[status];
  return c.json({ error: authAnswers[status], ...(message ? { message } : {}) }, status);
}
