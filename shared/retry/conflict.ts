// Retry on conflict (client-go's util/retry.RetryOnConflict): a write guarded by what was read
// (resourceVersion, a Compute fingerprint) that lost a race is read and tried again, a bounded
// number of times with a short jittered backoff. Any other failure, or the last conflict, is
// thrown as it is.
import { failureCode } from '../errors.ts';
import { Backoff } from './backoff.ts';

export type ConflictRetryOptions = { attempts?: number; initialMs?: number; maxMs?: number };

/** `attempt` reads fresh state and writes; it is called again when it throws code 'conflict'. */
export async function retryOnConflict<T>(
  attempt: (n: number) => Promise<T>,
  options: ConflictRetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5; // client-go's DefaultRetry: 5 steps
  const backoff = new Backoff({
    initialMs: options.initialMs ?? 10,
    maxMs: options.maxMs ?? 1_000,
  });
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (failureCode(error) !== 'conflict' || n >= attempts) throw error;
      await sleep(backoff.next());
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
