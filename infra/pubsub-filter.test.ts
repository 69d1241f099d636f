import { describe, expect, test } from 'vitest';
import { type ChangedPart, type ChangeType, changeMessage } from '../shared/events/change.ts';
import { managedByLabel, managedByValue } from '../shared/labels.ts';
import {
  type Attributes,
  compileFilter,
  FilterError,
  maxFilterBytes,
  parseFilter,
} from './pubsub-filter.ts';
import { type TopicKey, triggers } from './subscriptions.ts';

// The messages of Google's own examples (subscription-message-filter), by the attributes they have.
const withName = (name: string): Attributes => ({ name });
const none: Attributes = {};
const tagged: Attributes = { 'iana.org/language_tag': 'en', name: 'com' };

describe('the documented grammar', () => {
  test.each([
    ['attributes:name', withName('x'), true],
    ['attributes:name', none, false],
    ['NOT attributes:name', none, true],
    ['NOT attributes:name', withName('x'), false],
    ['attributes.name = "com"', withName('com'), true],
    ['attributes.name = "com"', withName('co'), false],
    ['attributes.name = "com"', none, false],
    ['attributes.name="com"', withName('com'), true],
    // "Messages without the name attribute and the value of com": a message without it matches.
    ['attributes.name != "com"', withName('org'), true],
    ['attributes.name != "com"', withName('com'), false],
    ['attributes.name != "com"', none, true],
    ['hasPrefix(attributes.name, "co")', withName('com'), true],
    ['hasPrefix(attributes.name, "co")', withName('org'), false],
    ['hasPrefix(attributes.name, "co")', none, false],
    ['hasPrefix(attributes.name, "")', withName(''), true],
    ['NOT hasPrefix(attributes.name, "co")', none, true],
    // Case-sensitive keys and values.
    ['attributes.name = "com"', withName('COM'), false],
    ['attributes.Name = "com"', withName('com'), false],
    // Keys other than letters, digits, - and _ are string literals.
    ['attributes."iana.org/language_tag" = "en"', tagged, true],
    ['attributes:"iana.org/language_tag"', withName('com'), false],
    ['attributes.ce-type = "a"', { 'ce-type': 'a' }, true],
    ['attributes.under_score_9 = "a"', { under_score_9: 'a' }, true],
    ['attributes:"iana.org/language_tag" AND NOT attributes.name = "com"', tagged, false],
    [
      'attributes:"iana.org/language_tag" AND NOT attributes.name = "com"',
      { 'iana.org/language_tag': 'en', name: 'org' },
      true,
    ],
    [
      'attributes:"iana.org/language_tag" AND (attributes.name = "net" OR attributes.name = "org")',
      { 'iana.org/language_tag': 'en', name: 'org' },
      true,
    ],
    [
      'attributes:"iana.org/language_tag" AND (attributes.name = "net" OR attributes.name = "org")',
      tagged,
      false,
    ],
    ['attributes.name = "com" AND -attributes:"iana.org/language_tag"', withName('com'), true],
    ['attributes.name = "com" AND -attributes:"iana.org/language_tag"', tagged, false],
    ['attributes.a = "1" OR attributes.b = "2" OR attributes.c = "3"', { c: '3' }, true],
    ['attributes.a = "1" OR attributes.b = "2" OR attributes.c = "3"', { d: '3' }, false],
    ['attributes.a = "1" AND attributes.b = "2" AND attributes.c = "3"', { a: '1', b: '2' }, false],
    // NOT binds tighter than AND: (NOT a) AND b.
    ['NOT attributes:a AND attributes:b', { b: 'x' }, true],
    ['NOT attributes:a AND attributes:b', { a: 'x', b: 'x' }, false],
    ['NOT (attributes:a AND attributes:b)', { a: 'x' }, true],
    ['NOT NOT attributes:a', { a: 'x' }, true],
    ['((attributes.a = "1"))', { a: '1' }, true],
    ['(attributes:a OR attributes:b) AND (attributes:c OR attributes:d)', { b: '', d: '' }, true],
    ['(attributes:a OR attributes:b) AND (attributes:c OR attributes:d)', { b: '' }, false],
    // Escapes inside string literals: quote, backslash, Unicode, hex, octal.
    ['attributes.q = "say \\"hi\\""', { q: 'say "hi"' }, true],
    ['attributes.q = "a\\\\b"', { q: 'a\\b' }, true],
    ['attributes:"\\u307F\\u3093\\u306A"', { みんな: '1' }, true],
    ['attributes.h = "\\x41\\101"', { h: 'AA' }, true],
    ['attributes.nl = "a\\nb"', { nl: 'a\nb' }, true],
    // A key named like an operator is only a key.
    ['attributes.AND = "OR"', { AND: 'OR' }, true],
    // No filter: every message.
    ['', none, true],
    ['   ', withName('x'), true],
  ] as const)('%s on %j: %s', (filter, attributes, expected) => {
    expect(compileFilter(filter)(attributes)).toBe(expected);
  });

  test('an inherited property is not an attribute', () => {
    expect(compileFilter('attributes:toString')({})).toBe(false);
    expect(compileFilter('attributes:constructor')({})).toBe(false);
  });

  test.each([
    // Google's "invalid" examples.
    'attributes:"iana.org/language_tag" AND attributes.name = "net" OR attributes.name = "org"',
    'attributes.name = "com" AND ("net" OR "org")',
    '"com" = attributes.name',
    'attributes.name = attributes.website',
    'attributes:\\u307F\\u3093\\u306A',
    // AND and OR at one level, either order.
    'attributes:a OR attributes:b AND attributes:c',
    // Lowercase operators.
    'attributes:a and attributes:b',
    'attributes:a or attributes:b',
    'not attributes:a',
    // Not the grammar.
    'attributes.name',
    'attributes',
    'name = "com"',
    'attributes.name == "com"',
    'attributes.name = com',
    "attributes.name = 'com'",
    'attributes.name ! = "com"',
    'attributes.name > "com"',
    'attributes . name = "com"',
    'attributes: name',
    'attributes:name = "com"',
    'hasPrefix(attributes:name, "co")',
    'hasPrefix(attributes.name)',
    'hasPrefix(attributes.name, co)',
    'hasSuffix(attributes.name, "om")',
    'regex(attributes.name, "c.*")',
    'NOT(attributes:a)',
    'NOT',
    '-',
    '()',
    '(attributes:a',
    'attributes:a)',
    'attributes:a AND',
    'AND attributes:a',
    'attributes:a attributes:b',
    'attributes.name = "unterminated',
    'attributes.name = "bad \\q escape"',
    'attributes.name = "\\u12"',
    'attributes.name = "\\08"',
    'attributes.data.nested = "x"',
    'data = "x"',
  ])('refuses %s', (filter) => {
    expect(() => parseFilter(filter)).toThrow(FilterError);
    expect(() => compileFilter(filter)).toThrow(FilterError);
  });

  test('the limit is 256 bytes, counted in UTF-8', () => {
    const of = (length: number, char = 'a') => `attributes:"${char.repeat(length)}"`;
    expect(() => parseFilter(of(maxFilterBytes - 13))).not.toThrow();
    expect(() => parseFilter(of(maxFilterBytes - 12))).toThrow(/257 bytes/);
    // 100 characters, 300 bytes.
    expect(() => parseFilter(of(100, 'み'))).toThrow(FilterError);
  });

  test('the error says where it stopped', () => {
    expect(() => parseFilter('attributes:a AND attributes:b OR attributes:c')).toThrow(
      /combined only with parentheses \(at character 30\)/,
    );
  });
});

