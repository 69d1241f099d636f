// The tenant model, offline: what a tenant in each state holds, which namespaces are tenants,
// and the one selector every trigger lists them by.
import { describe, expect, test } from 'vitest';
import { subjectsByIdentity } from '../../shared/identities.ts';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import { type ProvisionDeps, provisionTenant } from './handler.ts';
import { healObject } from './heal.ts';
import type { Templates } from './render.ts';
import { resyncTenants } from './resync.ts';
import bundle from './templates/bundle.json' with { type: 'json' };
import plans from './templates/plans.json' with { type: 'json' };
import {
  bindingOwners,
  customersSelector,
  desiredNamespace,
  desiredObjects,
  keepOwner,
  objectKey,
  ownerSelector,
  ownersBindingTemplate,
  planOf,
  tenantKinds,
  tenantOf,
  tenantSelector,
} from './tenant.ts';

const templates = { bundle, plans } as Templates;
const subjects = subjectsByIdentity([{ kind: 'serviceaccounts' }]);
const id = { customerId: 'acme', namespace: 'tenant-acme' };
const find = (objects: { object: KubeObject }[], kind: string, name: string) =>
  objects.find((o) => o.object.kind === kind && o.object.metadata?.name === name)?.object as
    | (KubeObject & { spec?: { hard?: unknown }; subjects?: unknown })
    | undefined;

describe('desiredObjects', () => {
  test.each([
    { plan: 'free', suspended: false, owners: [] },
    { plan: 'free', suspended: true, owners: [] },
    { plan: 'pro', suspended: false, owners: ['ada@example.com'] },
    { plan: 'pro', suspended: true, owners: ['ada@example.com', 'bo@example.com'] },
  ] as const)('$plan, suspended $suspended, owners $owners', ({ plan, suspended, owners }) => {
    const objects = desiredObjects(
      templates,
      { ...id, plan, suspended, owners: [...owners] },
      subjects,
    );
    // The bundle, always whole, every object in the tenant's namespace and labelled as its.
    expect(objects.slice(0, bundle.length).map((o) => o.object.metadata?.name)).toEqual(
      bundle.map((t) => t.metadata.name),
    );
    for (const { object } of objects) {
      expect(object.metadata?.namespace).toBe(id.namespace);
      expect(object.metadata?.labels).toMatchObject({
        'app.kubernetes.io/managed-by': 'kubefn',
        'kubefn.dev/customer': 'acme',
      });
    }
    // The plan's quota whether suspended or not; the suspension's own quota only while suspended.
    expect(find(objects, 'ResourceQuota', 'tenant-quota')?.spec?.hard).toEqual(plans[plan].quota);
    expect(find(objects, 'ResourceQuota', 'kubefn-suspended')?.spec).toEqual(
      suspended ? { hard: { pods: '0' } } : undefined,
    );
    expect(objects.length).toBe(bundle.length + (suspended ? 1 : 0));
    // The owners bound are the tenant's owners, as Users.
    expect(find(objects, 'RoleBinding', 'tenant-owners')?.subjects).toEqual(
      owners.map((name) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name })),
    );
  });

  test('a plan the templates do not have is refused, not rendered empty', () => {
    const tenant = { ...id, plan: 'gold', suspended: false, owners: [] };
    expect(() => desiredObjects(templates, tenant, subjects)).toThrow(refusal);
  });
});

const refusal = expect.objectContaining({ code: 'invalid-input' });

test.each([
  { name: 'free', refused: false },
  { name: 'pro', refused: false },
  { name: 'gold', refused: true },
  { name: '', refused: true },
  { name: 'toString', refused: true },
  { name: 'constructor', refused: true },
  { name: '__proto__', refused: true },
])('planOf($name): refused $refused', ({ name, refused }) => {
  if (refused) expect(() => planOf(templates, name)).toThrow(refusal);
  else expect(planOf(templates, name)).toBe(templates.plans[name]);
});

