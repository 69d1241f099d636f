import { describe, expect, test } from 'vitest';
import { appliedAnnotation, parseTimeout, readAppliedRecord } from './timeout.ts';

describe('parseTimeout', () => {
  test.each([
    ['90s', 90],
    ['2m', 120],
    ['1h30m', 5400],
    ['1m30s', 90],
    [' 45s ', 45],
    ['1s', 1],
    ['24h', 86_400],
  ])('%j is %d seconds', (raw, seconds) => {
    expect(parseTimeout(raw)).toEqual({ ok: true, seconds });
  });

  test.each([
    ['90', 'no-unit'],
    ['', 'not-a-duration'],
    ['1.5s', 'not-a-duration'],
    ['30s1m', 'not-a-duration'],
    ['-5s', 'not-a-duration'],
    ['ninety', 'not-a-duration'],
    ['0s', 'out-of-range'],
    ['24h1s', 'out-of-range'],
  ])('%j is refused as %s', (raw, code) => {
    expect(parseTimeout(raw)).toMatchObject({ ok: false, code });
  });

  test('a long value is not echoed whole', () => {
    const parsed = parseTimeout('x'.repeat(500));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message.length).toBeLessThan(120);
  });
});

describe('readAppliedRecord', () => {
  const record = {
    timeoutSec: 90,
    mode: 'backendconfig',
    source: 'annotation',
    appliedAt: '2026-01-01T00:00:00.000Z',
    ingressResourceVersion: '7',
  };
  test.each([
    ['absent', undefined, undefined],
    ['not JSON', { [appliedAnnotation]: '{' }, undefined],
    ['no timeoutSec', { [appliedAnnotation]: '{"mode":"compute"}' }, undefined],
    ['a record', { [appliedAnnotation]: JSON.stringify(record) }, record],
  ])('%s', (_name, annotations, expected) => {
    expect(readAppliedRecord(annotations)).toEqual(expected);
  });
});
