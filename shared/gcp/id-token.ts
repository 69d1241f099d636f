// An OIDC ID token for calling another kubefn function (whose auth checks `aud`): from the
// metadata server's identity endpoint on Google Cloud, refreshed five minutes before its `exp`.
import { request } from 'node:http';
import { cachedToken, type RefreshingProvider } from '../kube/cached-token.ts';

export function metadataIdToken(
  audience: string,
  options: { host?: string } = {},
): RefreshingProvider {
  const host = options.host ?? process.env.GCE_METADATA_HOST ?? 'metadata.google.internal';
  const path = `/computeMetadata/v1/instance/service-accounts/default/identity?audience=${encodeURIComponent(audience)}&format=full`;
  return cachedToken(
    () =>
      new Promise((resolve, reject) => {
        const req = request(
          `http://${host}${path}`,
          { headers: { 'Metadata-Flavor': 'Google' }, timeout: 10_000 },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => {
              body += chunk;
            });
            res.on('end', () => {
              if (res.statusCode !== 200)
                return reject(new Error(`the metadata server answered ${res.statusCode}`));
              const payload = JSON.parse(
                Buffer.from(body.split('.')[1] ?? '', 'base64url').toString(),
              ) as { exp?: number };
              resolve({ token: body.trim(), refreshAt: ((payload.exp ?? 0) - 300) * 1000 });
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error('the metadata server did not answer')));
        req.on('error', (error) =>
          reject(new Error(`cannot reach the metadata server at ${host}: ${error.message}`)),
        );
        req.end();
      }),
  );
}
