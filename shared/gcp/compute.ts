// The few Compute Engine v1 calls the ingress-timeout function makes: read a backend service,
// patch its timeoutSec with the fingerprint it was read with, and wait for the Operation.
// Global and regional backend services alike. node:https rather than fetch: the first fetch
// loads undici (75-95 ms on a cold start, measured for shared/kube).
//   GET   {base}/projects/P/global/backendServices/NAME        (or regions/R/backendServices)
//   PATCH same, ?requestId=UUID   body {timeoutSec, fingerprint} -> Operation
//   POST  {base}/projects/P/global/operations/OP/wait          (or regions/R/operations)
// A stale fingerprint answers 412 (conditionNotMet): the caller re-reads and tries again.
import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { KubefnError } from '../errors.ts';

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
  constructor(
    message: string,
    /** HTTP status, 0 when no answer came back, 200 for a failed Operation. */
    readonly status: number,
    readonly reason: string,
    code?: ComputeErrorCode,
  ) {
    super(message);
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
  const secure = base.protocol === 'https:';
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const scope = (ref: { project: string; region?: string | undefined }) =>
    `projects/${encodeURIComponent(ref.project)}/${ref.region ? `regions/${encodeURIComponent(ref.region)}` : 'global'}`;

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = await options.token();
    const url = new URL(`${base.pathname.replace(/\/$/, '')}/${path}`, base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        {
          method,
          agent,
          timeout: options.timeoutMs ?? 30_000,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json' } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(JSON.parse(text) as T);
            reject(errorFrom(status, text, `${method} ${url.pathname}`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (error) =>
        reject(new ComputeError(`${method} ${url.pathname}: ${error.message}`, 0, 'network')),
      );
      req.end(payload);
    });
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

function errorFrom(status: number, text: string, what: string): ComputeError {
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
  return new ComputeError(`${what}: ${message}`, status, reason);
}
