// Puts kubefn's functions on the local stack, each under the real Functions Framework and acting
// as its own ServiceAccount: what `npm start` runs, and what the tests run against.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cell } from '../../shared/cells.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { buildFunctions } from '../build-functions.ts';
import { installGkeCrds } from './crds.ts';
import { type RunningFunction, startFunction } from './functions.ts';
import {
  applyIdentities,
  kubeconfigFor,
  localSubjectsSetting,
  mintToken,
  operatorAccount,
  placementAccount,
  principal,
  pushAccount,
  schedulerAccount,
  signupAccount,
} from './identities.ts';

export const provisionAudience = 'https://provision.kubefn.local';
export const placementAudience = 'https://placement.kubefn.local';

type StackPaths = { dir: string; server: string; caFile: string };

type DeployOptions = {
  port?: number;
  /**
   * The cell this function acts on, when the stack runs several (stack.ts): its KUBEFN_CELL, its
   * files in the cell's folder, its log named after it. `stack` is then the cell's server.
   */
  cell?: { name: string; dir: string } | undefined;
  env?: Record<string, string | undefined>;
  /** Where a restart after a crash is said (default: stdout). */
  log?: (line: string) => void;
  /** Its log file's name (default function-<target>, shared with the stack's others). */
  name?: string;
};

/**
 * One function on the local stack: bundled, run under the Functions Framework as the
 * ServiceAccount kubefn-<target>, trusting the cluster's tokens for the given audience. Locally
 * callers prove themselves with Kubernetes tokens; on Google Cloud, with Google ID tokens
 * (KUBEFN_AUTH_GOOGLE).
 */
async function startAs(
  admin: Cluster,
  stack: StackPaths,
  target: string,
  audience: string,
  env: Record<string, string>,
  options: DeployOptions,
): Promise<RunningFunction> {
  await applyIdentities(admin);
  const { cell } = options;
  const [outputs, kubeconfig] = await Promise.all([
    buildFunctions([target]),
    kubeconfigFor(admin, cell ? { ...stack, dir: cell.dir } : stack, `kubefn-${target}`),
  ]);
  return startFunction({
    stateDir: stack.dir,
    target,
    ...(options.name
      ? { name: options.name }
      : cell
        ? { name: `function-${target}-${cell.name}` }
        : {}),
    source: outputs[target]?.entry ?? '',
    ...(options.port ? { port: options.port } : {}),
    ...(options.log ? { log: options.log } : {}),
    env: {
      KUBECONFIG: kubeconfig,
      KUBEFN_AUTH_AUDIENCE: audience,
      KUBEFN_AUTH_GOOGLE: 'false',
      KUBEFN_AUTH_KUBERNETES: 'true',
      ...(cell ? { KUBEFN_CELL: cell.name } : {}),
      ...env,
      ...options.env,
    },
  });
}

export function startProvisionFunction(
  admin: Cluster,
  stack: StackPaths,
  options: DeployOptions = {},
): Promise<RunningFunction> {
  const env = {
    // Placement, in front of the cells; and the signup backend, which the single-cell tests
    // point at a cell's provision directly (it serves the same tenant routes).
    KUBEFN_ALLOW_PROVISION: `${principal(signupAccount)},${principal(placementAccount)}`,
    KUBEFN_ALLOW_RESYNC: principal(schedulerAccount),
    // Placement forwards tenant requests from Pub/Sub to the tenant's cell.
    KUBEFN_ALLOW_PUSH: `${principal(pushAccount)},${principal(placementAccount)}`,
    // Placement moves tenants between cells.
    KUBEFN_ALLOW_MOVES: principal(placementAccount),
    KUBEFN_RBAC_SUBJECTS: localSubjectsSetting,
  };
  return startAs(admin, stack, 'provision', provisionAudience, env, options);
}

