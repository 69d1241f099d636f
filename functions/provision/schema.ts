// What a caller may send. Customer ids become namespace names, so they follow DNS-label rules.
import * as v from 'valibot';
import { DomainError } from '../../shared/errors.ts';
import { isDnsLabel } from '../../shared/kube/names.ts';

export const CustomerIdSchema = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(40),
  v.check((id) => isDnsLabel(id), 'lowercase letters, digits and inner dashes'),
);

/** The customer id of a route's path, or a 400 naming the field. */
export function customerIdParam(raw: string): string {
  if (!v.is(CustomerIdSchema, raw)) {
    throw new DomainError('invalid-input', 'the customer id is not valid', {
      fields: [
        { field: 'customerId', expected: 'lowercase letters, digits and inner dashes, 1-40' },
      ],
    });
  }
  return raw;
}

/** Emails of the customer's owners, bound to kubefn-tenant-owner in their namespace. */
export const OwnersSchema = v.optional(
  v.pipe(v.array(v.pipe(v.string(), v.maxLength(254), v.email())), v.maxLength(20)),
  [],
);

/** An Identity Platform user id: 1-128 characters (functions/provision/owner.ts). */
export const OwnerUidSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

/**
 * The customer a tenant is for, as the signup backend verified them from their ID token: the
 * user id, their verified email, and the plan they are entitled to (a custom claim). Only the
 * signup backend may call provision, so these are its word, not the customer's.
 */
export const OwnerSchema = v.strictObject({
  uid: OwnerUidSchema,
  email: v.optional(v.pipe(v.string(), v.maxLength(254), v.email())),
  entitlement: v.optional(v.pipe(v.string(), v.maxLength(40))),
});

/** The sign-up request; plans are the names in templates/plans.json. */
export function signupSchema(plans: string[]) {
  return v.strictObject({
    customerId: CustomerIdSchema,
    plan: v.picklist(plans as [string, ...string[]]),
    owners: OwnersSchema,
    /** Present for a customer's sign-up: ownership, entitlement and limits are enforced. */
    owner: v.optional(OwnerSchema),
    dryRun: v.optional(v.boolean(), false),
  });
}

export type SignupInput = v.InferOutput<ReturnType<typeof signupSchema>>;
