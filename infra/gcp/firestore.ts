// Placement's store: a Firestore database in native mode, where placement records each tenant's
// cell exactly once (a transaction per sign-up) and counts each cell's tenants. Only placement's
// account may use it (accounts.ts: roles/datastore.user).
import * as gcp from '@pulumi/gcp';
import type { Context } from './context.ts';

export function defineFirestore(ctx: Context) {
  const { project, spec } = ctx;
  return new gcp.firestore.Database(
    'placement-store',
    {
      project,
      name: spec.placement.database,
      // A region or a multi-region (eur3, nam5); it cannot change once the database exists.
      locationId: spec.placement.location ?? spec.region,
      type: 'FIRESTORE_NATIVE',
      // Google refuses to delete a protected database; the provider's default deletion policy
      // (ABANDON) leaves it in place on `pulumi destroy` either way: the placements outlive the
      // stack.
      deleteProtectionState: spec.deletionProtection
        ? 'DELETE_PROTECTION_ENABLED'
        : 'DELETE_PROTECTION_DISABLED',
    },
    ctx.afterApis,
  );
}
