// The one client of the metadata server (access tokens, ID tokens): a plain node:http GET with
// the Metadata-Flavor header and a deadline. GCE_METADATA_HOST redirects it (the same variable
// Google's libraries read). Errors name the path and status, never a token.
import { KubefnError } from '../errors.ts';
import { nodeHttp } from '../transport/node-http.ts';

/** 'unavailable' (no answer, 5xx: try later) or 'config' (4xx: the account or audience is wrong). */
export class MetadataError extends KubefnError<'unavailable' | 'config'> {
  override readonly name = 'MetadataError';
  readonly retryable: boolean;
  constructor(
    readonly code: 'unavailable' | 'config',
    message: string,
  ) {
    super(message);
    this.retryable = code === 'unavailable';
  }
}

export function metadataHost(host?: string): string {
  return host ?? process.env.GCE_METADATA_HOST ?? 'metadata.google.internal';
}

export function metadataGet(host: string, path: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request(
      `http://${host}${path}`,
      { headers: { 'Metadata-Flavor': 'Google' }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (res.statusCode === 200) resolve(Buffer.concat(chunks).toString('utf8'));
          else {
            const status = res.statusCode ?? 0;
            const code = status >= 400 && status < 500 ? 'config' : 'unavailable';
            const what = `the metadata server answered ${status} for ${path.split('?')[0]}`;
            reject(new MetadataError(code, what));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(
        new MetadataError('unavailable', `the metadata server did not answer in ${timeoutMs} ms`),
      ),
    );
    req.on('error', (error) =>
      reject(
        error instanceof MetadataError
          ? error
          : new MetadataError(
              'unavailable',
              `cannot reach the metadata server at ${host}: ${error.message}`,
            ),
      ),
    );
    req.end();
  });
}
