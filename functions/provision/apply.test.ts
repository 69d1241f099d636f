import { describe, expect, test } from 'vitest';
import { covers, drift, hasFields, withoutFields } from './apply.ts';

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

describe('covers', () => {
  test.each([
    { live: { a: 1, b: 2 }, want: { a: 1 }, expected: true }, // the server adds fields
    { live: { a: 1 }, want: { a: 2 }, expected: false },
    { live: {}, want: { a: 1 }, expected: false },
    { live: [{ a: 1, x: 0 }], want: [{ a: 1 }], expected: true }, // defaults inside list items
    { live: [{ a: 1 }, { a: 2 }], want: [{ a: 1 }], expected: false }, // lists match item by item
    { live: { q: '1Gi' }, want: { q: '1Gi' }, expected: true },
    { live: { n: '1' }, want: { n: 1 }, expected: false },
    { live: undefined, want: { a: 1 }, expected: false },
    { live: {}, want: { subjects: [] }, expected: true }, // stored as absent
    { live: {}, want: { labels: {} }, expected: true },
    { live: { subjects: [{ name: 'x' }] }, want: { subjects: [] }, expected: false },
  ])('$live covers $want: $expected', ({ live, want, expected }) => {
    expect(covers(live, want)).toBe(expected);
  });
});

describe('drift', () => {
  const object = {
    apiVersion: 'v1',
    kind: 'X',
    metadata: { name: 'm', namespace: 'n' },
    spec: { a: 1 },
  };
  const defaults = {
    apiVersion: 'v1',
    kind: 'X',
    metadata: { name: 'm', namespace: 'n' },
    spec: { replicas: 2 },
  };
  const owner = (manager: string) => ({ manager, fieldsV1: { 'f:spec': { 'f:replicas': {} } } });
  const live = (replicas: number | undefined, managers: string[]) => ({
    ...object,
    metadata: { ...object.metadata, managedFields: managers.map(owner) },
    spec: { a: 1, ...(replicas === undefined ? {} : { replicas }) },
  });
  test.each([
    { what: 'absent', current: undefined, expected: 'missing' },
    {
      what: 'an enforced field changed',
      current: { ...object, spec: { a: 2, replicas: 2 } },
      expected: 'different',
    },
    { what: 'as the template says', current: live(2, ['kubefn-defaults']), expected: undefined },
    { what: 'a default removed', current: live(undefined, []), expected: 'defaults' },
    {
      what: 'a default only kubefn set, now another plan',
      current: live(1, ['kubefn-defaults']),
      expected: 'defaults',
    },
    {
      what: 'a default an operator set',
      current: live(5, ['kubefn-defaults', 'kubectl-scale']),
      expected: undefined,
    },
  ])('$what: $expected', ({ current, expected }) => {
    expect(drift({ object, defaults }, current)).toBe(expected);
  });
});
