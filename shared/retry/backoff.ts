// Capped exponential backoff with jitter, reset after a healthy period (client-go's defaults:
// 0.8 s doubling to 30 s, reset after 2 minutes without a failure). The one formula for every
// retry in kubefn: the Kubernetes client's, the list-watch's, the Pub/Sub publisher's, and
// retryOnConflict's.

export type BackoffOptions = { initialMs?: number; maxMs?: number; resetAfterMs?: number };

export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #resetAfterMs: number;
  #failures = 0;
  #lastFailure = 0;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 800;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#resetAfterMs = options.resetAfterMs ?? 120_000;
  }

  /** The delay before the next attempt after a failure now. */
  next(now = Date.now()): number {
    if (now - this.#lastFailure > this.#resetAfterMs) this.#failures = 0;
    this.#lastFailure = now;
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** this.#failures);
    this.#failures++;
    // Full jitter on the upper half, so many watchers restarting at once spread out.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}
