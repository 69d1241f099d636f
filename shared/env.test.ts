import * as v from 'valibot';
import { describe, expect, test } from 'vitest';
import { EnvError, flag, readEnv, readEnvValue } from './env.ts';
import { KubefnError } from './errors.ts';

const Schema = v.object({
  URL: v.pipe(v.string(), v.url()),
  MODE: v.optional(v.picklist(['a', 'b']), 'a'),
  COUNT: v.pipe(v.optional(v.string(), '5'), v.transform(Number), v.integer(), v.minValue(1)),
  NAME: v.optional(v.pipe(v.string(), v.regex(/^[a-z]+$/))),
  LIST: v.pipe(
    v.optional(v.string(), ''),
    v.check((s) => !s.includes(' '), 'a comma-separated list without spaces'),
  ),
});
const good = { URL: 'https://x.example' };
// Values a deployment may hold as secrets: none of them may appear in a message.
const secret = 'hunter2-Secret';

describe('readEnv', () => {
  test('reads the values, with defaults', () => {
    expect(readEnv('fn', Schema, { ...good, COUNT: '7', OTHER: 'ignored' })).toEqual({
      URL: 'https://x.example',
      MODE: 'a',
      COUNT: 7,
      LIST: '',
    });
  });

  test.each([
    { env: {}, problems: [{ variable: 'URL', expected: 'required' }] },
    { env: { URL: secret }, problems: [{ variable: 'URL', expected: 'expected url' }] },
    {
      env: { ...good, MODE: secret },
      problems: [{ variable: 'MODE', expected: 'expected ("a" | "b")' }],
    },
    {
      env: { ...good, COUNT: secret },
      problems: [{ variable: 'COUNT', expected: 'expected integer' }],
    },
    {
      env: { ...good, COUNT: '0' },
      problems: [{ variable: 'COUNT', expected: 'expected min value >=1' }],
    },
    {
      env: { ...good, NAME: secret },
      problems: [{ variable: 'NAME', expected: 'expected regex /^[a-z]+$/' }],
    },
    {
      env: { ...good, LIST: `a, ${secret}` },
      problems: [{ variable: 'LIST', expected: 'a comma-separated list without spaces' }],
    },
    {
      env: { URL: secret, MODE: 'c', NAME: 'X' },
      problems: [
        { variable: 'URL', expected: 'expected url' },
        { variable: 'MODE', expected: 'expected ("a" | "b")' },
        { variable: 'NAME', expected: 'expected regex /^[a-z]+$/' },
      ],
    },
  ])('$env: one EnvError naming each bad variable, never its value', ({ env, problems }) => {
    let error: unknown;
    try {
      readEnv('fn', Schema, env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(EnvError);
    expect(error).toBeInstanceOf(KubefnError);
    const e = error as EnvError;
    expect(e).toMatchObject({ code: 'config', retryable: false, deployable: 'fn', problems });
    expect(e.message).toBe(
      `fn configuration: ${problems.map((p) => `${p.variable}: ${p.expected}`).join('; ')}`,
    );
    expect(e.message).not.toContain(secret);
    expect(JSON.stringify(e.problems)).not.toContain(secret);
  });
});

test('readEnvValue names the variable and the path inside its value', () => {
  const Targets = v.array(v.strictObject({ kind: v.pipe(v.string(), v.minLength(1)) }));
  expect(() => readEnvValue('watcher', 'WATCH', Targets, [{ kind: '' }])).toThrow(
    'watcher configuration: WATCH 0.kind: expected min length >=1',
  );
  expect(() => readEnvValue('watcher', 'WATCH', Targets, { secret })).toThrow(
    'watcher configuration: WATCH: expected Array',
  );
});

describe('flag', () => {
  const Flags = v.object({ ON: flag('false') });
  test.each([
    { value: undefined, output: false },
    { value: 'true', output: true },
    { value: 'false', output: false },
  ])('$value reads as $output', ({ value, output }) => {
    expect(readEnv('fn', Flags, { ON: value }).ON).toBe(output);
  });
  // "1" or "yes" meaning false would silently turn a setting off.
  test.each(['1', 'yes', 'True', ''])('%j is refused', (value) => {
    expect(() => readEnv('fn', Flags, { ON: value })).toThrow(EnvError);
  });
});
