// Small stand-ins for the WHATWG Request, Response and Headers classes. infra/build-functions.ts
// puts them in place of those globals inside each function bundle (esbuild `inject`: the bundle's
// own references only; Node's globals are untouched, and code run from source keeps Node's).
//
// Why: Node creates these globals from its bundled undici on first use, and loading undici also
// loads http2, worker_threads, perf_hooks and web streams: 25-35 ms on every cold start here
// (Node 20 and 22), about a quarter of the provisioning function's first answer. The functions
// only need bodies that are text or bytes and headers by name, which is what Hono, jose and kubefn
// use; any other body (a stream, a Blob, form data) is handed to Node's own class, loaded then.
// shared/http/web-lite.test.ts holds these to the behaviour of Node's classes.

type Body = string | Uint8Array | null;
type HeadersLike = Iterable<readonly [string, string]> | Record<string, string> | LiteHeaders;
type Init = {
  method?: string;
  status?: number;
  statusText?: string;
  headers?: HeadersLike | Headers;
  body?: unknown;
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isSimpleBody(body: unknown): body is Body | ArrayBuffer | undefined {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer
  );
}

function toBody(body: Body | ArrayBuffer | undefined): Body {
  if (body === undefined || body === null) return null;
  return body instanceof ArrayBuffer ? new Uint8Array(body) : body;
}

/** Values are trimmed, names lower-cased; set-cookie keeps one entry per cookie. */
export class LiteHeaders {
  readonly #values = new Map<string, string[]>();

  constructor(init?: HeadersLike | Headers) {
    if (!init) return;
    const pairs =
      Symbol.iterator in init
        ? (init as Iterable<readonly [string, string]>)
        : Object.entries(init as Record<string, string>);
    for (const [name, value] of pairs) this.append(name, value);
  }

  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const list = this.#values.get(key);
    if (list) list.push(String(value).trim());
    else this.#values.set(key, [String(value).trim()]);
  }

  set(name: string, value: string): void {
    this.#values.set(name.toLowerCase(), [String(value).trim()]);
  }

  get(name: string): string | null {
    return this.#values.get(name.toLowerCase())?.join(', ') ?? null;
  }

  has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }

  delete(name: string): void {
    this.#values.delete(name.toLowerCase());
  }

  getSetCookie(): string[] {
    return [...(this.#values.get('set-cookie') ?? [])];
  }

  /** Sorted by name and combined, as the Fetch standard iterates headers. */
  *entries(): IterableIterator<[string, string]> {
    for (const name of [...this.#values.keys()].sort()) {
      const values = this.#values.get(name) ?? [];
      if (name === 'set-cookie') for (const value of values) yield [name, value];
      else yield [name, values.join(', ')];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  forEach(callback: (value: string, name: string, headers: LiteHeaders) => void): void {
    for (const [name, value] of this.entries()) callback(value, name, this);
  }
}

/** What Request and Response share: a body read once, as text, JSON or bytes. */
class LiteBody {
  #body: Body;
  #used = false;

  constructor(body: Body) {
    this.#body = body;
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  /** The raw body, for the adapter and for clones; not a stream, unlike the standard's. */
  get body(): Body {
    return this.#body;
  }

  #take(): Body {
    if (this.#used) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = this.#body !== null; // no body is never used up
    return this.#body;
  }

  async text(): Promise<string> {
    const body = this.#take();
    return typeof body === 'string' ? body : body ? decoder.decode(body) : '';
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async bytes(): Promise<Uint8Array> {
    const body = this.#take();
    return typeof body === 'string' ? encoder.encode(body) : new Uint8Array(body ?? []);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return (await this.bytes()).buffer as ArrayBuffer;
  }
}

// Fields are assigned after the fallback to Node's class, hence the `!`s.
export class LiteRequest extends LiteBody {
  readonly url!: string;
  readonly method!: string;
  readonly headers!: LiteHeaders;

  constructor(input: string | URL | LiteRequest, init: Init = {}) {
    const from = input instanceof LiteRequest ? input : undefined;
    const body = init.body ?? from?.body;
    super(isSimpleBody(body) ? toBody(body) : null);
    if (!isSimpleBody(body)) {
      // biome-ignore lint/correctness/noConstructorReturn: a body this class does not model goes to Node's
      return new globalThis.Request(String(from?.url ?? input), init as RequestInit) as never;
    }
    this.url = from ? from.url : new URL(String(input)).href;
    this.method = (init.method ?? from?.method ?? 'GET').toUpperCase();
    this.headers = new LiteHeaders(init.headers ?? from?.headers);
  }

  clone(): LiteRequest {
    return new LiteRequest(this);
  }
}

export class LiteResponse extends LiteBody {
  readonly status!: number;
  readonly statusText!: string;
  readonly headers!: LiteHeaders;
  readonly type = 'default';
  readonly url = '';
  readonly redirected = false;

  constructor(body?: unknown, init: Init = {}) {
    super(isSimpleBody(body) ? toBody(body) : null);
    if (!isSimpleBody(body)) {
      // biome-ignore lint/correctness/noConstructorReturn: a body this class does not model goes to Node's
      return new globalThis.Response(body as never, init as ResponseInit) as never;
    }
    this.status = init.status ?? 200;
    if (this.status < 200 || this.status > 599) {
      throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
    }
    this.statusText = init.statusText ?? '';
    this.headers = new LiteHeaders(init.headers);
    if (typeof body === 'string' && !this.headers.has('content-type')) {
      this.headers.set('content-type', 'text/plain;charset=UTF-8');
    }
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  clone(): LiteResponse {
    return new LiteResponse(this.body, this);
  }

  static json(data: unknown, init: Init = {}): LiteResponse {
    const headers = new LiteHeaders(init.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new LiteResponse(JSON.stringify(data), { ...init, headers });
  }

  static redirect(url: string | URL, status = 302): LiteResponse {
    return new LiteResponse(null, { status, headers: { location: new URL(url).href } });
  }
}

export { LiteHeaders as Headers, LiteRequest as Request, LiteResponse as Response };
