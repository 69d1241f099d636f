import { describe, expect, it } from 'vitest';
import { parseSubjectSource, rbacSubjects } from './identities.ts';

describe('parseSubjectSource', () => {
  it.each([
    ['serviceaccounts', { kind: 'serviceaccounts' }],
    ['google:my-project', { kind: 'google', project: 'my-project' }],
    ['google:my-project/eu1', { kind: 'google', project: 'my-project', cell: 'eu1' }],
    ['google:my-project/', undefined],
    ['google:my-project/EU1', undefined],
    ['google:my-project/eu1/x', undefined],
    ['google:my-project/a-cell-name-too-long', undefined],
    ['google:x', undefined],
    ['google:', undefined],
  ])('%s', (entry, source) => {
    expect(parseSubjectSource(entry)).toEqual(source);
  });
});

describe('rbacSubjects', () => {
  it.each([
    [
      { kind: 'google', project: 'my-project' } as const,
      'kubefn-ingress-timeout@my-project.iam.gserviceaccount.com',
    ],
    [
      { kind: 'google', project: 'my-project', cell: 'eu1' } as const,
      'kubefn-eu1-ingress@my-project.iam.gserviceaccount.com',
    ],
  ])("a cell's tenants bind that cell's own accounts: %j", (source, name) => {
    expect(rbacSubjects('ingress-timeout', [source])).toEqual([
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name },
    ]);
  });
});
