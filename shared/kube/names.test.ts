// Cases from k8s.io/apimachinery's validation_test.go (TestIsDNS1123Label, TestIsDNS1123Subdomain,
// TestIsQualifiedName, TestIsValidLabelValue), and those where kubefn's copies used to disagree.
import { describe, expect, test } from 'vitest';
import { isDnsLabel, isDnsSubdomain, isLabelValue, isQualifiedName } from './names.ts';

const a = (n: number) => 'a'.repeat(n);

describe('DNS-1123 label', () => {
  test.each([
    ...['a', 'ab', 'a1', 'a-1', 'a--1--2--b', '0', '01', '1a', '1-a', a(63)].map(
      (name) => [name, true] as const,
    ),
    ...['', 'A', 'aBc', 'A-1', '-', 'a-', '-a', '_', 'a_b', '.', 'a.b', ' ', 'a b', a(64)].map(
      (name) => [name, false] as const,
    ),
  ])('%j: %s', (name, valid) => expect(isDnsLabel(name)).toBe(valid));

  test('a shorter limit where kubefn adds to the name', () => {
    expect(isDnsLabel(a(40), 40)).toBe(true);
    expect(isDnsLabel(a(41), 40)).toBe(false);
  });
});

describe('DNS-1123 subdomain', () => {
  test.each([
    ...['a', 'ab', 'a.a', '1.a', 'a--1--2--b.0', 'a.b.c.d.e', '1.2.3.4.5', a(64), a(253)].map(
      (name) => [name, true] as const,
    ),
    // 'a..b' and 'a.-b': ingress-timeout's pattern accepted them, the API server does not.
    ...['', 'A', 'a..b', 'a.-b', 'a-.b', '.a', 'a.', '-a', 'a-', 'a_b', 'a/b', a(254)].map(
      (name) => [name, false] as const,
    ),
  ])('%j: %s', (name, valid) => expect(isDnsSubdomain(name)).toBe(valid));
});

describe('qualified name (label key)', () => {
  test.each([
    ...[
      'simple',
      'now-with-dashes',
      '1-starts-with-num',
      '1234',
      'simple/simple',
      'app.kubernetes.io/name',
      'example.com/team_a',
      'now.with.dots/simple',
      '1-num.2-num/3-num',
      'Uppercase_Is_OK_123',
      'example.com/Uppercase_Is_OK_123',
      'requests.storage-foo',
      a(63),
      `${a(253)}/${a(63)}`,
    ].map((key) => [key, true] as const),
    ...[
      '',
      'nospecialchars%^=@',
      'cantendwithadash-',
      '-cantstartwithadash',
      'only/one/slash',
      'Example.com/abc',
      'example_com/abc',
      'example.com/',
      '/simple',
      'a..b/x',
      a(64),
      `${a(254)}/abc`,
    ].map((key) => [key, false] as const),
  ])('%j: %s', (key, valid) => expect(isQualifiedName(key)).toBe(valid));
});

describe('label value', () => {
  test.each([
    ...[
      '',
      'simple',
      'now-with-dashes',
      '1-starts-with-num',
      'end-with-num-1',
      'v1.2_3-a',
      a(63),
    ].map((value) => [value, true] as const),
    ...[
      'nospecialchars%^=@',
      'Tama-nui-te-rā.is.Māori.sun',
      '\\backslashes\\are\\bad',
      '-starts-with-dash',
      'ends-with-dash-',
      '.starts.with.dot',
      'ends.with.dot.',
      'a/b',
      a(64),
    ].map((value) => [value, false] as const),
  ])('%j: %s', (value, valid) => expect(isLabelValue(value)).toBe(valid));
});