// What each change reaches, by the filters in infra/subscriptions.ts: the routing production does.
const tenantNamespace = 'kubefn-t-acme';
const managed = { labels: { [managedByLabel]: managedByValue } };
const resources = {
  Ingress: { apiVersion: 'networking.k8s.io/v1', group: 'networking.k8s.io', version: 'v1' },
  Deployment: { apiVersion: 'apps/v1', group: 'apps', version: 'v1' },
  Service: { apiVersion: 'v1', group: '', version: 'v1' },
  Namespace: { apiVersion: 'v1', group: '', version: 'v1' },
  ResourceQuota: { apiVersion: 'v1', group: '', version: 'v1' },
  RoleBinding: {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
  },
  ConfigMap: { apiVersion: 'v1', group: '', version: 'v1' },
} as const;

function change(
  type: ChangeType,
  kind: keyof typeof resources,
  options: { managed?: boolean; changed?: ChangedPart[] } = {},
) {
  const namespaced = kind !== 'Namespace';
  const object = {
    metadata: {
      name: namespaced ? 'web' : tenantNamespace,
      ...(namespaced ? { namespace: tenantNamespace } : {}),
      uid: '7c0e4f7e-0000-4000-8000-000000000001',
      resourceVersion: '42',
      ...(options.managed ? managed : {}),
    },
  };
  return changeMessage({ ...resources[kind], kind }, { type, object }, 'prod', options.changed);
}

/** The consumers (target and route) that Pub/Sub delivers a message on `topic` to. */
const reaches = (topic: TopicKey, attributes: Attributes) =>
  Object.values(triggers)
    .filter(
      (t) => t.topic === topic && compileFilter('filter' in t ? t.filter : undefined)(attributes),
    )
    .map((t) => `${t.target} ${t.route}`)
    .sort();

