// The resources the label function accepts are exactly those its RBAC lets it patch.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { labelableResources } from './handler.ts';

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

test('labelableResources is what infra/k8s/rbac.yaml grants kubefn-label (get, list, patch)', async () => {
  const text = await readFile(join(import.meta.dirname, '../../infra/k8s/rbac.yaml'), 'utf8');
  const roles = parseAllDocuments(text)
    .map((doc) => doc.toJS() as { kind: string; metadata: { name: string }; rules?: Rule[] })
    .filter((o) => o.kind === 'ClusterRole' && o.metadata.name.startsWith('kubefn-label'));
  const granted: Record<string, string[]> = {};
  for (const rule of roles.flatMap((role) => role.rules ?? [])) {
    expect(rule.verbs.sort()).toEqual(['get', 'list', 'patch']);
    for (const group of rule.apiGroups)
      granted[group] = [...(granted[group] ?? []), ...rule.resources];
  }
  const sorted = (r: Record<string, string[]>) =>
    Object.fromEntries(Object.entries(r).map(([group, plurals]) => [group, [...plurals].sort()]));
  expect(sorted(labelableResources)).toEqual(sorted(granted));
});
