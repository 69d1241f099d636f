// What a client needs to reach the local stack, as written to its state folder: stack.json for
// programs, stack.env for shells (`source <dir>/stack.env`).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type StackInfo = {
  dir: string;
  kubeconfig: string;
  server: string;
  caFile: string;
  adminCertFile: string;
  adminKeyFile: string;
  serviceAccountIssuer: string;
  etcdUrl: string;
  pubsubEmulatorHost: string;
  pubsubProject: string;
  /** host:port of the Firebase Authentication emulator. */
  authEmulatorHost: string;
  authProject: string;
  /** The simulated nodes (kwok), Ready; kwok.ts's nodeCapacity each. */
  nodes: string[];
  /** How long a pod bound to a simulated node takes to be Running and Ready. */
  podStartMs: number;
};

/** Writes <dir>/stack.json and <dir>/stack.env. */
export async function writeStackInfo(info: StackInfo): Promise<void> {
  await writeFile(join(info.dir, 'stack.json'), JSON.stringify(info, null, 2));
  await writeFile(join(info.dir, 'stack.env'), envFile(stackEnv(info)));
}

/** The environment variables a client of the stack needs. */
function stackEnv(info: StackInfo): Record<string, string> {
  return {
    KUBECONFIG: info.kubeconfig,
    KUBEFN_STACK_DIR: info.dir,
    KUBEFN_ETCD_URL: info.etcdUrl,
    PUBSUB_EMULATOR_HOST: info.pubsubEmulatorHost,
    PUBSUB_PROJECT_ID: info.pubsubProject,
    // Firebase's own name for it: its tools and Admin SDKs then talk to the emulator.
    FIREBASE_AUTH_EMULATOR_HOST: info.authEmulatorHost,
    // Stops Google client libraries from probing a metadata server that is not there.
    METADATA_SERVER_DETECTION: 'none',
  };
}

function envFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([key, value]) => `export ${key}='${value}'\n`)
    .join('');
}