const managed = { 'app.kubernetes.io/managed-by': 'kubefn' };
const namespace = (
  name: string,
  labels: Record<string, string>,
  more: { annotations?: Record<string, string>; deletionTimestamp?: string } = {},
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels, ...more },
});

// Which namespaces are tenants, and what they record. `listed` is whether the one selector every
// trigger lists tenants by selects the namespace: it must select every tenant (else the scheduled
// check misses it), and, for the ceiling on all tenants, count nothing that is no tenant's.
describe('tenantOf', () => {
  const customer = { ...managed, 'kubefn.dev/customer': 'acme', 'kubefn.dev/plan': 'pro' };
  test.each([
    {
      what: 'a running tenant',
      ns: namespace('tenant-acme', customer),
      tenant: { suspended: false, plan: 'pro', owners: undefined, terminating: false },
      listed: true,
    },
    {
      what: 'a suspended tenant with an owners record',
      ns: namespace(
        'tenant-acme',
        { ...customer, 'kubefn.dev/suspended': 'true' },
        { annotations: { 'kubefn.dev/owners': '["ada@example.com"]' } },
      ),
      tenant: { suspended: true, plan: 'pro', owners: ['ada@example.com'], terminating: false },
      listed: true,
    },
    {
      what: 'a suspended label that does not say true',
      ns: namespace('tenant-acme', { ...customer, 'kubefn.dev/suspended': 'yes' }),
      tenant: { suspended: false, plan: 'pro', owners: undefined, terminating: false },
      listed: true,
    },
    {
      what: 'an owners record that is no kubefn writing',
      ns: namespace('tenant-acme', customer, {
        annotations: { 'kubefn.dev/owners': '["system:masters"]' },
      }),
      tenant: { suspended: false, plan: 'pro', owners: undefined, terminating: false },
      listed: true,
    },
    {
      what: 'a tenant being deleted',
      ns: namespace('tenant-acme', customer, { deletionTimestamp: '2026-12-03T10:00:00Z' }),
      tenant: { suspended: false, plan: 'pro', owners: undefined, terminating: true },
      listed: true,
    },
    {
      what: 'a name that is not prefix + customer',
      ns: namespace('tenant-other', customer),
      tenant: undefined,
      listed: true,
    },
    {
      what: "another deployment's prefix",
      ns: namespace('staging-acme', customer),
      tenant: undefined,
      listed: true,
    },
    {
      what: 'managed, without a customer',
      ns: namespace('tenant-acme', managed),
      tenant: undefined,
      listed: false,
    },
    {
      what: 'a customer label, not managed',
      ns: namespace('tenant-acme', { 'kubefn.dev/customer': 'acme' }),
      tenant: undefined,
      listed: false,
    },
  ])('$what', ({ ns, tenant, listed }) => {
    expect(tenantOf(ns, 'tenant-')).toEqual(tenant && { ...id, ...tenant });
    expect(selects(tenantSelector, ns)).toBe(listed);
  });
});

test('the narrower selectors select tenants only, of that customer or owner', () => {
  const acme = namespace('tenant-acme', {
    ...managed,
    'kubefn.dev/customer': 'acme',
    'kubefn.dev/owner': 'uid-1',
  });
  const bare = namespace('tenant-acme', { ...managed, 'kubefn.dev/owner': 'uid-1' });
  expect(selects(customersSelector(['acme', 'zeta']), acme)).toBe(true);
  expect(selects(customersSelector(['zeta']), acme)).toBe(false);
  expect(selects(ownerSelector('uid-1'), acme)).toBe(true);
  expect(selects(ownerSelector('uid-2'), acme)).toBe(false);
  expect(selects(ownerSelector('uid-1'), bare)).toBe(false);
});

/** A label selector of `k=v`, `k` and `k in (a,b)` terms, as the API server reads them. */
function selects(selector: string, object: KubeObject): boolean {
  const labels = object.metadata?.labels ?? {};
  return selector.split(/,(?![^(]*\))/).every((term) => {
    const set = /^(\S+) in \((.*)\)$/.exec(term);
    if (set) return set[2]?.split(',').includes(labels[set[1] ?? ''] ?? '\0') ?? false;
    const [key = '', value] = term.split('=');
    return value === undefined ? key in labels : labels[key] === value;
  });
}

