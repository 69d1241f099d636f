// A token provider that fetches a token, reuses it until it is due for refresh, and lets
// concurrent callers share one fetch. Used for exec credential plugins and the metadata server.

export type RefreshingProvider = (() => Promise<string>) & { invalidate(): void };

/** `fetchToken` answers the token and when (ms since the epoch) to fetch a new one. */
export function cachedToken(
  fetchToken: () => Promise<{ token: string; refreshAt: number }>,
): RefreshingProvider {
  let cached: { token: string; refreshAt: number } | undefined;
  let pending: Promise<string> | undefined;
  const provider = async () => {
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    pending ??= fetchToken()
      .then((fresh) => {
        cached = fresh;
        return fresh.token;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  return Object.assign(provider, {
    invalidate: () => {
      cached = undefined;
    },
  });
}
