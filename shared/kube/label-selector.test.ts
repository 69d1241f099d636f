import { expect, test } from 'vitest';
import { matchesLabelSelector } from './label-selector.ts';

const labels = {
  'app.kubernetes.io/managed-by': 'kubefn',
  'kubefn.dev/customer': 'acme',
  tier: 'gold',
};

test.each([
  ['app.kubernetes.io/managed-by=kubefn', true],
  ['app.kubernetes.io/managed-by==kubefn', true],
  ['app.kubernetes.io/managed-by=other', false],
  ['app.kubernetes.io/managed-by!=other', true],
  ['missing!=x', true],
  ['kubefn.dev/customer', true],
  ['!kubefn.dev/customer', false],
  ['!missing', true],
  ['app.kubernetes.io/managed-by=kubefn,kubefn.dev/customer', true],
  ['app.kubernetes.io/managed-by=kubefn,kubefn.dev/customer in (acme,zed)', true],
  ['kubefn.dev/customer in (zed, other)', false],
  ['kubefn.dev/customer notin (zed)', true],
  ['missing notin (zed)', true],
  ['missing in (zed)', false],
  ['tier = gold , kubefn.dev/customer', true],
  ['', true],
  // What it cannot read: undefined, never a guess.
  ['kubefn.dev/customer in (acme', undefined],
  ['a in ((b))', undefined],
  ['tier > 1', undefined],
])('%j', (selector, expected) => {
  expect(matchesLabelSelector(selector, labels)).toBe(expected);
});

test('no labels at all', () => {
  expect(matchesLabelSelector('a=b', undefined)).toBe(false);
  expect(matchesLabelSelector('!a', undefined)).toBe(true);
});
