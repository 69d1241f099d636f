// Kubernetes failures as one error type with a stable code, translated once at the transport
// boundary from a Status object, an HTTP status or a socket failure.
import { DomainError, KubefnError } from '../errors.ts';

export type KubeErrorCode =
  | 'not-found'
  | 'already-exists'
  | 'conflict'
  | 'forbidden'
  | 'unauthorized'
  | 'invalid'
  | 'gone'
  | 'too-many-requests'
  | 'server-timeout'
  | 'unavailable'
  | 'bad-request'
  | 'unsupported'
  | 'internal'
  | 'timeout'
  | 'aborted'
  | 'network'
  | 'config'
  | 'unknown';

/** Which object a failure was about, for the caller: kind and names, nothing of its content. */
export type FailedObject = { kind: string; namespace?: string | undefined; name: string };

/**
 * The words a caller may see for each code. The server's own message stays in the log: it can
 * name kubefn's identity and the rights it lacks, addresses, or quote the submitted object.
 */
const reasons: Record<KubeErrorCode, string> = {
  'not-found': 'it does not exist',
  'already-exists': 'it already exists',
  conflict: 'it was changed by someone else meanwhile',
  forbidden: 'kubefn is not allowed to do this there',
  unauthorized: "the cluster did not accept kubefn's credentials",
  invalid: 'the cluster refused it as invalid',
  gone: 'the cluster no longer has that version',
  'too-many-requests': 'the cluster is busy',
  'server-timeout': 'the cluster did not finish in time',
  unavailable: 'the cluster is unavailable',
  'bad-request': 'the cluster could not read the request',
  unsupported: 'the cluster does not support this',
  internal: 'the cluster failed to do it (an internal error: the operator finds it in the log)',
  timeout: 'the cluster did not answer in time',
  aborted: 'the request was cancelled',
  network: 'the cluster could not be reached',
  config: "kubefn's connection to the cluster is misconfigured",
  unknown: 'the cluster refused it',
};

/** A sentence safe to show for a failure code (Compute's share these codes). */
export function reasonOf(code: string): string {
  return reasons[code as KubeErrorCode] ?? 'the change was refused';
}

/**
 * A failure as a caller may be told it, for a job's per-item report: its code, a safe sentence
 * (a DomainError's own message is one; a dependency's is replaced by reasonOf), and the object.
 */
export function safeFailure(error: KubefnError): {
  code: string;
  detail: string;
  object?: FailedObject;
} {
  const object = error instanceof KubeError ? error.object : undefined;
  return {
    code: error.code,
    detail: error instanceof DomainError ? error.message : reasonOf(error.code),
    ...(object ? { object } : {}),
  };
}

/** A field that failed validation, from Status.details.causes. */
export type FieldCause = { field?: string; reason?: string; message?: string };

/** Whether retrying the same request can help, by code. */
const retryable: Record<KubeErrorCode, boolean> = {
  'not-found': false,
  'already-exists': false,
  conflict: false, // retrying needs a fresh read first, not the same request
  forbidden: false,
  unauthorized: false,
  invalid: false,
  gone: false, // needs a relist, not a retry
  'too-many-requests': true,
  'server-timeout': true,
  unavailable: true,
  'bad-request': false,
  unsupported: false,
  // 500 InternalError is kube-apiserver's answer to this request (an address it cannot allocate,
  // an admission webhook failing, storage refusing): the same request fails the same way, and a
  // Pub/Sub redelivery forever would not help. A passing condition is 429, 503 or 504.
  internal: false,
  timeout: true,
  aborted: false,
  network: true,
  config: false,
  unknown: false,
};

/** Status.reason first (it is the most precise), then the HTTP status. */
const byReason: Record<string, KubeErrorCode> = {
  NotFound: 'not-found',
  AlreadyExists: 'already-exists',
  Conflict: 'conflict',
  Forbidden: 'forbidden',
  Unauthorized: 'unauthorized',
  Invalid: 'invalid',
  Gone: 'gone',
  Expired: 'gone',
  TooManyRequests: 'too-many-requests',
  ServerTimeout: 'server-timeout',
  Timeout: 'server-timeout',
  ServiceUnavailable: 'unavailable',
  BadRequest: 'bad-request',
  MethodNotAllowed: 'unsupported',
  NotAcceptable: 'unsupported',
  UnsupportedMediaType: 'unsupported',
  RequestEntityTooLarge: 'bad-request',
  InternalError: 'internal',
};