describe('desiredNamespace', () => {
  test.each([
    { what: 'an operator call', ownerUid: undefined, owner: {} },
    {
      what: "a customer's sign-up",
      ownerUid: 'uid-1',
      owner: { label: 'uid-1', annotation: 'uid-1' },
    },
    {
      what: 'a customer whose id is no label value',
      ownerUid: 'ada@example.com',
      owner: { label: expect.stringMatching(/^sha256\./), annotation: 'ada@example.com' },
    },
  ])('$what', ({ ownerUid, owner }) => {
    const ns = desiredNamespace({ ...id, plan: 'pro', owners: ['ada@example.com'] }, ownerUid);
    expect(ns.metadata?.name).toBe('tenant-acme');
    expect(ns.metadata?.labels).toEqual({
      'app.kubernetes.io/managed-by': 'kubefn',
      'kubefn.dev/customer': 'acme',
      'kubefn.dev/plan': 'pro',
      ...('label' in owner ? { 'kubefn.dev/owner': owner.label } : {}),
    });
    expect(ns.metadata?.annotations).toEqual({
      'kubefn.dev/owners': '["ada@example.com"]',
      ...('annotation' in owner ? { 'kubefn.dev/owner-uid': owner.annotation } : {}),
    });
    // The namespace is a tenant again when read back: the model reads what it writes.
    expect(tenantOf(ns, 'tenant-')).toMatchObject({ plan: 'pro', owners: ['ada@example.com'] });
  });

  test('keepOwner carries the live owner over a write that names none, and nothing else', () => {
    const ns = desiredNamespace({ ...id, plan: 'free', owners: [] });
    const live = namespace(
      'tenant-acme',
      { 'kubefn.dev/owner': 'uid-1', other: 'x' },
      {
        annotations: { 'kubefn.dev/owner-uid': 'uid-1', 'kubefn.dev/owners': '["x@example.com"]' },
      },
    );
    const kept = keepOwner(ns, live);
    expect(kept.metadata?.labels).toEqual({
      ...ns.metadata?.labels,
      'kubefn.dev/owner': 'uid-1',
    });
    expect(kept.metadata?.annotations).toEqual({
      'kubefn.dev/owners': '[]',
      'kubefn.dev/owner-uid': 'uid-1',
    });
    expect(keepOwner(ns, namespace('tenant-acme', {}))).toEqual(ns);
  });
});

test('the owners binding and the Users it names', () => {
  expect(ownersBindingTemplate(templates)?.metadata?.name).toBe('tenant-owners');
  expect(ownersBindingTemplate({ ...templates, bundle: [] })).toBeUndefined();
  const binding = {
    subjects: [
      { kind: 'User', name: 'ada@example.com' },
      { kind: 'Group', name: 'system:masters' },
      { kind: 'ServiceAccount', name: 'default' },
    ],
  } as KubeObject;
  expect(bindingOwners(binding)).toEqual(['ada@example.com']);
  expect(bindingOwners(undefined)).toEqual([]);
});

test('the kinds a tenant holds: each of the bundle once, and the suspension quota always', () => {
  const kinds = tenantKinds(templates).map((k) => `${k.apiVersion}/${k.kind}`);
  expect(new Set(kinds).size).toBe(kinds.length);
  expect(kinds).toContain('v1/ResourceQuota');
  expect(tenantKinds({ ...templates, bundle: [{ apiVersion: 'v1', kind: 'ConfigMap' }] })).toEqual([
    { apiVersion: 'v1', kind: 'ConfigMap' },
    { apiVersion: 'v1', kind: 'ResourceQuota' },
  ]);
});

