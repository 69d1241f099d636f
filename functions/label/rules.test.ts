import * as v from 'valibot';
import { describe, expect, test } from 'vitest';
import type { Cluster } from '../../shared/kube/index.ts';
import { labelableResources } from './handler.ts';
import { applyRules, labelRules, RuleSchema } from './rules.ts';

// The API group and plural of the kinds a rule may name (discovery's answer for each).
const resourceOf: Record<string, [string, string]> = {
  'apps/v1 Deployment': ['apps', 'deployments'],
  'v1 Service': ['', 'services'],
  'networking.k8s.io/v1 Ingress': ['networking.k8s.io', 'ingresses'],
  'v1 ConfigMap': ['', 'configmaps'],
};

describe('the label rules (rules.json)', () => {
  test('every kind a rule names is one the label function may label', () => {
    for (const rule of labelRules)
      for (const { apiVersion, kind } of rule.kinds) {
        const resource = resourceOf[`${apiVersion} ${kind}`];
        expect(resource, `${apiVersion} ${kind}`).toBeDefined();
        const [group = '', plural = ''] = resource ?? [];
        expect(labelableResources[group]).toContain(plural);
      }
  });

  const rule = (labels: Record<string, string>) => ({
    name: 'r',
    kinds: [{ apiVersion: 'v1', kind: 'Service' }],
    labels,
  });
  test.each([
    ['a plain key', { team: 'x' }, true],
    ['a prefixed key', { 'example.com/team': 'x' }, true],
    ["kubefn's own prefix", { 'kubefn.dev/plan': 'x' }, false],
    ['the managed-by label', { 'app.kubernetes.io/managed-by': 'x' }, false],
    ["Kubernetes' reserved prefix", { 'kubernetes.io/name': 'x' }, false],
    ['not a label key', { 'a b': 'x' }, false],
  ])('a rule setting %s: valid %s', (_, labels, valid) => {
    expect(v.is(RuleSchema, rule(labels))).toBe(valid);
  });
});

describe('applyRules', () => {
  // Every namespace is as given; any other call fails the test.
  const cluster = (namespace: unknown) =>
    ({
      resource: () => ({ find: async () => namespace }),
    }) as unknown as Cluster;
  const deps = (namespace: unknown) => ({
    cluster: cluster(namespace),
    policy: { allowReserved: false, extraNamespaces: [] },
  });
  const deployment = (labels: Record<string, string> = {}) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'tenant-a', labels },
  });
  const tenant = {
    metadata: {
      name: 'tenant-a',
      labels: {
        'app.kubernetes.io/managed-by': 'kubefn',
        'kubefn.dev/customer': 'a',
        'kubefn.dev/plan': 'free',
      },
    },
  };

  test.each([
    ['a deletion', { type: 'DELETED' as const, object: deployment() }, tenant, 'ignored'],
    [
      'an object outside kubefn',
      { type: 'ADDED' as const, object: deployment() },
      { metadata: { name: 'tenant-a' } },
      'ignored',
    ],
    [
      'an object that has the labels already',
      { type: 'ADDED' as const, object: deployment({ customer: 'a', plan: 'free' }) },
      tenant,
      'in-sync',
    ],
    [
      // The live namespace decides (a forged message, or an old one delivered late), not the message.
      "a Namespace message with kubefn's labels the namespace does not have",
      {
        type: 'MODIFIED' as const,
        object: { apiVersion: 'v1', kind: 'Namespace', metadata: tenant.metadata },
      },
      { metadata: { name: 'tenant-a' } },
      'ignored',
    ],
  ])('%s: %s, nothing written', async (_, change, namespace, outcome) => {
    expect(await applyRules(change, deps(namespace))).toMatchObject({ outcome });
  });
});