const byStatus: Record<number, KubeErrorCode> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'unsupported',
  406: 'unsupported',
  409: 'conflict',
  410: 'gone',
  413: 'bad-request',
  415: 'unsupported',
  422: 'invalid',
  429: 'too-many-requests',
  500: 'internal',
  502: 'unavailable',
  503: 'unavailable',
  504: 'server-timeout',
};

export class KubeError extends KubefnError<KubeErrorCode> {
  override readonly name = 'KubeError';
  readonly code: KubeErrorCode;
  /** HTTP status, or 0 when no answer came back. */
  readonly status: number;
  readonly retryable: boolean;
  readonly causes: FieldCause[];
  /** Seconds the server asked us to wait (Retry-After or Status.details.retryAfterSeconds). */
  readonly retryAfterSeconds: number | undefined;
  /** The object the work was about, when the caller named it (see `about`). */
  readonly object: FailedObject | undefined;

  constructor(
    code: KubeErrorCode,
    message: string,
    extra: {
      status?: number;
      causes?: FieldCause[];
      retryAfterSeconds?: number | undefined;
      cause?: unknown;
      object?: FailedObject | undefined;
    } = {},
  ) {
    super(redact(message), extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.status = extra.status ?? 0;
    this.retryable = retryable[code];
    this.causes = extra.causes ?? [];
    this.retryAfterSeconds = extra.retryAfterSeconds;
    this.object = extra.object;
  }

  /** This failure, told as being about `object`; any other error is returned as it is. */
  static about(error: unknown, object: FailedObject): unknown {
    if (!(error instanceof KubeError)) return error;
    const { code, message, status, causes, retryAfterSeconds } = error;
    return new KubeError(code, message, { status, causes, retryAfterSeconds, object });
  }
}

type Status = {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: FieldCause[]; retryAfterSeconds?: number; name?: string; kind?: string };
};

/** Translates an error answer (its body parsed if it is JSON) into a KubeError. */
export function errorFromResponse(
  status: number,
  body: string,
  request: { method: string; path: string; retryAfter?: string | undefined },
): KubeError {
  let parsed: Status = {};
  try {
    parsed = JSON.parse(body) as Status;
  } catch {
    // Not JSON (a proxy's HTML page, say): the HTTP status alone decides.
  }
  const fromStatus = parsed.kind === 'Status' ? parsed : {};
  const code =
    byReason[fromStatus.reason ?? ''] ??
    byStatus[status] ??
    (status >= 500 ? 'internal' : 'unknown');
  const retryAfter =
    numberOrUndefined(request.retryAfter) ?? fromStatus.details?.retryAfterSeconds ?? undefined;
  const what = fromStatus.message ?? `HTTP ${status}`;
  return new KubeError(code, `${request.method} ${request.path}: ${what}`, {
    status,
    causes: fromStatus.details?.causes ?? [],
    ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
  });
}

/** A watch stream's ERROR event carries a Status; 410 there means "relist". */
export function errorFromStatus(status: Status, path: string): KubeError {
  return errorFromResponse(status.code ?? 500, JSON.stringify({ kind: 'Status', ...status }), {
    method: 'WATCH',
    path,
  });
}

function numberOrUndefined(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

// Bearer tokens are JWTs or opaque strings; a message must never carry one, even if a server
// or proxy echoed a header back.
const jwt = /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
const bearer = /(bearer\s+)\S+/gi;

// Validation messages can quote the whole submitted object (a Secret's data among it).
const quotedObject = /'\{.*\}'|\(\{.*\}\)|\{".*\}/g;

export function redact(text: string): string {
  return text
    .replace(quotedObject, '{…}')
    .replace(jwt, '[redacted]')
    .replace(bearer, '$1[redacted]');
}
