// Puts kubefn's functions on the local stack, each under the real Functions Framework and acting
// as its own ServiceAccount: what `npm start` runs, and what the tests run against.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cluster } from '../../shared/kube/index.ts';
import { buildFunctions } from '../build-functions.ts';
import { installGkeCrds } from './crds.ts';
import { type RunningFunction, startFunction } from './functions.ts';
import {
  applyIdentities,
  kubeconfigFor,
  mintToken,
  pushAccount,
  schedulerAccount,
  signupAccount,
} from './identities.ts';

export const provisionAudience = 'https://provision.kubefn.local';

type StackPaths = { dir: string; server: string; caFile: string };

export async function startProvisionFunction(
  admin: Cluster,
  stack: StackPaths,
  options: { port?: number; env?: Record<string, string> } = {},
): Promise<RunningFunction> {
  await applyIdentities(admin);
  const [outputs, kubeconfig] = await Promise.all([
    buildFunctions(['provision']),
    kubeconfigFor(admin, stack, 'kubefn-provision'),
  ]);
  return startFunction({
    stateDir: stack.dir,
    target: 'provision',
    source: outputs.provision ?? '',
    ...(options.port ? { port: options.port } : {}),
    env: {
      KUBECONFIG: kubeconfig,
      KUBEFN_AUTH_AUDIENCE: provisionAudience,
      // Locally the signup backend proves itself with a Kubernetes token; on Google Cloud, with a
      // Google ID token (KUBEFN_AUTH_GOOGLE).
      KUBEFN_AUTH_GOOGLE: 'false',
      KUBEFN_AUTH_KUBERNETES: 'true',
      KUBEFN_ALLOW_PROVISION: `system:serviceaccount:kubefn-system:${signupAccount}`,
      KUBEFN_ALLOW_RESYNC: `system:serviceaccount:kubefn-system:${schedulerAccount}`,
      ...options.env,
    },
  });
}

/** A token the signup backend presents to provision, written to a file in the state folder. */
export async function signupTokenFile(admin: Cluster, stack: StackPaths): Promise<string> {
  const file = join(stack.dir, `${signupAccount}-caller.token`);
  const token = await mintToken(admin, signupAccount, { audiences: [provisionAudience] });
  await writeFile(file, token, { mode: 0o600 });
  return file;
}

export async function startSignupFunction(
  stack: StackPaths,
  provisionUrl: string,
  tokenFile: string,
  options: { port?: number } = {},
): Promise<RunningFunction> {
  const outputs = await buildFunctions(['signup']);
  return startFunction({
    stateDir: stack.dir,
    target: 'signup',
    source: outputs.signup ?? '',
    ...(options.port ? { port: options.port } : {}),
    env: {
      KUBEFN_PROVISION_URL: provisionUrl,
      KUBEFN_PROVISION_AUDIENCE: provisionAudience,
      KUBEFN_CALLER_TOKEN_FILE: tokenFile,
    },
  });
}

export const ingressTimeoutAudience = 'https://ingress-timeout.kubefn.local';

/** The ingress-timeout function; tests pass the mode and, for compute mode, the fakes' URLs. */
export async function startIngressTimeoutFunction(
  admin: Cluster,
  stack: StackPaths,
  options: { port?: number; env?: Record<string, string> } = {},
): Promise<RunningFunction> {
  await applyIdentities(admin);
  await installGkeCrds(admin);
  const [outputs, kubeconfig] = await Promise.all([
    buildFunctions(['ingress-timeout']),
    kubeconfigFor(admin, stack, 'kubefn-ingress-timeout'),
  ]);
  const caller = (account: string) => `system:serviceaccount:kubefn-system:${account}`;
  return startFunction({
    stateDir: stack.dir,
    target: 'ingress-timeout',
    source: outputs['ingress-timeout'] ?? '',
    ...(options.port ? { port: options.port } : {}),
    env: {
      KUBECONFIG: kubeconfig,
      KUBEFN_AUTH_AUDIENCE: ingressTimeoutAudience,
      KUBEFN_AUTH_GOOGLE: 'false',
      KUBEFN_AUTH_KUBERNETES: 'true',
      KUBEFN_ALLOW_INGRESS_TIMEOUT: caller(schedulerAccount),
      KUBEFN_ALLOW_PUSH: caller(pushAccount),
      KUBEFN_ALLOW_RESYNC: caller(schedulerAccount),
      ...options.env,
    },
  });
}

export const labelAudience = 'https://label.kubefn.local';

export async function startLabelFunction(
  admin: Cluster,
  stack: StackPaths,
  options: { port?: number; env?: Record<string, string> } = {},
): Promise<RunningFunction> {
  await applyIdentities(admin);
  const [outputs, kubeconfig] = await Promise.all([
    buildFunctions(['label']),
    kubeconfigFor(admin, stack, 'kubefn-label'),
  ]);
  const caller = (account: string) => `system:serviceaccount:kubefn-system:${account}`;
  return startFunction({
    stateDir: stack.dir,
    target: 'label',
    source: outputs.label ?? '',
    ...(options.port ? { port: options.port } : {}),
    env: {
      KUBECONFIG: kubeconfig,
      KUBEFN_AUTH_AUDIENCE: labelAudience,
      KUBEFN_AUTH_GOOGLE: 'false',
      KUBEFN_AUTH_KUBERNETES: 'true',
      KUBEFN_ALLOW_LABEL: caller(schedulerAccount),
      KUBEFN_ALLOW_PUSH: caller(pushAccount),
      ...options.env,
    },
  });
}
