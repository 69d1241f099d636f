// A Google access token for this workload's service account, from the metadata server: for
// Google APIs (Compute) and, on GKE, for the Kubernetes API (RBAC then binds the service
// account's email). Cached, and refreshed five minutes before it expires; concurrent callers
// share one request. GCE_METADATA_HOST redirects it (the same variable Google's libraries read).
import { request } from 'node:http';
import { cachedToken, type RefreshingProvider } from '../kube/cached-token.ts';

const refreshMarginMs = 5 * 60_000;

export function metadataAccessToken(
  options: { host?: string; serviceAccount?: string; timeoutMs?: number } = {},
): RefreshingProvider {
  const host = options.host ?? process.env.GCE_METADATA_HOST ?? 'metadata.google.internal';
  const account = options.serviceAccount ?? 'default';
  const path = `/computeMetadata/v1/instance/service-accounts/${encodeURIComponent(account)}/token`;
  return cachedToken(async () => {
    const body = await get(host, path, options.timeoutMs ?? 10_000);
    const { access_token: token, expires_in: expiresIn } = JSON.parse(body) as {
      access_token?: string;
      expires_in?: number;
    };
    if (!token || typeof expiresIn !== 'number') {
      throw new Error('the metadata server answered without an access token');
    }
    return { token, refreshAt: Date.now() + Math.max(0, expiresIn * 1000 - refreshMarginMs) };
  });
}

function get(host: string, path: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      `http://${host}${path}`,
      { headers: { 'Metadata-Flavor': 'Google' }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (res.statusCode === 200) resolve(Buffer.concat(chunks).toString('utf8'));
          else reject(new Error(`the metadata server answered ${res.statusCode} for ${path}`));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`the metadata server did not answer in ${timeoutMs} ms`)),
    );
    req.on('error', (error) =>
      reject(new Error(`cannot reach the metadata server at ${host}: ${error.message}`)),
    );
    req.end();
  });
}
