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

/**
 * A new tenant through provision's POST /tenants (free plan), as a client should ask: a 503 (the
 * quota not counted in time on a loaded machine) is tried again, and the namespace the first try
 * created then answers 200. Throws on any other answer than 201, or 200 after a 503.
 */
export async function signUpTenant(
  provisionUrl: string,
  token: string,
  customerId: string,
  body: Record<string, unknown> = {},
) {
  const json = JSON.stringify({ customerId, plan: 'free', ...body });
  for (let attempt = 1; ; attempt++) {
    const answer = await httpRequest(`${provisionUrl}/tenants`, token, 'POST', json);
    if (answer.status === 201 || (answer.status === 200 && attempt > 1)) return;
    // Five tries: after many namespaces were deleted, kube-controller-manager's client (20
    // requests a second) spends its budget on their contents and counts quotas late.
    if (answer.status !== 503 || attempt === 5)
      throw new Error(`provision answered ${answer.status}: ${answer.body}`);
  }
}
