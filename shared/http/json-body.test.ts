// readJson and a body the Functions Framework refused (shared/http/functions-framework.ts):
// the refusal is answered where the body would be read, with its own code, after what comes first.
import { Hono } from 'hono';
import * as v from 'valibot';
import { expect, test } from 'vitest';
import { renderError } from './errors.ts';
import { type BodyRefusal, readJson, refuseBody } from './json-body.ts';

const app = new Hono();
app.onError((error, c) => renderError(c, error));
app.post('/', async (c) => c.json(await readJson(c, v.object({ a: v.string() }))));

const post = (type: string, refusal?: BodyRefusal, length?: number) => {
  const request = new Request('http://localhost/', {
    method: 'POST',
    headers: { 'content-type': type, ...(length ? { 'content-length': String(length) } : {}) },
  });
  if (refusal) refuseBody(request, refusal);
  return app.fetch(request);
};

test.each([
  ['invalid-json', 'application/json', undefined, 400, 'invalid-json'],
  [
    'unsupported-media-type',
    'application/json; charset=latin1',
    undefined,
    415,
    'unsupported-media-type',
  ],
  ['too-large', 'application/json', undefined, 413, 'too-large'],
  // What readJson checks before reading still answers first.
  ['invalid-json', 'text/plain', undefined, 415, 'unsupported-media-type'],
  ['invalid-json', 'application/json', 1_000_000, 413, 'too-large'],
] as const)(
  'refused %s, sent as %s (%s bytes): %i %s',
  async (refusal, type, length, status, code) => {
    const res = await post(type, refusal, length);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error: code });
  },
);

test('an unmarked request without a body is invalid JSON, as before', async () => {
  const res = await post('application/json');
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ error: 'invalid-json' });
});
