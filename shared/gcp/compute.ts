// The few Compute Engine v1 calls the ingress-timeout function makes: read a backend service,
// patch its timeoutSec with the fingerprint it was read with, and wait for the Operation.
// Global and regional backend services alike, on the node:https transport shared/kube uses too
// (shared/transport) rather than fetch: the first fetch loads undici (75-95 ms on a cold start).
//   GET   {base}/projects/P/global/backendServices/NAME        (or regions/R/backendServices)
//   PATCH same, ?requestId=UUID   body {timeoutSec, fingerprint} -> Operation
//   POST  {base}/projects/P/global/operations/OP/wait          (or regions/R/operations)
// A stale fingerprint answers 412 (conditionNotMet): the caller re-reads and tries again.
import { randomUUID } from 'node:crypto';
import { HttpsClient } from '../transport/https-client.ts';
import { GoogleApiError, type GoogleApiErrorCode, googleApiErrors } from './api-error.ts';

export type BackendServiceRef = { project: string; region?: string | undefined; name: string };
export type BackendService = { name: string; timeoutSec?: number; fingerprint: string };
export type Operation = {
  name: string;
  status: 'PENDING' | 'RUNNING' | 'DONE';
  error?: { errors?: { code?: string; message?: string }[] };
};

export type ComputeErrorCode = GoogleApiErrorCode;
export { GoogleApiError as ComputeError };

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
  const transport = new HttpsClient(
    { server: base.origin, token: options.token },
    googleApiErrors,
    {
      timeoutMs: options.timeoutMs ?? 30_000,
    },
  );
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
          throw new GoogleApiError(
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
        throw new GoogleApiError(
          `operation ${operation.name} failed: ${failure.message ?? failure.code ?? 'unknown'}`,
          200,
          failure.code ?? 'operationFailed',
          'operation-failed',
        );
      return current;
    },
  };
}

/** A wait call returns after at most ~2 minutes, DONE or not: its deadline is longer. */
const waitCallMs = 150_000;
