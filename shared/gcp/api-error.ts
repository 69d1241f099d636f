// The errors of Google's JSON APIs (Compute, Firestore), translated once: their answers share one
// shape ({error: {code, message, status, errors: [{reason}]}}), so one class and one translator
// serve every client in shared/gcp.
import { KubefnError } from '../errors.ts';
import type { ErrorTranslators } from '../transport/https-client.ts';

/** Google API failures by code; the codes Kubernetes also has mean the same (412 is a conflict). */
export type GoogleApiErrorCode =
  | 'not-found'
  | 'forbidden'
  | 'unauthorized'
  | 'conflict' // 412 conditionNotMet: the fingerprint is stale; read again
  | 'bad-request'
  | 'too-many-requests'
  | 'unavailable'
  | 'internal'
  | 'network'
  | 'timeout'
  | 'aborted' // the caller's signal ended the call
  | 'operation-failed'
  | 'unknown';

const codeByStatus: Record<number, GoogleApiErrorCode> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  409: 'conflict',
  412: 'conflict',
  429: 'too-many-requests',
  500: 'internal',
  502: 'unavailable',
  503: 'unavailable',
  504: 'timeout',
};

export class GoogleApiError extends KubefnError<GoogleApiErrorCode> {
  override readonly name = 'GoogleApiError';
  readonly code: GoogleApiErrorCode;
  /** Worth trying again later: throttling, the server's trouble, or no answer at all. */
  readonly retryable: boolean;
  /** Seconds a 429 or 503 asked us to wait (Retry-After). */
  retryAfterSeconds: number | undefined;
  constructor(
    message: string,
    /** HTTP status, 0 when no answer came back, 200 for a failed Operation. */
    readonly status: number,
    readonly reason: string,
    code?: GoogleApiErrorCode,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.code =
      code ??
      codeByStatus[status] ??
      (status === 0 ? 'network' : status >= 500 ? 'internal' : 'unknown');
    this.retryable = [
      'too-many-requests',
      'unavailable',
      'internal',
      'network',
      'timeout',
    ].includes(this.code);
  }
}

/** No answer (status 0) keeps the transport's code: timeout, aborted or network. */
export const googleApiErrors: ErrorTranslators = {
  fromResponse: errorFrom,
  fromTransport: (code, message, cause) => new GoogleApiError(message, 0, code, code, cause),
};

function errorFrom(
  status: number,
  text: string,
  request: { method: string; path: string; retryAfter?: string | undefined },
): GoogleApiError {
  const what = `${request.method} ${request.path}`;
  let reason = 'unknown';
  let message = `answered ${status}`;
  try {
    const body = JSON.parse(text) as {
      error?: { message?: string; status?: string; errors?: { reason?: string }[] };
    };
    // Compute names a reason (conditionNotMet); Firestore only a status (FAILED_PRECONDITION).
    reason = body.error?.errors?.[0]?.reason ?? body.error?.status ?? reason;
    message = body.error?.message ?? message;
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  const error = new GoogleApiError(`${what}: ${message}`, status, reason);
  const retryAfter = Number(request.retryAfter);
  if (request.retryAfter !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0)
    error.retryAfterSeconds = retryAfter;
  return error;
}
