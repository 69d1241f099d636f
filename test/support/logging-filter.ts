// A Cloud Logging query and extractor evaluator for the subset infra/gcp/metrics.ts writes, so a
// test can run a log-based metric over the lines the code really wrote: does the filter select
// them, do the extractors read a number and labels from them. Anything outside the subset throws,
// so a filter written beyond it fails the test rather than passing unread.
//
// The subset (Logging query language, cloud.google.com/logging/docs/view/logging-query-language):
//   comparisons joined by AND; `path = "text"` (string comparison is case-insensitive, as Logging's
//   is); `path:*` (the field is present). Extractors (logs-based metrics' labels and values):
//   `EXTRACT(path)` and `REGEXP_EXTRACT(path, "re")` (its one capture group).
// And how a Cloud Run stdout line becomes an entry: its JSON is the jsonPayload (message
// included), except `severity` and the `logging.googleapis.com/*` trace fields, which become the
// entry's own.

export type LogEntry = {
  severity: string;
  resource: { type: string; labels: Record<string, string> };
  jsonPayload: Record<string, unknown>;
  trace?: string;
  spanId?: string;
};

/** The entry Cloud Run makes of one JSON line its service `service` wrote to stdout. */
export function cloudRunEntry(line: string, service: string): LogEntry {
  const payload = JSON.parse(line) as Record<string, unknown>;
  const {
    severity,
    'logging.googleapis.com/trace': trace,
    'logging.googleapis.com/spanId': spanId,
    'logging.googleapis.com/trace_sampled': _sampled,
    ...jsonPayload
  } = payload;
  return {
    severity: typeof severity === 'string' ? severity : 'DEFAULT',
    resource: { type: 'cloud_run_revision', labels: { service_name: service } },
    jsonPayload,
    ...(typeof trace === 'string' ? { trace } : {}),
    ...(typeof spanId === 'string' ? { spanId } : {}),
  };
}

/** The value at a dotted path of the entry (undefined if absent). */
function at(entry: LogEntry, path: string): unknown {
  let value: unknown = entry;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

const path = String.raw`[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*`;
const quoted = String.raw`"((?:[^"\\]|\\.)*)"`;
const equals = new RegExp(`^(${path})\\s*=\\s*${quoted}$`);
const present = new RegExp(`^(${path}):\\*$`);

/** Whether `filter` selects `entry`. */
export function matches(filter: string, entry: LogEntry): boolean {
  return (
    filter
      // AND outside quotes: an even number of quotes after it.
      .split(/\s+AND\s+(?=(?:[^"]*"[^"]*")*[^"]*$)/)
      .map((part) => part.trim())
      .every((comparison) => {
        const eq = equals.exec(comparison);
        if (eq) {
          const value = at(entry, eq[1] ?? '');
          const want = JSON.parse(`"${eq[2]}"`) as string;
          return (
            value !== undefined &&
            typeof value !== 'object' &&
            String(value).toLowerCase() === want.toLowerCase()
          );
        }
        const has = present.exec(comparison);
        if (has) return at(entry, has[1] ?? '') !== undefined;
        throw new Error(`not in the evaluated subset of the query language: ${comparison}`);
      })
  );
}

const extract = new RegExp(`^EXTRACT\\((${path})\\)$`);
const regexpExtract = new RegExp(`^REGEXP_EXTRACT\\((${path}),\\s*${quoted}\\)$`);

/** What an extractor reads from `entry`: undefined when it cannot (Logging then skips a value). */
export function extracted(extractor: string, entry: LogEntry): string | undefined {
  const plain = extract.exec(extractor);
  if (plain) {
    const value = at(entry, plain[1] ?? '');
    return value === undefined || typeof value === 'object' ? undefined : String(value);
  }
  const re = regexpExtract.exec(extractor);
  if (re) {
    const value = at(entry, re[1] ?? '');
    if (typeof value !== 'string') return undefined;
    const pattern = new RegExp(JSON.parse(`"${re[2]}"`) as string);
    if (pattern.source.split('(').length - 1 !== 1)
      throw new Error(`REGEXP_EXTRACT takes exactly one capture group: ${extractor}`);
    return pattern.exec(value)?.[1];
  }
  throw new Error(`not an extractor this evaluator knows: ${extractor}`);
}
