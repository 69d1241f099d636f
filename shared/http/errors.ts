// One place that turns failures into HTTP answers: a stable code, a safe message, and whether
// retrying can help. Kubernetes errors are mapped by their code; nothing else leaks through.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { KubeError, type KubeErrorCode } from '../kube/errors.ts';
import { jsonLogger, type Logger } from '../log.ts';

/** An error meant for the caller: its message is safe to show. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** What a Kubernetes failure means for our caller. Our own identity lacking rights is our fault. */
const kubeStatus: Partial<Record<KubeErrorCode, ContentfulStatusCode>> = {
  'not-found': 404,
  'already-exists': 409,
  conflict: 409,
  'too-many-requests': 503,
  'server-timeout': 503,
  unavailable: 503,
  timeout: 503,
  network: 503,
  internal: 503,
};

export function renderError(c: Context, error: unknown, log: Logger = jsonLogger): Response {
  if (error instanceof HttpError) {
    return c.json(
      {
        error: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
      },
      error.status,
    );
  }
  if (error instanceof KubeError) {
    const status = kubeStatus[error.code] ?? 500;
    log(status >= 500 ? 'ERROR' : 'WARNING', 'kubernetes call failed', {
      code: error.code,
      status: error.status,
      detail: error.message,
      path: c.req.path,
    });
    if (status === 503) c.header('Retry-After', '5');
    return c.json({ error: error.code, retryable: error.retryable }, status);
  }
  log('ERROR', 'unexpected failure', {
    detail: error instanceof Error ? error.message : String(error),
    path: c.req.path,
  });
  return c.json({ error: 'internal' }, 500);
}
