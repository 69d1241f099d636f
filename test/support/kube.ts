// Minimal raw access to the local kube-apiserver for the foundation tests: plain fetch with the
// stack's CA and either the admin client certificate or a bearer token.
import { readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import { stack } from './stack.ts';

const ca = readFileSync(stack.caFile, 'utf8');
const admin = new Agent({
  connect: {
    ca,
    cert: readFileSync(stack.adminCertFile, 'utf8'),
    key: readFileSync(stack.adminKeyFile, 'utf8'),
  },
});
const anonymous = new Agent({ connect: { ca } });

export type KubeAnswer = { status: number; body: Record<string, unknown> };

/** Calls the API as the cluster admin, or with `token` as a bearer token. */
export async function kube(
  method: string,
  path: string,
  options: { body?: unknown; token?: string; accept?: string } = {},
): Promise<KubeAnswer> {
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`${stack.server}${path}`, {
    method,
    headers,
    body: options.body === undefined ? null : JSON.stringify(options.body),
    dispatcher: options.token === undefined ? admin : anonymous,
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A name no other test (or earlier run) uses, within Kubernetes' DNS-label rules. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Polls `check` every 200 ms until it returns a value, failing after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
