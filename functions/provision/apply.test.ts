import { describe, expect, test } from 'vitest';
import { hasFields, withoutFields } from './apply.ts';

const ingress = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: {
    name: 'monitoring',
    namespace: 'tenant-a',
    annotations: { 'kubefn.dev/backend-timeout': '30s', other: 'x' },
  },
  spec: { replicas: 2 },
};

describe('withoutFields', () => {
  test.each([
    {
      what: 'an annotation whose key has dots and a slash',
      owned: ['.metadata.annotations.kubefn.dev/backend-timeout'],
      expected: { ...ingress, metadata: { ...ingress.metadata, annotations: { other: 'x' } } },
    },
    {
      what: 'the last field of a map drops the map',
      owned: ['.metadata.annotations.kubefn.dev/backend-timeout', '.metadata.annotations.other'],
      expected: {
        ...ingress,
        metadata: { name: 'monitoring', namespace: 'tenant-a' },
      },
    },
    {
      what: 'a spec field',
      owned: ['.spec.replicas'],
      expected: { ...ingress, spec: undefined },
    },
    { what: 'an unknown path changes nothing', owned: ['.spec.other'], expected: ingress },
    {
      what: 'what names the object is always kept',
      owned: ['.metadata.name', '.kind', '.apiVersion', '.metadata.namespace'],
      expected: ingress,
    },
  ])('$what', ({ owned, expected }) => {
    expect(withoutFields(ingress, new Set(owned))).toEqual(JSON.parse(JSON.stringify(expected)));
  });
});

test.each([
  { object: ingress, expected: true },
  {
    object: { apiVersion: 'v1', kind: 'X', metadata: { name: 'a', namespace: 'b' } },
    expected: false,
  },
  { object: { apiVersion: 'v1', kind: 'X', metadata: { name: 'a' }, spec: {} }, expected: false },
])('hasFields %#', ({ object, expected }) => {
  expect(hasFields(object)).toBe(expected);
});
