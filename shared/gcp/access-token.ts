// A Google access token for this workload's service account, from the metadata server: for
// Google APIs (Compute) and, on GKE, for the Kubernetes API (RBAC then binds the service
// account's email). Cached, and refreshed five minutes before it expires; concurrent callers
// share one request. GCE_METADATA_HOST redirects it (the same variable Google's libraries read).
// One provider per metadata host and account, shared by every caller in the process: the
// Kubernetes and Compute clients of a function hold the same token and refresh it once.
import { cachedToken, type RefreshingProvider } from '../transport/cached-token.ts';
import { MetadataError, metadataGet, metadataHost } from './metadata.ts';

const refreshMarginMs = 5 * 60_000;
const providers = new Map<string, RefreshingProvider>();

export function metadataAccessToken(
  options: { host?: string; serviceAccount?: string; timeoutMs?: number } = {},
): RefreshingProvider {
  const host = metadataHost(options.host);
  const account = options.serviceAccount ?? 'default';
  const key = `${host} ${account} ${options.timeoutMs ?? ''}`;
  const existing = providers.get(key);
  if (existing) return existing;
  const path = `/computeMetadata/v1/instance/service-accounts/${encodeURIComponent(account)}/token`;
  const provider = cachedToken(async () => {
    const body = await metadataGet(host, path, options.timeoutMs);
    const { access_token: token, expires_in: expiresIn } = JSON.parse(body) as {
      access_token?: string;
      expires_in?: number;
    };
    if (!token || typeof expiresIn !== 'number') {
      throw new MetadataError(
        'unavailable',
        'the metadata server answered without an access token',
      );
    }
    return { token, refreshAt: Date.now() + Math.max(0, expiresIn * 1000 - refreshMarginMs) };
  });
  providers.set(key, provider);
  return provider;
}
