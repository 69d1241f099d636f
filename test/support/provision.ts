// The provisioning function running under the real Functions Framework on the local stack,
// acting as kubefn-system/kubefn-provision, and tokens for callers.
import { buildFunctions } from '../../infra/build-functions.ts';
import { type RunningFunction, startFunction } from '../../infra/local/functions.ts';
import {
  applyIdentities,
  kubeconfigFor,
  mintToken,
  signupAccount,
} from '../../infra/local/identities.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { stack } from './cluster.ts';

export const provisionAudience = 'https://provision.kubefn.local';

export type ProvisionFixture = { fn: RunningFunction; callerToken: string; strangerToken: string };

export async function startProvision(
  admin: Cluster,
  env: Record<string, string> = {},
): Promise<ProvisionFixture> {
  await applyIdentities(admin);
  const [outputs, kubeconfig] = await Promise.all([
    buildFunctions(['provision']),
    kubeconfigFor(admin, stack, 'kubefn-provision'),
  ]);
  const fn = await startFunction({
    stateDir: stack.dir,
    target: 'provision',
    source: outputs.provision ?? '',
    env: {
      KUBECONFIG: kubeconfig,
      KUBEFN_AUTH_AUDIENCE: provisionAudience,
      KUBEFN_AUTH_GOOGLE: 'false',
      KUBEFN_AUTH_KUBERNETES: 'true',
      KUBEFN_ALLOW_PROVISION: `system:serviceaccount:kubefn-system:${signupAccount}`,
      ...env,
    },
  });
  return {
    fn,
    callerToken: await mintToken(admin, signupAccount, {
      audiences: [provisionAudience],
      expirationSeconds: 3600,
    }),
    strangerToken: await mintToken(admin, 'kubefn-label', {
      audiences: [provisionAudience],
      expirationSeconds: 3600,
    }),
  };
}
