import * as v from 'valibot';
import { describe, expect, test } from 'vitest';
import { isReservedKey, LabelRequestSchema } from './schema.ts';

describe('reserved label keys', () => {
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
