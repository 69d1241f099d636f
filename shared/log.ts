// Structured JSON logs, one line each, in the shape Cloud Logging reads from stdout: `severity`,
// `message`, and the fields beside them. Callers pass codes and identifiers, never tokens or raw
// request bodies.

export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
export type LogFields = Record<string, string | number | boolean | undefined>;
export type Logger = (severity: Severity, message: string, fields?: LogFields) => void;

export const jsonLogger: Logger = (severity, message, fields = {}) => {
  if (severity === 'DEBUG' && !process.env.KUBEFN_DEBUG) return;
  // A field named severity or message never replaces the line's own (written last).
  process.stdout.write(`${JSON.stringify({ ...fields, severity, message })}\n`);
};
