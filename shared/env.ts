// The one way a deployable reads its environment: a valibot object schema per deployable, read
// once when the module loads, so a configuration mistake fails the deploy (the Functions
// Framework cannot load the target) with every bad variable named, instead of an instance that
// answers 500 to every request. The message says what was expected, never the value (it may be
// a secret).
import * as v from 'valibot';
import { KubefnError } from './errors.ts';

/** A deployment's configuration is wrong: nothing a retry can fix. */
export class EnvError extends KubefnError<'config'> {
  override readonly name: string = 'EnvError';
  readonly code = 'config';
  readonly retryable = false;
  constructor(
    /** Which deployable, e.g. "label". */
    readonly deployable: string,
    /** One entry per bad variable: its name and what it must be. */
    readonly problems: { variable: string; expected: string }[],
  ) {
    super(
      `${deployable} configuration: ${problems.map((p) => `${p.variable}: ${p.expected}`).join('; ')}`,
    );
  }
}

export type Env = Record<string, string | undefined>;

/** Parses `env` with `schema`; throws one EnvError naming each bad variable. */
export function readEnv<TSchema extends v.GenericSchema<Env, unknown>>(
  deployable: string,
  schema: TSchema,
  env: Env,
): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, env);
  if (!result.success) throw new EnvError(deployable, describeIssues(result.issues));
  return result.output;
}

/** A value in a variable that is not the environment's own (JSON in KUBEFN_WATCH, say). */
export function readEnvValue<TSchema extends v.GenericSchema>(
  deployable: string,
  variable: string,
  schema: TSchema,
  value: unknown,
): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, value);
  if (!result.success)
    throw new EnvError(
      deployable,
      describeIssues(result.issues).map((p) => ({
        variable: p.variable === 'environment' ? variable : `${variable} ${p.variable}`,
        expected: p.expected,
      })),
    );
  return result.output;
}

/** Fails the way readEnv does, for a rule across variables (the schema cannot say). */
export function envProblem(deployable: string, variable: string, expected: string): EnvError {
  return new EnvError(deployable, [{ variable, expected }]);
}

function describeIssues(issues: v.BaseIssue<unknown>[]): { variable: string; expected: string }[] {
  const seen = new Map<string, string>();
  for (const issue of issues) {
    const variable = issue.path?.map((p) => String(p.key)).join('.') || 'environment';
    if (!seen.has(variable)) seen.set(variable, expectation(issue));
  }
  return [...seen].map(([variable, expected]) => ({ variable, expected }));
}

// From the schema only: valibot's `message` quotes the received value, except a check's (the
// schema's own sentence).
function expectation(issue: v.BaseIssue<unknown>): string {
  if (issue.type === 'check') return issue.message;
  if (issue.kind === 'schema')
    return issue.input === undefined ? 'required' : `expected ${issue.expected ?? issue.type}`;
  const requirement = issue.type.replace(/_/g, ' ');
  return issue.expected ? `expected ${requirement} ${issue.expected}` : `expected ${requirement}`;
}

/** A comma-separated list ("a, b,,c" -> ["a", "b", "c"]); unset is empty. */
export const splitCommas = (list: string): string[] =>
  list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
/** A flag written as text (a variable, a query parameter): exactly `true` or `false`, else refused. */
export const flag = (fallback: 'true' | 'false') =>
  v.pipe(
    v.optional(v.picklist(['true', 'false']), fallback),
    v.transform((value) => value === 'true'),
  );

export const commaList = v.pipe(v.optional(v.string(), ''), v.transform(splitCommas));