/** A token the signup backend presents to provision, written to a file in the state folder. */
export async function signupTokenFile(admin: Cluster, stack: StackPaths): Promise<string> {
  const file = join(stack.dir, `${signupAccount}-caller.token`);
  const token = await mintToken(admin, signupAccount, { audiences: [provisionAudience] });
  await writeFile(file, token, { mode: 0o600 });
  return file;
}

/**
 * The signup backend. Customers sign in on the stack's Auth emulator (its demo- project), unless
 * `env` says otherwise (a test of the production settings: a project, its keys, no emulator).
 */
export async function startSignupFunction(
  stack: StackPaths & { authEmulatorHost: string; authProject: string },
  provisionUrl: string,
  tokenFile: string,
  options: { port?: number; env?: Record<string, string | undefined> } = {},
): Promise<RunningFunction> {
  const outputs = await buildFunctions(['signup']);
  return startFunction({
    stateDir: stack.dir,
    target: 'signup',
    source: outputs.signup?.entry ?? '',
    ...(options.port ? { port: options.port } : {}),
    env: {
      KUBEFN_PROVISION_URL: provisionUrl,
      KUBEFN_PROVISION_AUDIENCE: provisionAudience,
      KUBEFN_CALLER_TOKEN_FILE: tokenFile,
      KUBEFN_CUSTOMER_PROJECT: stack.authProject,
      KUBEFN_CUSTOMER_AUTH_EMULATOR: stack.authEmulatorHost,
      ...options.env,
    },
  });
}

export const ingressTimeoutAudience = 'https://ingress-timeout.kubefn.local';

/** The ingress-timeout function; tests pass the mode and, for compute mode, the fakes' URLs. */
export async function startIngressTimeoutFunction(
  admin: Cluster,
  stack: StackPaths,
  options: DeployOptions = {},
): Promise<RunningFunction> {
  await installGkeCrds(admin);
  const env = {
    KUBEFN_ALLOW_INGRESS_TIMEOUT: principal(schedulerAccount),
    KUBEFN_ALLOW_PUSH: principal(pushAccount),
    KUBEFN_ALLOW_RESYNC: principal(schedulerAccount),
  };
  return startAs(admin, stack, 'ingress-timeout', ingressTimeoutAudience, env, options);
}

export const labelAudience = 'https://label.kubefn.local';

export function startLabelFunction(
  admin: Cluster,
  stack: StackPaths,
  options: DeployOptions = {},
): Promise<RunningFunction> {
  const env = {
    KUBEFN_ALLOW_LABEL: principal(schedulerAccount),
    KUBEFN_ALLOW_PUSH: principal(pushAccount),
  };
  return startAs(admin, stack, 'label', labelAudience, env, options);
}

/**
 * Placement, global: its own identity in the first cell's cluster (whose tokens it trusts, the
 * signup backend's and the push account's), a token per cell for that cell's provision in
 * `tokenDir`, and its records in the stack's Firestore emulator.
 */
export function startPlacementFunction(
  admin: Cluster,
  stack: StackPaths & { firestoreEmulatorHost: string; firestoreProject: string },
  settings: { cells: Cell[]; tokenDir: string },
  options: DeployOptions = {},
): Promise<RunningFunction> {
  const env = {
    KUBEFN_CELLS: JSON.stringify(settings.cells),
    KUBEFN_CALLER_TOKEN_DIR: settings.tokenDir,
    KUBEFN_ALLOW_TENANTS: principal(signupAccount),
    KUBEFN_ALLOW_PUSH: principal(pushAccount),
    KUBEFN_ALLOW_OPERATOR: principal(operatorAccount),
    KUBEFN_ALLOW_RESYNC: principal(schedulerAccount),
    GOOGLE_CLOUD_PROJECT: stack.firestoreProject,
    FIRESTORE_EMULATOR_HOST: stack.firestoreEmulatorHost,
  };
  return startAs(admin, stack, 'placement', placementAudience, env, options);
}
