// One kubefn function calling another over HTTP with its own identity (an ID token for the
// callee's audience): the signup backend calling placement, placement calling a cell's
// provision. fetch, not shared/transport: these callers answer browsers and pay for fetch anyway,
// and the callee's answer is relayed as it is (its failures are its own to explain).
import { DomainError } from '../errors.ts';
import type { TokenProvider } from '../kube/index.ts';
import { inSpan } from '../trace/span.ts';
import { formatTraceparent } from '../trace/traceparent.ts';

/** Where a function is and how to prove who we are to it. */
export type FunctionTarget = { url: string; token: TokenProvider };

export type FunctionAnswer = {
  status: number;
  /** The answer's JSON text, relayed as it is. */
  text: string;
  /** The `error` code of a failure answer, when it has one. */
  code: string | undefined;
};

/**
 * The callee's answer. Throws `unreachable` when there is none, and 'provisioning-refused' when
 * our own identity was refused (a bare 401/403: a deployment problem, not the caller's). A 401 or
 * 403 with a code of the callee's rules (entitlement, limit) is an answer like any other.
 */
export async function callFunction(
  target: FunctionTarget,
  request: { method: string; path: string; body?: unknown; signal?: AbortSignal },
  unreachable: () => DomainError,
): Promise<FunctionAnswer> {
  const { body, method } = request;
  const route = request.path.split('?')[0] ?? request.path;
  const res = await inSpan(
    `${method} ${route}`,
    {
      kind: 'client',
      attributes: {
        'http.request.method': method,
        'url.path': route,
        'server.address': target.url,
      },
    },
    async (span) => {
      const answer = await fetch(`${target.url}${request.path}`, {
        method,
        headers: {
          authorization: `Bearer ${await target.token()}`,
          // The caller's trace goes on in the callee (shared/trace).
          traceparent: formatTraceparent(span.context),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(request.signal ? { signal: request.signal } : {}),
      });
      span.set({ 'http.response.status_code': answer.status });
      return answer;
    },
  ).catch(() => {
    throw unreachable();
  });
  const text = await res.text().catch(() => {
    throw unreachable();
  });
  const code = res.ok ? undefined : errorCode(text);
  if (
    (res.status === 401 || res.status === 403) &&
    (code === undefined || code === 'unauthenticated' || code === 'forbidden')
  )
    throw new DomainError('provisioning-refused', 'provisioning refused this backend');
  return { status: res.status, text, code };
}

/** The answer as this function's own response. */
export const relay = (answer: { text: string; status: number }): Response =>
  new Response(answer.text, {
    status: answer.status,
    headers: { 'content-type': 'application/json' },
  });

function errorCode(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { error?: unknown }).error;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}
