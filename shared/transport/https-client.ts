// The HTTPS transport of every JSON API kubefn calls (Kubernetes in shared/kube, Compute in
// shared/gcp): one keep-alive agent per endpoint, credentials on every request, safe retries
// with capped jittered backoff, timeouts and aborts. Which error a failure becomes is the API's
// own (`errors`): this folder knows no API, so shared/kube and shared/gcp both build on it.
//
// Built on node:https rather than fetch, for cold start (measured on these machines, Node 20):
// the first global fetch costs 75-95 ms and undici (needed for a custom CA with fetch) 180-210 ms
// to import, against 12-20 ms for node:https. Every real cluster (GKE included) has a private CA,
// so fetch would pay both on every cold start. The CA, client certificate and key go on this
// client's own agent: nothing process-wide changes.
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubefnError } from '../errors.ts';
import { Backoff } from '../retry/backoff.ts';
import { activeSpan, inSpan } from '../trace/span.ts';
import { formatTraceparent } from '../trace/traceparent.ts';
import { nodeHttp, nodeTls } from './node-http.ts';

/** Where to connect and how to prove who we are (shared/kube's ClusterConfig is one). */
export type Endpoint = {
  /** https://host:port (http: for local tests), no trailing slash. */
  server: string;
  /** PEM bundle of the server's CA; when absent, the system roots are used. */
  ca?: string;
  /** PEM client certificate and key, for client-certificate authentication. */
  cert?: string;
  key?: string;
  /** A bearer token; called before every request, so it must cache what it fetches. */
  token?: () => Promise<string> | string;
  /** Only honoured when the caller explicitly allowed insecure TLS. */
  insecureSkipTlsVerify?: boolean;
  /** Called when the server answers 401, so the provider can drop a cached token. */
  invalidateToken?: () => void;
};

export type Query = Record<string, string | number | boolean | undefined>;

export type RequestOptions = {
  method?: string | undefined;
  query?: Query | undefined;
  /** Sent as JSON unless it is already a string or Buffer. */
  body?: unknown | undefined;
  contentType?: string | undefined;
  accept?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Whole-request deadline in ms, retries included; for streams, until the headers arrive. */
  timeoutMs?: number | undefined;
  /** Whether repeating the request is harmless; defaults by method (GET, HEAD, PUT, DELETE). */
  idempotent?: boolean | undefined;
};

export type RetryPolicy = {
  /** Attempts in all, the first included. */
  attempts: number;
  baseMs: number;
  capMs: number;
};

type Failure = KubefnError & { retryAfterSeconds?: number | undefined };

/** The API's own errors: for a failure answer, and for no answer (its codes must include these). */
export type ErrorTranslators = {
  fromResponse: (
    status: number,
    body: string,
    request: { method: string; path: string; retryAfter?: string | undefined },
  ) => Failure;
  fromTransport: (
    code: 'timeout' | 'aborted' | 'network',
    message: string,
    cause?: unknown,
  ) => KubefnError;
};

export type ClientOptions = {
  timeoutMs?: number | undefined;
  retry?: RetryPolicy | undefined;
  userAgent?: string | undefined;
};

export type RawResponse = {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as a Node stream (async iterable of Buffers); read it or call `discard()`. */
  body: IncomingMessage;
  text(): Promise<string>;
  json<T = unknown>(): Promise<T>;
  discard(): void;
};

/** The agent and its module's request(), loaded on first use (node:https or node:http). */
type Transport = { agent: HttpAgent; request: typeof import('node:https').request };

const defaultRetry: RetryPolicy = { attempts: 4, baseMs: 200, capMs: 5_000 };
const idempotentMethods = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

export class HttpsClient {
  readonly server: string;
  readonly #config: Endpoint;
  readonly #errors: ErrorTranslators;
  readonly #options: { timeoutMs: number; retry: RetryPolicy; userAgent: string };
  #transport: Transport | undefined;

