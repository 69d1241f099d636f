import { expect, test } from 'vitest';
import { DomainError } from '../../shared/errors.ts';
import { isLabelValue } from '../../shared/kube/names.ts';
import {
  badPlanRules,
  checkEntitlement,
  ownerLabelValue,
  ownersRecord,
  planRules,
  recordedOwners,
} from './owner.ts';
import plans from './templates/plans.json' with { type: 'json' };

test.each([
  [
    'an Identity Platform id is kept',
    'Uf3kQ9w2bXc7RkLmP0aZ1yT4vN8s',
    'Uf3kQ9w2bXc7RkLmP0aZ1yT4vN8s',
  ],
  ['a custom id that is a label value is kept', 'user-42', 'user-42'],
  ['an email-like custom id is hashed', 'ada@example.com', undefined],
  ['a 64-character id is hashed', 'a'.repeat(64), undefined],
  ['an id ending in a dash is hashed', 'user-', undefined],
  ['an id with a slash is hashed', 'a/b', undefined],
  ['an id that looks like a hash is hashed', `sha256.${'0'.repeat(48)}`, undefined],
])('%s', (_what, uid, kept) => {
  const value = ownerLabelValue(uid);
  expect(value !== '' && isLabelValue(value)).toBe(true);
  if (kept) expect(value).toBe(kept);
  else expect(value).toMatch(/^sha256\.[0-9a-f]{48}$/);
});

test('different ids never share a value, the same id always has one', () => {
  const ids = ['ada@example.com', 'ada@example.org', 'a/b', 'a/c', `sha256.${'0'.repeat(48)}`];
  const values = ids.map(ownerLabelValue);
  expect(new Set(values).size).toBe(ids.length);
  expect(ownerLabelValue('ada@example.com')).toBe(values[0]);
});

test('the built-in plans: free for anyone, one tenant; pro entitled, three, owners bound', () => {
  expect(badPlanRules(plans)).toEqual([]);
  expect(planRules(plans.free)).toEqual({
    tenantsPerCustomer: 1,
    needsEntitlement: false,
    ownerAccess: false,
  });
  expect(planRules(plans.pro)).toEqual({
    tenantsPerCustomer: 3,
    needsEntitlement: true,
    ownerAccess: true,
  });
});

test('a plan that does not say is not self-served: entitlement needed, no tenants', () => {
  expect(planRules({ quota: {} })).toEqual({
    tenantsPerCustomer: 0,
    needsEntitlement: true,
    ownerAccess: false,
  });
  expect(badPlanRules({ a: { tenantsPerCustomer: '3' }, b: { ownerAccess: 1 }, c: {} })).toEqual([
    'a',
    'b',
  ]);
});

const codeOf = (run: () => void) => {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof DomainError ? error.code : error;
  }
};

test.each([
  ['pro', { uid: 'u' }, 'plan-not-entitled'],
  ['pro', { uid: 'u', entitlement: 'enterprise' }, 'plan-not-entitled'],
  ['pro', { uid: 'u', entitlement: 'pro' }, undefined],
  ['free', { uid: 'u' }, undefined],
  ['free', { uid: 'u', entitlement: 'pro' }, undefined],
] as const)('plan %s for %o: %s', (plan, owner, code) => {
  const rules = planRules(plans[plan]);
  expect(codeOf(() => checkEntitlement(plan, rules, owner))).toBe(code);
});

// The owners record on a tenant's namespace: only kubefn's own writing is read; anything else is
// no record (the caller falls back to the binding as it is in the cluster, never to a message).
test.each([
  {
    what: 'a record',
    raw: ownersRecord(['a@example.com', 'b@example.com']),
    owners: ['a@example.com', 'b@example.com'],
  },
  { what: 'an empty record', raw: ownersRecord([]), owners: [] },
  { what: 'no annotation', raw: undefined, owners: undefined },
  { what: 'not JSON', raw: 'a@example.com', owners: undefined },
  { what: 'not a list', raw: '{"a":"b"}', owners: undefined },
  { what: 'a list with a non-email', raw: '["a@example.com","system:masters"]', owners: undefined },
])('$what: $owners', ({ raw, owners }) => {
  const ns = { metadata: { annotations: raw === undefined ? {} : { 'kubefn.dev/owners': raw } } };
  expect(recordedOwners(ns)).toEqual(owners);
});
