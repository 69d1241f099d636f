// Reads a JSON request body: 415 unless it is declared JSON, 413 over the size limit, 400 if it
// does not parse; then the valibot schema, 400 with the failing fields (paths and messages only,
// never the submitted values).
import type { Context } from 'hono';
import * as v from 'valibot';
import { DomainError } from '../errors.ts';

export async function readJson<TSchema extends v.GenericSchema>(
  c: Context,
  schema: TSchema,
  options: { maxBytes?: number } = {},
): Promise<v.InferOutput<TSchema>> {
  const maxBytes = options.maxBytes ?? 16 * 1024;
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new DomainError('unsupported-media-type', 'send the body as application/json');
  }
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > maxBytes)
    throw new DomainError('too-large', `the body is limited to ${maxBytes} bytes`);
  const refused = refusedBodies.get(c.req.raw);
  if (refused) throw new DomainError(refused, refusals[refused]);
  const text = await c.req.text();
  if (Buffer.byteLength(text) > maxBytes)
    throw new DomainError('too-large', `the body is limited to ${maxBytes} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new DomainError('invalid-json', 'the body is not valid JSON');
  }
  return validated(schema, body, 'the body has invalid fields');
}

/** Why the Functions Framework's body parser refused a body, as the code readJson answers. */
export type BodyRefusal = 'invalid-json' | 'too-large' | 'unsupported-media-type';

const refusals: Record<BodyRefusal, string> = {
  'invalid-json': 'the body is not valid JSON',
  'too-large': 'the body is too large',
  'unsupported-media-type': 'send the body as application/json in UTF-8',
};
const refusedBodies = new WeakMap<Request, BodyRefusal>();

/**
 * Marks a request whose body the framework refused before the app ran
 * (shared/http/functions-framework.ts): it reaches the app without one, and readJson answers the
 * refusal where it would have read the body, after the route's caller check.
 */
export function refuseBody(request: Request, refusal: BodyRefusal): void {
  refusedBodies.set(request, refusal);
}

/** The schema's output, or 400 naming each failing field (paths and expectations only). */
export function validated<TSchema extends v.GenericSchema>(
  schema: TSchema,
  input: unknown,
  message: string,
): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, input);
  if (!result.success) {
    const fields = result.issues.map((issue) => ({
      field: issue.path?.map((p) => String(p.key)).join('.') ?? '',
      // `expected` comes from the schema; the message would quote the submitted value, except a
      // check's, which is the schema's own sentence.
      expected: issue.expected ?? (issue.type === 'check' ? issue.message : issue.type),
    }));
    throw new DomainError('invalid-input', message, { fields });
  }
  return result.output;
}
