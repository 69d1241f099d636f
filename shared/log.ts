// Structured JSON logs, one line each, in the shape Cloud Logging reads from stdout: `severity`,
// `message`, and the fields beside them. Callers pass codes and identifiers, never tokens or raw
// request bodies.
//
// A line written inside a span (shared/trace/span.ts: a request, a push, a watch event) carries
// Cloud Logging's trace fields, so Logs Explorer groups one request's lines across deployables
// and links them to its trace: `logging.googleapis.com/trace` (projects/P/traces/ID, P from
// GOOGLE_CLOUD_PROJECT or PUBSUB_PROJECT_ID; the bare ID when neither is set), `.../spanId` and
// `.../trace_sampled`.
//
// Some lines are metrics too: log-based metrics (infra/gcp/metrics.ts) count them or read a
// number from them, by their message and field names ('push handled', 'tenant ready', ...;
// docs/metrics.md). Those names are an interface: one line per event, a field's name and unit
// never changing; test/integration/metric-lines.test.ts fails when a line and its metric part.
import { activeSpan } from './trace/span.ts';

export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
export type LogFields = Record<string, string | number | boolean | undefined>;
export type Logger = (severity: Severity, message: string, fields?: LogFields) => void;

const project = process.env.GOOGLE_CLOUD_PROJECT || process.env.PUBSUB_PROJECT_ID;
const tracePrefix = project ? `projects/${project}/traces/` : '';

export const jsonLogger: Logger = (severity, message, fields = {}) => {
  if (severity === 'DEBUG' && !process.env.KUBEFN_DEBUG) return;
  const span = activeSpan();
  const trace = span && {
    'logging.googleapis.com/trace': tracePrefix + span.traceId,
    'logging.googleapis.com/spanId': span.spanId,
    'logging.googleapis.com/trace_sampled': span.sampled,
  };
  // A field named severity or message never replaces the line's own (written last).
  process.stdout.write(`${JSON.stringify({ ...fields, ...trace, severity, message })}\n`);
};
