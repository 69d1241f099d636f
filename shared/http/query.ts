// Reads a request's query string through a strict valibot schema: an unknown parameter or one
// given twice is a 400, never ignored (`?dryrun=true` or `?dryRun=true&dryRun=false` on a
// destructive route must not fall through to the real thing).
import type { Context } from 'hono';
import * as v from 'valibot';
import { flag } from '../env.ts';
import { DomainError } from '../errors.ts';
import { validated } from './json-body.ts';

/** A boolean flag: exactly `true` or `false`; absent is false. `1`, `yes`, `True` are refused. */
export const queryFlag = flag('false');

export function readQuery<TEntries extends v.ObjectEntries>(
  c: Context,
  entries: TEntries,
): v.InferOutput<v.StrictObjectSchema<TEntries, undefined>> {
  const query = new Map<string, string>();
  // A name that is not a parameter's is answered as "(unknown)": answers never echo raw input.
  const named = (name: string) => (/^[A-Za-z][\w-]{0,40}$/.test(name) ? name : '(unknown)');
  for (const [name, value] of new URL(c.req.url).searchParams) {
    if (query.has(name)) {
      throw new DomainError('invalid-input', 'a query parameter is given more than once', {
        fields: [{ field: named(name), expected: 'one value' }],
      });
    }
    query.set(name, value);
  }
  return validated(
    v.strictObject(entries),
    Object.fromEntries([...query].map(([name, value]) => [named(name), value])),
    'the query has invalid parameters',
  );
}
