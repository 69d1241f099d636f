// A bare node:http request for benchmarks: nothing lazily loaded (fetch would load undici) on
// the measuring side.
import { request } from 'node:http';

export type Answer = { status: number; body: string };

export function httpRequest(
  url: string,
  token: string,
  method: string,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = {
      authorization: `Bearer ${token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    };
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