const ingressTimeout = 'ingress-timeout /pubsub';
const provision = 'provision /pubsub/changes';
const label = 'label /pubsub/changes';

describe('the triggers route each change to the consumers that want it', () => {
  test.each([
    [
      'an unlabelled Ingress added in a tenant namespace',
      change('ADDED', 'Ingress'),
      [ingressTimeout, label],
    ],
    // A MODIFIED says which parts changed (functions/watcher/select.ts): each consumer takes
    // what it acts on.
    [
      'an Ingress annotated',
      change('MODIFIED', 'Ingress', { changed: ['annotations'] }),
      [ingressTimeout],
    ],
    [
      'an Ingress spec edited',
      change('MODIFIED', 'Ingress', { changed: ['spec'] }),
      [ingressTimeout],
    ],
    // The label rules' own write (or anyone's label change): label checks it, ingress-timeout need not.
    ['an Ingress relabelled', change('MODIFIED', 'Ingress', { changed: ['labels'] }), [label]],
    [
      'an Ingress modified, earlier state unknown (after a restart)',
      change('MODIFIED', 'Ingress', { changed: ['labels', 'annotations', 'spec'] }),
      [ingressTimeout, label],
    ],
    // ingress-timeout forgets a deleted Ingress's load balancer settings; label has nothing to do.
    ['an Ingress deleted', change('DELETED', 'Ingress'), [ingressTimeout]],
    [
      'a managed Ingress deleted',
      change('DELETED', 'Ingress', { managed: true }),
      [ingressTimeout, provision],
    ],
    [
      'a managed ResourceQuota deleted',
      change('DELETED', 'ResourceQuota', { managed: true }),
      [provision],
    ],
    [
      'a managed ResourceQuota edited',
      change('MODIFIED', 'ResourceQuota', { managed: true, changed: ['spec'] }),
      [provision],
    ],
    [
      'a managed RoleBinding deleted',
      change('DELETED', 'RoleBinding', { managed: true }),
      [provision],
    ],
    ['a managed Deployment added', change('ADDED', 'Deployment', { managed: true }), [label]],
    [
      'a managed Deployment edited',
      change('MODIFIED', 'Deployment', { managed: true, changed: ['spec'] }),
      [provision],
    ],
    [
      'a managed Deployment relabelled',
      change('MODIFIED', 'Deployment', { managed: true, changed: ['labels'] }),
      [label, provision],
    ],
    ['a Deployment added', change('ADDED', 'Deployment'), [label]],
    ['a Deployment deleted', change('DELETED', 'Deployment'), []],
    ['a Service relabelled', change('MODIFIED', 'Service', { changed: ['labels'] }), [label]],
    ['a Service spec edited', change('MODIFIED', 'Service', { changed: ['spec'] }), []],
    [
      'a tenant Namespace relabelled (a plan change)',
      change('MODIFIED', 'Namespace', { managed: true, changed: ['labels'] }),
      [label],
    ],
    ['a tenant Namespace added', change('ADDED', 'Namespace', { managed: true }), [label]],
    ['a tenant Namespace deleted', change('DELETED', 'Namespace', { managed: true }), []],
    ['a ConfigMap added', change('ADDED', 'ConfigMap'), []],
    ['a ConfigMap modified', change('MODIFIED', 'ConfigMap', { changed: ['labels'] }), []],
  ])('%s', (_, message, expected) => {
    expect(reaches('changes', message.attributes)).toEqual([...expected].sort());
  });

  test('what is published on the other topics reaches its one consumer', () => {
    expect(reaches('labelRequests', {})).toEqual(['label /pubsub']);
    expect(reaches('tenantRequests', { customer: 'acme' })).toEqual(['placement /pubsub/tenants']);
    expect(reaches('resyncBatches', {})).toEqual(['provision /pubsub/resync']);
    expect(reaches('deadLetter', {})).toEqual([]);
  });

  const filtered = Object.entries(triggers).flatMap(([key, trigger]) =>
    'filter' in trigger && trigger.filter !== undefined ? [[key, trigger.filter] as const] : [],
  );

  test.each(filtered)('%s: its filter parses and fits in 256 bytes', (_, filter) => {
    expect(Buffer.byteLength(filter)).toBeLessThanOrEqual(maxFilterBytes);
    expect(parseFilter(filter)).toBeDefined();
  });

  test('only the triggers of single-consumer topics go without a filter', () => {
    const unfiltered = Object.keys(triggers).filter((key) => !filtered.some(([k]) => k === key));
    expect(unfiltered.sort()).toEqual(['labelRequests', 'resyncBatches', 'tenantRequests']);
  });
});
