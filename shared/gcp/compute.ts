// The few Compute Engine v1 calls the ingress-timeout function makes: read a backend service,
// patch its timeoutSec with the fingerprint it was read with, and wait for the Operation.
// Global and regional backend services alike, on the node:https transport shared/kube uses too
// (shared/transport) rather than fetch: the first fetch loads undici (75-95 ms on a cold start).
//   GET   {base}/projects/P/global/backendServices/NAME        (or regions/R/backendServices)
//   PATCH same, ?requestId=UUID   body {timeoutSec, fingerprint} -> Operation
//   POST  {base}/projects/P/global/operations/OP/wait          (or regions/R/operations)
// A stale fingerprint answers 412 (conditionNotMet): the caller re-reads and tries again.
import { randomUUID } from 'node:crypto';
import { KubefnError } from '../errors.ts';
import { type ErrorTranslators, HttpsClient } from '../transport/https-client.ts';

export type BackendServiceRef = { project: string; region?: string | undefined; name: string };
export type BackendService = { name: string; timeoutSec?: number; fingerprint: string };
export type Operation = {
  name: string;
  status: 'PENDING' | 'RUNNING' | 'DONE';
  error?: { errors?: { code?: string; message?: string }[] };
};

/** Compute failures by code; the codes Kubernetes also has mean the same (412 is a conflict). */
export type ComputeErrorCode =
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

const codeByStatus: Record<number, ComputeErrorCode> = {
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

export class ComputeError extends KubefnError<ComputeErrorCode> {
  override readonly name = 'ComputeError';
  readonly code: ComputeErrorCode;
  /** Worth trying again later: throttling, the server's trouble, or no answer at all. */
  readonly retryable: boolean;
  /** Seconds a 429 or 503 asked us to wait (Retry-After). */
  retryAfterSeconds: number | undefined;
  constructor(
    message: string,
    /** HTTP status, 0 when no answer came back, 200 for a failed Operation. */
    readonly status: number,
    readonly reason: string,
    code?: ComputeErrorCode,
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

export type ComputeClient = ReturnType<typeof computeClient>;

export function computeClient(options: {
  baseUrl?: string | undefined;
  token: () => Promise<string>;
  timeoutMs?: number;
}) {
  const base = new URL(options.baseUrl ?? 'https://compute.googleapis.com/compute/v1');
  const prefix = base.pathname.replace(/\/$/, '');
  // The shared transport (shared/kube's too): keep-alive agent, whole-request deadline, the caller's
  // abort, retries with the one Backoff (429 honouring Retry-After, 5xx and no answer). Every
  // call here may be repeated: GET and wait read, and a PATCH
  // carries its requestId, which Compute applies at most once.
  const transport = new HttpsClient({ server: base.origin, token: options.token }, computeErrors, {
    timeoutMs: options.timeoutMs ?? 30_000,
  });
  const scope = (ref: { project: string; region?: string | undefined }) =>
    `projects/${encodeURIComponent(ref.project)}/${ref.region ? `regions/${encodeURIComponent(ref.region)}` : 'global'}`;

  function call<T>(
    method: string,
    path: string,
    body?: unknown,
    extra: { timeoutMs?: number; signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    return transport.request<T>(`${prefix}/${path}`, { method, body, idempotent: true, ...extra });
  }

  return {
    getBackendService(ref: BackendServiceRef): Promise<BackendService> {
      return call('GET', `${scope(ref)}/backendServices/${encodeURIComponent(ref.name)}`);
    },
    /** One requestId per logical change: a retry of the same PATCH is applied once. */
    patchBackendService(
      ref: BackendServiceRef,
      patch: { timeoutSec: number; fingerprint: string },
      requestId: string = randomUUID(),
    ): Promise<Operation> {
      return call(
        'PATCH',
        `${scope(ref)}/backendServices/${encodeURIComponent(ref.name)}?requestId=${requestId}`,
        patch,
      );
    },
    /** Waits until the Operation is DONE (each wait call returns after at most ~2 min). */
    async waitForOperation(
      ref: { project: string; region?: string | undefined },
      operation: Operation,
      deadlineMs = 5 * 60_000,
    ): Promise<Operation> {
      const until = Date.now() + deadlineMs;
      let current = operation;
      while (current.status !== 'DONE') {
        if (Date.now() > until)
          throw new ComputeError(
            `operation ${operation.name} not done in time`,
            0,
            'timeout',
            'timeout',
          );
        current = await call(
          'POST',
          `${scope(ref)}/operations/${encodeURIComponent(operation.name)}/wait`,
          undefined,
          { timeoutMs: waitCallMs },
        );
      }
      const failure = current.error?.errors?.[0];
      if (failure)
        throw new ComputeError(
          `operation ${operation.name} failed: ${failure.message ?? failure.code ?? 'unknown'}`,
          200,
          failure.code ?? 'operationFailed',
          'operation-failed',
        );
      return current;
    },
  };
}

/** No answer (status 0) keeps the transport's code: timeout, aborted or network. */
const computeErrors: ErrorTranslators = {
  fromResponse: errorFrom,
  fromTransport: (code, message, cause) => new ComputeError(message, 0, code, code, cause),
};

/** A wait call returns after at most ~2 minutes, DONE or not: its deadline is longer. */
const waitCallMs = 150_000;

function errorFrom(
  status: number,
  text: string,
  request: { method: string; path: string; retryAfter?: string | undefined },
): ComputeError {
  const what = `${request.method} ${request.path}`;
  let reason = 'unknown';
  let message = `answered ${status}`;
  try {
    const body = JSON.parse(text) as {
      error?: { message?: string; errors?: { reason?: string }[] };
    };
    reason = body.error?.errors?.[0]?.reason ?? reason;
    message = body.error?.message ?? message;
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  const error = new ComputeError(`${what}: ${message}`, status, reason);
  const retryAfter = Number(request.retryAfter);
  if (request.retryAfter !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0)
    error.retryAfterSeconds = retryAfter;
  return error;
}
