import { Hono } from 'hono';
import * as v from 'valibot';
import { expect, test } from 'vitest';
import { renderError } from './errors.ts';
import { queryFlag, readQuery } from './query.ts';

const app = new Hono();
app.onError((error, c) => renderError(c, error, () => {}));
app.get('/', (c) => c.json(readQuery(c, { confirm: v.optional(v.string()), dryRun: queryFlag })));

type Case = { query: string; status: number; output?: object; field?: string };

test.each<Case>([
  { query: '', status: 200, output: { dryRun: false } },
  { query: '?dryRun=true', status: 200, output: { dryRun: true } },
  { query: '?dryRun=false&confirm=a', status: 200, output: { dryRun: false, confirm: 'a' } },
  ...['1', 'yes', 'True', 'TRUE', 'on', '', 'true '].map((flag) => ({
    query: `?dryRun=${encodeURIComponent(flag)}`,
    status: 400,
    field: 'dryRun',
  })),
  { query: '?dryRun=true&dryRun=false', status: 400, field: 'dryRun' }, // repeated
  { query: '?confirm=a&confirm=b', status: 400, field: 'confirm' },
  { query: '?dryrun=true', status: 400, field: 'dryrun' }, // unknown: never ignored
  { query: '?__proto__=x', status: 400, field: '(unknown)' },
  { query: `?${encodeURIComponent('<script>')}=1`, status: 400, field: '(unknown)' }, // not echoed
])('$query: $status', async ({ query, status, output, field }) => {
  const res = await app.request(`/${query}`);
  expect(res.status).toBe(status);
  const body = (await res.json()) as {
    error?: string;
    details: { fields: { field: string }[] };
  };
  if (output) expect(body).toEqual(output);
  if (field) {
    expect(body.error).toBe('invalid-input');
    expect(body.details.fields.map((f) => f.field)).toEqual([field]);
  }
});
