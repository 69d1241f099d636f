import { describe, expect, it } from 'vitest';
import { bundleRefs, renderBundle, type Templates } from './render.ts';
import bundle from './templates/bundle.json' with { type: 'json' };
import plans from './templates/plans.json' with { type: 'json' };

const templates = { bundle, plans } as Templates;
const ids = { namespace: 'tenant-acme', customerId: 'acme' };

describe('bundleRefs', () => {
  it('names the objects renderBundle renders, for every plan', () => {
    for (const plan of Object.values(templates.plans)) {
      const rendered = renderBundle(templates, { ...ids, plan, owners: [] }).map((o) => ({
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
