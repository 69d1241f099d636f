// What a caller may send. Customer ids become namespace names, so they follow DNS-label rules.
import * as v from 'valibot';

export const CustomerIdSchema = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(40),
  v.regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'lowercase letters, digits and inner dashes'),
);

/** Emails of the customer's owners, bound to kubefn-tenant-owner in their namespace. */
export const OwnersSchema = v.optional(
  v.pipe(v.array(v.pipe(v.string(), v.maxLength(254), v.email())), v.maxLength(20)),
  [],
);

/** The sign-up request; plans are the names in templates/plans.json. */
export function signupSchema(plans: string[]) {
  return v.strictObject({
    customerId: CustomerIdSchema,
    plan: v.picklist(plans as [string, ...string[]]),
    owners: OwnersSchema,
    dryRun: v.optional(v.boolean(), false),
  });
}

export type SignupInput = v.InferOutput<ReturnType<typeof signupSchema>>;