test('objectKey tells objects apart by kind, namespace and name only', () => {
  const quota = {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: { namespace: 'a', name: 'q' },
  };
  expect(objectKey(quota)).toBe('v1/ResourceQuota/a/q');
  expect(objectKey({ ...quota, spec: { hard: {} } })).toBe(objectKey(quota));
  expect(objectKey({ ...quota, metadata: { namespace: 'b', name: 'q' } })).not.toBe(
    objectKey(quota),
  );
});

// Every trigger follows the model: self-healing, the scheduled check and a re-sign-up, against
// a cluster held in memory (server-side apply as a merge; label selectors as above).
describe('every trigger writes what the model says', () => {
  const ada = 'ada@example.com';
  const suspensionQuota = { apiVersion: 'v1', kind: 'ResourceQuota', name: 'kubefn-suspended' };
  const tenantNamespace = (suspended: boolean, name = 'tenant-acme') =>
    namespace(
      name,
      {
        ...managed,
        'kubefn.dev/customer': 'acme',
        'kubefn.dev/plan': 'pro',
        ...(suspended ? { 'kubefn.dev/suspended': 'true' } : {}),
      },
      { annotations: { 'kubefn.dev/owners': JSON.stringify([ada]) } },
    );
  /** The tenant whole as a running one, its namespace as given: only a suspension quota may be missing. */
  const setUp = (ns: KubeObject) => {
    const { deps, store } = fakeDeps();
    store.put(ns);
    const running = { ...id, plan: 'pro', suspended: false, owners: [ada] };
    for (const { object, defaults } of desiredObjects(templates, running, subjects))
      store.put(merge(object, defaults ?? {}) as KubeObject);
    return { deps, store };
  };
  const quotaDeleted = {
    type: 'DELETED' as const,
    object: {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'kubefn-suspended', namespace: 'tenant-acme' },
    },
  };

  test('a suspended tenant without its suspension quota: each trigger puts it back', async () => {
    const healed = setUp(tenantNamespace(true));
    expect(await healObject(quotaDeleted, healed.deps)).toMatchObject({ outcome: 'healed' });

    const checked = setUp(tenantNamespace(true));
    const answer = await resyncTenants(checked.deps);
    // Suspended: its workload is down by design, not reported.
    expect(answer.counts).toEqual({ unchanged: 0, repaired: 1, failed: 0, unavailable: 0 });
    expect(answer.tenants[0]?.repaired).toEqual([{ ...suspensionQuota, was: 'missing' }]);

    const signedUp = setUp(tenantNamespace(true));
    const result = await provisionTenant(
      { customerId: 'acme', plan: 'pro', owners: [ada], dryRun: false },
      signedUp.deps,
    );
    expect(result.objects).toContainEqual(suspensionQuota);

    for (const { store } of [healed, checked, signedUp]) {
      expect(store.get(quotaDeleted.object)?.spec).toEqual({ hard: { pods: '0' } });
      // The plan's own quota stays the plan's.
      const planQuota = {
        ...quotaDeleted.object,
        metadata: { ...quotaDeleted.object.metadata, name: 'tenant-quota' },
      };
      expect(store.get(planQuota)?.spec).toEqual({ hard: plans.pro.quota });
      // Still suspended: no trigger writes the suspension's label away.
      expect(store.get(tenantNamespace(true))?.metadata?.labels?.['kubefn.dev/suspended']).toBe(
        'true',
      );
    }
  });

  test('a running tenant: no trigger writes a suspension quota', async () => {
    const healed = setUp(tenantNamespace(false));
    expect(await healObject(quotaDeleted, healed.deps)).toMatchObject({ outcome: 'ignored' });
    const checked = setUp(tenantNamespace(false));
    expect((await resyncTenants(checked.deps)).counts).toEqual({
      unchanged: 1,
      repaired: 0,
      failed: 0,
      // Running, and its Deployment (in memory, no controller) has no available replica.
      unavailable: 1,
    });
    const signedUp = setUp(tenantNamespace(false));
    const result = await provisionTenant(
      { customerId: 'acme', plan: 'pro', owners: [ada], dryRun: false },
      signedUp.deps,
    );
    expect(result.objects).not.toContainEqual(suspensionQuota);
    for (const { store } of [healed, checked, signedUp])
      expect(store.get(quotaDeleted.object)).toBeUndefined();
  });

  test('a namespace not named prefix + its customer is no tenant to any trigger', async () => {
    const { deps, store } = fakeDeps();
    store.put(tenantNamespace(true, 'tenant-other'));
    const change = {
      ...quotaDeleted,
      object: {
        ...quotaDeleted.object,
        metadata: { name: 'kubefn-suspended', namespace: 'tenant-other' },
      },
    };
    expect(await healObject(change, deps)).toMatchObject({
      outcome: 'ignored',
      reason: 'not a tenant namespace',
    });
    expect((await resyncTenants(deps)).counts).toEqual({
      unchanged: 0,
      repaired: 0,
      failed: 0,
      unavailable: 0,
    });
    expect(store.get(change.object)).toBeUndefined();
  });

  test('a tenant whose plan label names no plan fails alone in the scheduled check', async () => {
    const { deps, store } = fakeDeps();
    const gold = tenantNamespace(false);
    store.put({
      ...gold,
      metadata: {
        ...gold.metadata,
        labels: { ...gold.metadata?.labels, 'kubefn.dev/plan': 'gold' },
      },
    });
    const answer = await resyncTenants(deps);
    expect(answer.counts).toEqual({ unchanged: 0, repaired: 0, failed: 1, unavailable: 0 });
    expect(answer.tenants[0]).toMatchObject({ customerId: 'acme', code: 'invalid-input' });
  });
});