  constructor(config: Endpoint, errors: ErrorTranslators, options: ClientOptions = {}) {
    this.server = config.server.replace(/\/+$/, '');
    this.#config = config;
    this.#errors = errors;
    this.#options = {
      timeoutMs: options.timeoutMs ?? 30_000,
      retry: options.retry ?? defaultRetry,
      userAgent: options.userAgent ?? 'kubefn',
    };
  }

  /** JSON in, JSON out; any non-2xx answer throws the API's error (`errors.fromResponse`). */
  async request<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.#traced(path, options, () =>
      this.#withRetries(path, options, async (signal) => {
        const res = await this.#send(path, options, signal);
        const text = await res.text();
        if (res.status >= 300) throw this.#error(res, text, options, path);
        return (text ? JSON.parse(text) : undefined) as T;
      }),
    );
  }

  /** A streaming answer (watch): retried like `request` until the headers arrive. */
  async stream(path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    return this.#withRetries(path, options, async (signal) => {
      const res = await this.#send(path, options, signal);
      if (res.status >= 300) throw this.#error(res, await res.text(), options, path);
      const body = res.body;
      // The deadline ends with the headers; the caller's signal still ends the stream. Its
      // listener goes with the stream: a watcher reconnects for days under one signal, and each
      // listener left behind would hold its ended stream.
      const caller = options.signal;
      const onAbort = () =>
        body.destroy(this.#errors.fromTransport('aborted', 'aborted by the caller'));
      caller?.addEventListener('abort', onAbort, { once: true });
      body.once('close', () => caller?.removeEventListener('abort', onAbort));
      return body;
    });
  }

  /**
   * The escape hatch: any path, any method, the configured credentials, no retries, and the
   * answer as it came (any status). Only transport failures throw.
   */
  async raw(path: string, options: RequestOptions = {}): Promise<RawResponse> {
    return this.#traced(path, options, async () => {
      const { signal, done } = this.#deadline(options);
      try {
        return await this.#send(path, options, signal);
      } catch (error) {
        throw this.#transportError(error, options, signal, path);
      } finally {
        done();
      }
    });
  }

  /**
   * A call made for a traced request (a sign-up, a push) is a client span of its trace, retries
   * included, and its `traceparent` goes to the server (kube-apiserver records its own spans
   * under it when its tracing is configured). A call outside any trace (the watcher's lease and
   * checkpoint, its list-watch) starts none: a trace every few seconds would bury the requests.
   */
  #traced<T>(path: string, options: RequestOptions, call: () => Promise<T>): Promise<T> {
    if (!activeSpan()) return call();
    const method = options.method ?? 'GET';
    const route = pathOnly(path);
    return inSpan(
      `${method} ${route}`,
      {
        kind: 'client',
        attributes: {
          'http.request.method': method,
          'server.address': this.server,
          'url.path': route,
        },
      },
      call,
    );
  }

  /** Closes idle keep-alive sockets, so a short-lived process can exit promptly. */
  async close(): Promise<void> {
    this.#transport?.agent.destroy();
  }

  async #withRetries<T>(
    path: string,
    options: RequestOptions,
    attempt: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const method = options.method ?? 'GET';
    const idempotent = options.idempotent ?? idempotentMethods.has(method);
    const { attempts, baseMs, capMs } = this.#options.retry;
    const { signal, done } = this.#deadline(options);
    const backoff = new Backoff({ initialMs: baseMs, maxMs: capMs });
    let refreshedToken = false;
    try {
      for (let n = 1; ; n++) {
        try {
          return await attempt(signal);
        } catch (caught) {
          const error = this.#transportError(caught, options, signal, path);
          if (error.code === 'unauthorized' && !refreshedToken && this.#config.invalidateToken) {
            // A rotated token: read it again, once.
            refreshedToken = true;
            this.#config.invalidateToken();
            continue;
          }
          // 429 means the server did not process the request, so any verb may repeat it.
          const safe = error.code === 'too-many-requests' || idempotent;
          // A 500 gets these few quick tries (a storage hiccup passes), but is not retryable
          // beyond them: repeated, it is the server's answer to this request (errors.ts).
          const again = error.retryable || error.code === 'internal';
          if (!again || !safe || n >= attempts || signal.aborted) throw error;
          const wait =
            error.retryAfterSeconds === undefined ? backoff.next() : error.retryAfterSeconds * 1000;
          await sleep(Math.min(wait, capMs * 6), undefined, { signal }).catch(() => {
            throw this.#transportError(signal.reason, options, signal, path);
          });
        }
      }
    } finally {
      done();
    }
  }

  /** The caller's signal combined with this request's deadline. */
  #deadline(options: RequestOptions): { signal: AbortSignal; done: () => void } {
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs;
    const controller = new AbortController();
    const timer =
      timeoutMs > 0
        ? setTimeout(
            () =>
              controller.abort(
                this.#errors.fromTransport('timeout', `no answer within ${timeoutMs} ms`),
              ),
            timeoutMs,
          )
        : undefined;
    const onAbort = () =>
      controller.abort(this.#errors.fromTransport('aborted', 'aborted by the caller'));
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return {
      signal: controller.signal,
      done: () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      },
    };
  }

  #error(res: RawResponse, text: string, options: RequestOptions, path: string) {
    const retryAfter = res.headers['retry-after'];
    return this.#errors.fromResponse(res.status, text, {
      method: options.method ?? 'GET',
      path: pathOnly(path),
      retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    });
  }

  #transportError(
    error: unknown,
    options: RequestOptions,
    signal: AbortSignal,
    path: string,
  ): Failure {
    if (error instanceof KubefnError) return error;
    if (signal.aborted && signal.reason instanceof KubefnError) return signal.reason;
    const code = (error as { code?: string }).code ?? 'unknown';
    return this.#errors.fromTransport(
      'network',
      `${options.method ?? 'GET'} ${pathOnly(path)}: ${code} talking to ${this.server}`,
      error,
    );
  }

  async #send(path: string, options: RequestOptions, signal: AbortSignal): Promise<RawResponse> {
    this.#transport ??= this.#createTransport();
    const { agent, request } = this.#transport;
    const url = new URL(path, this.server);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = {
      accept: options.accept ?? 'application/json',
      'user-agent': this.#options.userAgent,
    };
    const token = await this.#config.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    const span = activeSpan();
    if (span) headers.traceparent = formatTraceparent(span);
    let payload: string | Buffer | undefined;
    if (options.body !== undefined) {
      payload =
        typeof options.body === 'string' || Buffer.isBuffer(options.body)
          ? options.body
          : JSON.stringify(options.body);
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise<RawResponse>((resolve, reject) => {
      const req = request(url, { method: options.method ?? 'GET', headers, agent, signal }, (res) =>
        resolve(wrap(res)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  #createTransport(): Transport {
    const { ca, cert, key, insecureSkipTlsVerify } = this.#config;
    const keepAlive = { keepAlive: true, maxSockets: 64 };
    if (this.server.startsWith('http:')) {
      return { agent: new nodeHttp.Agent(keepAlive), request: nodeHttp.request };
    }
    const { https, tls } = nodeTls();
    // One TLS context for every connection: given only `ca`, `cert` and `key`, each new socket
    // parses them into a context of its own (~1.5 ms each, ten sockets on a cold start).
    const secureContext = tls.createSecureContext({
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
    });
    const agent = new https.Agent({
      ...keepAlive,
      secureContext,
      rejectUnauthorized: insecureSkipTlsVerify !== true,
    });
    return { agent, request: https.request };
  }
}

function wrap(res: IncomingMessage): RawResponse {
  // Events rather than `for await`: the stream's async iterator costs a promise per chunk and
  // end-of-stream tracking, a measurable share of a cold start's dozen first requests.
  let body: Promise<string> | undefined;
  const text = () =>
    (body ??= new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.once('error', reject);
      // After 'end' this changes nothing; before it, the body was cut short.
      res.once('close', () =>
        reject(Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })),
      );
    }));
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    body: res,
    text,
    json: async <T>() => JSON.parse(await text()) as T,
    discard: () => {
      res.resume();
    },
  };
}

/** The path without its query string: selectors and continue tokens stay out of messages. */
function pathOnly(path: string): string {
  return path.split('?')[0] ?? path;
}
