import { expect, test } from 'vitest';
import type { Customer } from '../../shared/auth/identity-platform.ts';
import { matches, operatorRefusal } from './handler.ts';

const person = (over: Partial<Customer>): Customer => ({
  kind: 'customer',
  id: 'u1',
  email: 'Ops@Example.com',
  emailVerified: true,
  entitlement: undefined,
  authTime: 0,
  signInProvider: 'google.com',
  ...over,
});

test.each([
  ['an operator (the email compared in lower case)', person({}), undefined],
  ['a password account', person({ signInProvider: 'password' }), 'not-google'],
  ['no provider claim', person({ signInProvider: undefined }), 'not-google'],
  ['an email not verified', person({ emailVerified: false }), 'email-not-verified'],
  ['no email', person({ email: undefined }), 'email-not-verified'],
  ['someone else', person({ email: 'eve@example.com' }), 'not-an-operator'],
])('%s: %s', (_, who, refusal) => {
  expect(operatorRefusal(who, ['ops@example.com'])).toBe(refusal);
});

const row = {
  customerId: 'acme',
  plan: 'pro',
  phase: 'Ready',
  cell: 'eu1',
  region: 'europe-west1',
  ownerUid: 'U1',
  owners: ['ada@example.com'],
};
test.each([
  ['', true],
  ['acme', true],
  ['ACME eu1', true],
  ['ada@example', true],
  ['u1', true],
  ['acme us1', false],
  ['provisioning', false],
])('search %j: %s', (search, expected) => {
  expect(matches(row, search)).toBe(expected);
});
