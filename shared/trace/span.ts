// One trace per request: the active span of the code running now (AsyncLocalStorage, so a
// request's context follows its awaits into shared/transport and the log without being passed
// by hand), new spans as its children, and whether they are recorded.
//
// Tracing is off unless KUBEFN_TRACING says where spans go (`otlp`: OTEL_EXPORTER_OTLP_ENDPOINT,
// the local Jaeger or a collector; `cloud-trace`: Cloud Trace's OTLP endpoint). Off, a span is only its ids: random, parented as on, carried
// in the log's trace fields and in `traceparent` to the next hop, never recorded, and the
// OpenTelemetry SDK is never imported (about 1 MB of modules: a cold start must not pay for it).
// On, ./otlp.ts is imported once, at load, and every span is recorded and exported.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { SpanContext } from './traceparent.ts';

export type SpanKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal';
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

export type SpanOptions = {
  kind?: SpanKind;
  attributes?: SpanAttributes;
  /** The parent: by default the active span; `null` starts a new trace. */
  parent?: SpanContext | null | undefined;
};

/** What the span's code may still say about it before it ends. */
export type SpanHandle = {
  readonly context: SpanContext;
  /** Attributes known only later (a status code, a route); ignored when not recorded. */
  set(attributes: SpanAttributes): void;
  /** Marks the span failed (recorded with the message; ended by inSpan). */
  fail(message: string): void;
  /** A name known only later (the route a request matched). */
  rename(name: string): void;
};

/** A started span as a recorder (./otlp.ts) keeps it. */
export type StartedSpan = SpanHandle & { end(): void };
export type Recorder = (
  name: string,
  parent: SpanContext | undefined,
  options: SpanOptions,
) => StartedSpan;

const storage = new AsyncLocalStorage<SpanContext>();

/** The span the running code belongs to, if any. */
export function activeSpan(): SpanContext | undefined {
  return storage.getStore();
}

/**
 * Runs `fn` inside a new span (a child of the active one unless `options.parent` says otherwise)
 * and ends it when `fn` settles; a throw marks it failed and is rethrown.
 */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: SpanHandle) => Promise<T>,
): Promise<T> {
  const parent = options.parent === undefined ? storage.getStore() : (options.parent ?? undefined);
  const record = recorder ?? (await loading);
  const span = record(name, parent, options);
  try {
    return await storage.run(span.context, () => fn(span));
  } catch (error) {
    span.fail(error instanceof Error ? error.message : String(error));
    throw error;
  } finally {
    span.end();
  }
}

/** Random ids, as OpenTelemetry's RandomIdGenerator makes them (never all zero in practice). */
function newId(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** Tracing off: ids only, parented the same way, the caller's sampling decision passed on. */
const idsOnly: Recorder = (_name, parent) => ({
  context: {
    traceId: parent?.traceId ?? newId(16),
    spanId: newId(8),
    sampled: parent?.sampled ?? false,
  },
  set() {},
  fail() {},
  rename() {},
  end() {},
});

export type TracingMode = 'off' | 'otlp' | 'cloud-trace';

/**
 * KUBEFN_TRACING: unset, empty or `off`; `otlp`; or `cloud-trace` (which needs
 * GOOGLE_CLOUD_PROJECT). Anything else stops the deployable loading, naming the variable.
 */
export function tracingMode(env: {
  KUBEFN_TRACING?: string | undefined;
  GOOGLE_CLOUD_PROJECT?: string | undefined;
}): TracingMode {
  const value = env.KUBEFN_TRACING;
  if (value === undefined || value === '' || value === 'off') return 'off';
  if (value === 'cloud-trace' && !env.GOOGLE_CLOUD_PROJECT)
    throw new Error('KUBEFN_TRACING=cloud-trace needs GOOGLE_CLOUD_PROJECT');
  if (value === 'otlp' || value === 'cloud-trace') return value;
  throw new Error(
    `KUBEFN_TRACING: expected off, otlp or cloud-trace, got ${JSON.stringify(value)}`,
  );
}

const mode = tracingMode(process.env);
let recorder: Recorder | undefined = mode === 'off' ? idsOnly : undefined;
// Started at load, so the first request finds it ready. If the SDK cannot be loaded the function
// still serves, with ids only: tracing must never take requests down with it.
const loading: Promise<Recorder> =
  mode === 'off'
    ? Promise.resolve(idsOnly)
    : import('./otlp.ts')
        .then((otlp) => otlp.otlpRecorder(process.env, mode))
        .catch((error: unknown) => {
          process.stderr.write(
            `${JSON.stringify({ severity: 'ERROR', message: 'tracing not loaded; ids only', detail: String(error) })}\n`,
          );
          return idsOnly;
        })
        .then((loaded) => {
          recorder = loaded;
          return loaded;
        });

/** Sends what is recorded and not yet exported (a process about to exit); nothing when off. */
export async function flushSpans(): Promise<void> {
  if (mode === 'off') return;
  const { flush } = await import('./otlp.ts');
  await flush();
}
