// One shape for every failure, jose-style: a stable `code` from a union and whether retrying can
// help. KubeError, AuthError and ComputeError extend it; handlers throw DomainError with a code
// (never an HTTP status); shared/http/errors.ts maps codes to statuses in one table. Anything
// that is not a KubefnError is a programming error: a 500 with its cause in the log.

export abstract class KubefnError<Code extends string = string> extends Error {
  abstract readonly code: Code;
  abstract readonly retryable: boolean;
}

/** What a handler refuses, by the rules of the product (the caller can fix it, or nobody can). */
export type DomainCode =
  | 'invalid-input'
  | 'invalid-json'
  | 'unsupported-media-type'
  | 'too-large'
  | 'reserved-key'
  | 'kubefn-key'
  | 'unknown-kind'
  | 'not-allowed'
  | 'namespace-not-allowed'
  | 'namespace-taken'
  | 'no-such-tenant'
  | 'tenant-terminating'
  | 'confirmation-required'
  // A tenant deletion beyond the deletion budget: held, not done (functions/provision/held-deletions.ts)
  | 'deletion-held'
  // A tenant request dated further ahead than the clock skew allows (functions/provision/lifecycle.ts)
  | 'requested-in-future'
  // A customer's sign-up (functions/signup, functions/provision/owner.ts)
  | 'email-not-verified'
  | 'plan-not-entitled'
  | 'tenant-limit'
  | 'capacity-reached'
  | 'signup-busy'
  | 'provisioning-refused'
  | 'provisioning-unavailable'
  // Placement across cells (functions/placement)
  | 'unknown-region'
  | 'region-full'
  | 'region-unavailable'
  | 'cell-unavailable'
  // Moving a tenant between cells (functions/placement/move.ts, functions/provision/move.ts)
  | 'tenant-moving'
  | 'move-in-progress'
  | 'not-moving'
  | 'move-not-ready'
  | 'unknown-cell'
  | 'cell-full';

/** A failure the caller is told about: its message is safe to show. */
export class DomainError extends KubefnError<DomainCode> {
  override readonly name = 'DomainError';
  readonly retryable: boolean;
  constructor(
    readonly code: DomainCode,
    message: string,
    readonly details?: unknown,
    options: { retryable?: boolean } = {},
  ) {
    super(message);
    this.retryable = options.retryable ?? false;
  }
}

/** Whether a later try of the same work can succeed; a programming error cannot. */
export function isRetryable(error: unknown): boolean {
  return error instanceof KubefnError && error.retryable;
}

/** The error's code when it is one of ours (`code` may be any of the unions). */
export function failureCode(error: unknown): string | undefined {
  return error instanceof KubefnError ? error.code : undefined;
}
