// An OIDC ID token for calling another kubefn function (whose auth checks `aud`): from the
// metadata server's identity endpoint on Google Cloud, refreshed five minutes before its `exp`.
import { cachedToken, type RefreshingProvider } from '../transport/cached-token.ts';
import { metadataGet, metadataHost } from './metadata.ts';

export function metadataIdToken(
  audience: string,
  options: { host?: string } = {},
): RefreshingProvider {
  const host = metadataHost(options.host);
  const path = `/computeMetadata/v1/instance/service-accounts/default/identity?audience=${encodeURIComponent(audience)}&format=full`;
  return cachedToken(async () => {
    const token = (await metadataGet(host, path)).trim();
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      exp?: number;
    };
    return { token, refreshAt: ((payload.exp ?? 0) - 300) * 1000 };
  });
}
