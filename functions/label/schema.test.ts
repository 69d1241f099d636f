import * as v from 'valibot';
import { describe, expect, test } from 'vitest';
import { isLabelKey, isLabelValue, isReservedKey, LabelRequestSchema } from './schema.ts';

describe("Kubernetes' label rules", () => {
  test.each([
    ['app', true],
    ['app.kubernetes.io/name', true],
    ['example.com/team_a', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['-app', false],
    ['app-', false],
    ['Example.com/x', false],
    ['example.com/', false],
    ['/x', false],
    ['a b', false],
    ['', false],
  ])('key %j valid: %s', (key, valid) => expect(isLabelKey(key)).toBe(valid));

  test.each([
    ['', true],
    ['v1.2_3-a', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['.x', false],
    ['x y', false],
  ])('value %j valid: %s', (value, valid) => expect(isLabelValue(value)).toBe(valid));

  test.each([
    ['kubernetes.io/x', true],
    ['node.kubernetes.io/x', true],
    ['k8s.io/x', true],
    ['app.k8s.io/x', true],
    ['notkubernetes.io/x', false],
    ['example.com/kubernetes.io', false],
    ['app', false],
  ])('key %j reserved: %s', (key, reserved) => expect(isReservedKey(key)).toBe(reserved));
});

describe('a label request', () => {
  const target = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'tenant-a', name: 'x' };
  test('needs exactly one of name and selector, something to do, no key both set and removed', () => {
    expect(v.is(LabelRequestSchema, { target, set: { a: 'b' } })).toBe(true);
    expect(
      v.is(LabelRequestSchema, { target: { ...target, labelSelector: 'a=b' }, set: { a: 'b' } }),
    ).toBe(false);
    const { name: _n, ...noName } = target;
    expect(v.is(LabelRequestSchema, { target: noName, set: { a: 'b' } })).toBe(false);
    expect(v.is(LabelRequestSchema, { target })).toBe(false);
    expect(v.is(LabelRequestSchema, { target, set: { a: 'b' }, remove: ['a'] })).toBe(false);
    expect(v.is(LabelRequestSchema, { target, set: { a: 'b' }, extra: true })).toBe(false);
  });
});
