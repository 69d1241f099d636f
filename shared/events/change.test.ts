import { describe, expect, test } from 'vitest';
import { changeMessage, parseChange } from './change.ts';

const ingress = {
  apiVersion: 'networking.k8s.io/v1',
  group: 'networking.k8s.io',
  version: 'v1',
  kind: 'Ingress',
};
const namespaceInfo = { apiVersion: 'v1', group: '', version: 'v1', kind: 'Namespace' };

describe('changeMessage', () => {
  // The vector: a change to this object must always become exactly these bytes and attributes.
  // A consumer deployed before a watcher change still reads what the watcher sends.
  test('pins one message byte for byte', () => {
    const message = changeMessage(
      ingress,
      {
        type: 'MODIFIED',
        object: {
          metadata: { name: 'web', namespace: 'tenant-a', uid: 'u-1', resourceVersion: '42' },
          spec: { rules: [] },
        } as never,
      },
      'local',
    );
    expect(message.data.toString('hex')).toBe(
      Buffer.from(
        '{"type":"MODIFIED","object":{"apiVersion":"networking.k8s.io/v1","kind":"Ingress",' +
          '"metadata":{"name":"web","namespace":"tenant-a","uid":"u-1","resourceVersion":"42"},' +
          '"spec":{"rules":[]}}}',
      ).toString('hex'),
    );
    expect(Object.entries(message.attributes)).toEqual([
      ['type', 'MODIFIED'],
      ['group', 'networking.k8s.io'],
      ['version', 'v1'],
      ['kind', 'Ingress'],
      ['name', 'web'],
      ['uid', 'u-1'],
      ['resourceVersion', '42'],
      ['cluster', 'local'],
      ['eventKey', 'u-1/42/MODIFIED'],
      ['namespace', 'tenant-a'],
      // CloudEvents 1.0, Pub/Sub binary mode, beside the attributes above (issue 31)
      ['ce-specversion', '1.0'],
      ['ce-id', 'u-1/42/MODIFIED'],
      ['ce-source', '//kubefn.dev/clusters/local/watcher'],
      ['ce-type', 'dev.kubefn.object.modified'],
      ['content-type', 'application/json'],
      ['ce-subject', 'networking.k8s.io/Ingress/tenant-a/web'],
    ]);
    expect(message.orderingKey).toBe('networking.k8s.io/Ingress/tenant-a/web');
  });

  test.each([
    {
      what: 'a cluster-scoped object has no namespace attribute',
      info: namespaceInfo,
      change: {
        type: 'ADDED' as const,
        object: { metadata: { name: 'n', uid: 'u', resourceVersion: '1' } },
      },
      attributes: { type: 'ADDED', group: '', kind: 'Namespace', eventKey: 'u/1/ADDED' },
      orderingKey: '/Namespace//n',
      namespace: false,
    },
    {
      what: "the object's own apiVersion and kind win over the resource's",
      info: ingress,
      change: {
        type: 'DELETED' as const,
        object: {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          metadata: { name: 'x', namespace: 'ns', uid: 'u2', resourceVersion: '7' },
        },
      },
      attributes: { type: 'DELETED', namespace: 'ns', eventKey: 'u2/7/DELETED' },
      orderingKey: 'networking.k8s.io/Ingress/ns/x',
      namespace: true,
    },
    {
      what: 'missing metadata gives empty strings, never undefined',
      info: namespaceInfo,
      change: { type: 'MODIFIED' as const, object: {} },
      attributes: { name: '', uid: '', resourceVersion: '', eventKey: '//MODIFIED' },
      orderingKey: '/Namespace//',
      namespace: false,
    },
    {
      what: "kubefn's own objects say so (subscription filters select them)",
      info: ingress,
      change: {
        type: 'MODIFIED' as const,
        object: {
          metadata: {
            name: 'm',
            namespace: 'ns',
            labels: { 'app.kubernetes.io/managed-by': 'kubefn' },
          },
        },
      },
      attributes: { managed: 'true', namespace: 'ns' },
      orderingKey: 'networking.k8s.io/Ingress/ns/m',
      namespace: true,
    },
  ])('$what', ({ info, change, attributes, orderingKey, namespace }) => {
    const message = changeMessage(info, change, 'c');
    expect(message.attributes).toMatchObject(attributes);
    expect('namespace' in message.attributes).toBe(namespace);
    expect('managed' in message.attributes).toBe('managed' in attributes);
    expect(message.orderingKey).toBe(orderingKey);
    for (const value of Object.values(message.attributes)) expect(typeof value).toBe('string');
  });

  test.each([
    [true, { listed: 'true' }],
    [false, {}],
    [undefined, {}],
  ])('a change from a list (initial %s) says so', (initial, expected) => {
    const object = { metadata: { name: 'n', uid: 'u', resourceVersion: '3' } };
    const { attributes } = changeMessage(
      namespaceInfo,
      { type: 'ADDED', object, ...(initial === undefined ? {} : { initial }) },
      'c',
    );
    expect({ listed: attributes.listed }).toEqual({ listed: undefined, ...expected });
  });
});

describe('parseChange', () => {
  test('reads back what changeMessage built, from bytes and from base64', () => {
    const message = changeMessage(
      namespaceInfo,
      { type: 'ADDED', object: { metadata: { name: 'n', uid: 'u', resourceVersion: '3' } } },
      'local',
    );
    const expected = {
      type: 'ADDED',
      object: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'n', uid: 'u', resourceVersion: '3' },
      },
    };
    expect(parseChange(message.data)).toEqual(expected);
    expect(parseChange(message.data.toString('base64'))).toEqual(expected);
  });

  test.each([
    ['an unknown type', '{"type":"BOOKMARK","object":{"metadata":{}}}'],
    ['no metadata', '{"type":"ADDED","object":{}}'],
    ['not JSON', 'nope'],
  ])('rejects %s', (_, body) => {
    expect(() => parseChange(Buffer.from(body))).toThrow();
  });
});
