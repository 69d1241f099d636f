// W3C Trace Context (https://www.w3.org/TR/trace-context/), the `traceparent` header:
// `00-<trace id, 32 hex>-<parent span id, 16 hex>-<flags, 2 hex>`. Written out rather than taken
// from @opentelemetry/core's W3CTraceContextPropagator: that package is only loaded when tracing
// is on (shared/trace/otlp.ts), and these 30 lines are what every cold start needs without it.

/** Where a span sits in its trace: what crosses a process boundary. */
export type SpanContext = {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  spanId: string;
  /** The caller's decision to record this trace (flag 01). */
  sampled: boolean;
};

const pattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** The context a `traceparent` value carries, or undefined for a missing or invalid one. */
export function parseTraceparent(value: string | undefined | null): SpanContext | undefined {
  const match = pattern.exec(value?.trim().toLowerCase() ?? '');
  if (!match) return undefined;
  const [, version, traceId = '', spanId = '', flags = '00', rest] = match;
  // Version ff is invalid; version 00 has nothing after the flags (later versions may).
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(span: SpanContext): string {
  return `00-${span.traceId}-${span.spanId}-${span.sampled ? '01' : '00'}`;
}
