import { describe, expect, it } from 'vitest';
import { type SubjectSource, subjectsByIdentity } from '../../shared/identities.ts';
import { bundleRefs, renderBundle, type Templates } from './render.ts';
import bundle from './templates/bundle.json' with { type: 'json' };
import plans from './templates/plans.json' with { type: 'json' };

const templates = { bundle, plans } as Templates;
const ids = { namespace: 'tenant-acme', customerId: 'acme' };
const subjects = subjectsByIdentity([{ kind: 'serviceaccounts' }]);

describe('bundleRefs', () => {
  it('names the objects renderBundle renders, for every plan', () => {
    for (const plan of Object.values(templates.plans)) {
      const rendered = renderBundle(templates, { ...ids, plan, owners: [], subjects }).map((o) => ({
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: o.metadata?.name,
      }));
      expect(bundleRefs(templates, ids)).toEqual(rendered);
    }
  });

  it('refuses a name that depends on the plan', () => {
    const named = (name: string) => ({
      ...templates,
      bundle: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } }],
    });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: template placeholders are literal text
    expect(() => bundleRefs(named('q-${plan.cpu}'), ids)).toThrow(/plan\.cpu/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: template placeholders are literal text
    expect(bundleRefs(named('c-${customerId}'), ids)).toEqual([
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'c-acme' },
    ]);
  });
});

describe("the tenant's bindings for kubefn's own identities", () => {
  const bindingSubjects = (sources: SubjectSource[]) =>
    Object.fromEntries(
      renderBundle(templates, {
        ...ids,
        plan: templates.plans.free ?? {},
        owners: [],
        subjects: subjectsByIdentity(sources),
      })
        .filter((o) => o.kind === 'RoleBinding' && o.metadata?.name?.startsWith('kubefn-'))
        .map((o) => [o.metadata?.name, (o as { subjects?: unknown }).subjects]),
    );

  it.each<[string, SubjectSource[], Record<string, unknown>]>([
    [
      'local ServiceAccounts',
      [{ kind: 'serviceaccounts' }],
      {
        'kubefn-label': [
          { kind: 'ServiceAccount', name: 'kubefn-label', namespace: 'kubefn-system' },
        ],
        'kubefn-ingress-timeout': [
          { kind: 'ServiceAccount', name: 'kubefn-ingress-timeout', namespace: 'kubefn-system' },
        ],
      },
    ],
    [
      "GKE Users named by the Google service accounts' emails",
      [{ kind: 'google', project: 'acme-prod' }],
      {
        'kubefn-label': [
          {
            kind: 'User',
            apiGroup: 'rbac.authorization.k8s.io',
            name: 'kubefn-label@acme-prod.iam.gserviceaccount.com',
          },
        ],
        'kubefn-ingress-timeout': [
          {
            kind: 'User',
            apiGroup: 'rbac.authorization.k8s.io',
            name: 'kubefn-ingress-timeout@acme-prod.iam.gserviceaccount.com',
          },
        ],
      },
    ],
  ])('%s', (_what, sources, expected) => {
    expect(bindingSubjects(sources)).toEqual(expected);
  });
});
