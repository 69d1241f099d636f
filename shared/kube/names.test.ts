// Cases from k8s.io/apimachinery's validation_test.go (TestIsDNS1123Label, TestIsDNS1123Subdomain,
// TestIsQualifiedName, TestIsValidLabelValue), and those where kubefn's copies used to disagree.
import { describe, expect, test } from 'vitest';
import {
  dnsLabelSource,
  isDnsLabel,
  isDnsSubdomain,
  isLabelValue,
  isQualifiedName,
} from './names.ts';

const a = (n: number) => 'a'.repeat(n);

const rules: {
  rule: string;
  check: (value: string) => boolean;
  valid: string[];
  invalid: string[];
}[] = [
  {
    rule: 'DNS-1123 label',
    check: (value) => isDnsLabel(value),
    valid: ['a', 'ab', 'a1', 'a-1', 'a--1--2--b', '0', '01', '1a', '1-a', a(63)],
    invalid: ['', 'A', 'aBc', 'A-1', '-', 'a-', '-a', '_', 'a_b', '.', 'a.b', ' ', 'a b', a(64)],
  },
  {
    rule: 'DNS-1123 label of at most 40 (a customer id)',
    check: (value) => isDnsLabel(value, 40),
    valid: [a(40)],
    invalid: [a(41)],
  },
  {
    rule: 'DNS-1123 subdomain',
    check: isDnsSubdomain,
    valid: ['a', 'ab', 'a.a', '1.a', 'a--1--2--b.0', 'a.b.c.d.e', '1.2.3.4.5', a(64), a(253)],
    // 'a..b' and 'a.-b': ingress-timeout's pattern accepted them, the API server does not.
    invalid: ['', 'A', 'a..b', 'a.-b', 'a-.b', '.a', 'a.', '-a', 'a-', 'a_b', 'a/b', a(254)],
  },
  {
    rule: 'qualified name (label key)',
    check: isQualifiedName,
    valid: [
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
    ],
    invalid: [
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
    ],
  },
  {
    rule: 'label value',
    check: isLabelValue,
    valid: [
      '',
      'simple',
      'now-with-dashes',
      '1-starts-with-num',
      'end-with-num-1',
      'v1.2_3-a',
      a(63),
    ],
    invalid: [
      'nospecialchars%^=@',
      'Tama-nui-te-rā.is.Māori.sun',
      '\\backslashes\\are\\bad',
      '-starts-with-dash',
      'ends-with-dash-',
      '.starts.with.dot',
      'ends.with.dot.',
      'a/b',
      a(64),
    ],
  },
];

describe.each(rules)('$rule', ({ check, valid, invalid }) => {
  test.each([
    ...valid.map((value) => [value, true] as const),
    ...invalid.map((value) => [value, false] as const),
  ])('%j: %s', (value, expected) => expect(check(value)).toBe(expected));
});

// The sign-up page's `pattern`: browsers compile it as ^(?:pattern)$ with the v flag, and drop a
// pattern that does not compile (the page's own copy, [a-z0-9-], did not: ids went unchecked).
test('the DNS-label pattern compiles as a browser compiles an HTML pattern, and agrees', () => {
  const browser = new RegExp(`^(?:${dnsLabelSource})$`, 'v');
  for (const value of [...(rules[0]?.valid ?? []), ...(rules[0]?.invalid ?? [])])
    expect(browser.test(value) && value.length <= 63).toBe(isDnsLabel(value));
});
