// The provisioning function on the local stack (infra/local/deploy.ts), and tokens for callers.

import { provisionAudience, startProvisionFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { mintToken, signupAccount } from '../../infra/local/identities.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { stack } from './cluster.ts';
import { signUpTenant } from './http.ts';

export { provisionAudience };
export type ProvisionFixture = { fn: RunningFunction; callerToken: string; strangerToken: string };

export async function startProvision(
  admin: Cluster,
  env: Record<string, string> = {},
  /** Its own log file's name, for a test that reads its lines (default: the stack's shared one). */
  name?: string,
): Promise<ProvisionFixture> {
  const fn = await startProvisionFunction(admin, stack, { env, ...(name ? { name } : {}) });
  const mint = (account: string) =>
    mintToken(admin, account, { audiences: [provisionAudience], expirationSeconds: 3600 });
  return { fn, callerToken: await mint(signupAccount), strangerToken: await mint('kubefn-label') };
}

/** A new tenant through the real function; returns its namespace. */
export async function createTenant(fx: ProvisionFixture, customerId: string): Promise<string> {
  await signUpTenant(fx.fn.url, fx.callerToken, customerId);
  return `tenant-${customerId}`;
}

export type DeletionState = 'deleted' | 'held' | 'kept';

/**
 * Each customer's tenant, read by name (no list): deleted (gone, or terminating: a namespace
 * finishes going on its own time), held by the deletion budget, or neither.
 */
export async function deletionStates(
  admin: Cluster,
  prefix: string,
  customers: readonly string[],
): Promise<Record<string, DeletionState>> {
  const state: Record<string, DeletionState> = {};
  for (const customerId of customers) {
    const ns = await admin
      .resource({ apiVersion: 'v1', kind: 'Namespace' })
      .find(prefix + customerId);
    state[customerId] =
      !ns || ns.metadata?.deletionTimestamp
        ? 'deleted'
        : ns.metadata?.labels?.['kubefn.dev/deletion-held'] === 'true'
          ? 'held'
          : 'kept';
  }
  return state;
}