type Ref = {
  apiVersion?: string;
  kind?: string;
  metadata?: { namespace?: string | undefined; name?: string };
};

/** Just what the triggers ask of a cluster, in memory. */
function fakeDeps() {
  const objects = new Map<string, KubeObject>();
  let version = 0;
  const store = {
    get: (ref: Ref) => objects.get(objectKey(ref as KubeObject)),
    put: (object: KubeObject) => {
      const stored = merge(object, { metadata: { resourceVersion: String(++version) } });
      objects.set(objectKey(object), stored as KubeObject);
      return stored as KubeObject;
    },
  };
  const cluster = {
    resource: (kind: { apiVersion: string; kind: string }) => {
      const keyed = (name: string, namespace?: string) => ({
        ...kind,
        metadata: { name, namespace },
      });
      return {
        find: async (name: string, options: { namespace?: string } = {}) =>
          store.get(keyed(name, options.namespace)),
        async *items(options: { namespace?: string; labelSelector?: string } = {}) {
          for (const object of objects.values())
            if (
              object.apiVersion === kind.apiVersion &&
              object.kind === kind.kind &&
              (options.namespace === undefined ||
                object.metadata?.namespace === options.namespace) &&
              (options.labelSelector === undefined || selects(options.labelSelector, object))
            )
              yield object;
        },
        create: async (object: KubeObject) => {
          if (store.get(object)) throw new KubeError('already-exists', 'already exists');
          return store.put(object);
        },
        apply: async (object: KubeObject) => {
          const applied = merge(store.get(object) ?? {}, object) as KubeObject;
          // The quota controller, counting at once (provision waits for it).
          if (applied.kind === 'ResourceQuota')
            applied.status = { hard: (applied.spec as { hard?: unknown }).hard };
          return store.put(applied);
        },
      };
    },
  } as unknown as Cluster;
  const deps: ProvisionDeps = { cluster, templates, namespacePrefix: 'tenant-', subjects };
  return { deps, store };
}

/** `over` merged into `base`, maps key by key, lists and scalars replaced: apply, roughly. */
function merge(base: unknown, over: unknown): unknown {
  const isMap = (value: unknown): value is Record<string, unknown> =>
    value !== null && typeof value === 'object' && !Array.isArray(value);
  if (!isMap(base) || !isMap(over)) return over;
  const merged = { ...base };
  for (const [key, value] of Object.entries(over)) merged[key] = merge(base[key], value);
  return merged;
}
