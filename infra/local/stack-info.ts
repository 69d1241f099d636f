// What a client needs to reach the local stack, as written to its state folder: stack.json for
// programs, stack.env for shells (`source <dir>/stack.env`).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One cell: a control plane of its own (etcd, kube-apiserver, controllers, kwok's nodes). */
export type CellInfo = {
  /** The cell's name (shared/cells.ts), its KUBEFN_CELL. */
  name: string;
  /** The cell's own state folder, inside the stack's: its logs, etcd data, PKI, kubeconfig. */
  dir: string;
  kubeconfig: string;
  server: string;
  caFile: string;
  adminCertFile: string;
  adminKeyFile: string;
  serviceAccountIssuer: string;
  etcdUrl: string;
  /** The simulated nodes (kwok), Ready; kwok.ts's nodeCapacity each. */
  nodes: string[];
};

/**
 * The cell fields at the top level are the first cell's: a single-cell stack (the default) reads
 * as it always has. The emulators are global, one for all cells.
 */
export type StackInfo = Omit<CellInfo, 'name' | 'dir'> & {
  /** The stack's state folder: the emulators' logs, stack.json, stack.env, cells/<name>/. */
  dir: string;
  /** Every cell, in the order given; the first is also the top level's. */
  cells: Record<string, CellInfo>;
  pubsubEmulatorHost: string;
  pubsubProject: string;
  /** host:port of the Firebase Authentication emulator. */
  authEmulatorHost: string;
  authProject: string;
  /** host:port of the Cloud Firestore emulator (FIRESTORE_EMULATOR_HOST). */
  firestoreEmulatorHost: string;
  firestoreProject: string;
  /** How long a pod bound to a simulated node takes to be Running and Ready. */
  podStartMs: number;
  /**
   * host:port where every cell's kube-apiserver sends the spans of traced requests (OTLP gRPC);
   * nothing listens unless a Jaeger is started there (jaeger.ts, `otlpGrpcPort`).
   */
  apiserverTracingEndpoint: string;
};

/** Writes <dir>/stack.json and <dir>/stack.env. */
export async function writeStackInfo(info: StackInfo): Promise<void> {
  await writeFile(join(info.dir, 'stack.json'), JSON.stringify(info, null, 2));
  await writeFile(join(info.dir, 'stack.env'), envFile(stackEnv(info)));
}

/** The environment variables a client of the stack needs (KUBECONFIG: the first cell's). */
function stackEnv(info: StackInfo): Record<string, string> {
  return {
    KUBECONFIG: info.kubeconfig,
    KUBEFN_STACK_DIR: info.dir,
    KUBEFN_ETCD_URL: info.etcdUrl,
    PUBSUB_EMULATOR_HOST: info.pubsubEmulatorHost,
    PUBSUB_PROJECT_ID: info.pubsubProject,
    // Firebase's own name for it: its tools and Admin SDKs then talk to the emulator.
    FIREBASE_AUTH_EMULATOR_HOST: info.authEmulatorHost,
    // Google's client libraries' name for it.
    FIRESTORE_EMULATOR_HOST: info.firestoreEmulatorHost,
    // Stops Google client libraries from probing a metadata server that is not there.
    METADATA_SERVER_DETECTION: 'none',
    // Each cell's kubeconfig, by name: KUBECONFIG_EU1=...
    ...Object.fromEntries(
      Object.values(info.cells).map((cell) => [
        `KUBECONFIG_${cell.name.toUpperCase().replaceAll('-', '_')}`,
        cell.kubeconfig,
      ]),
    ),
  };
}

function envFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([key, value]) => `export ${key}='${value}'\n`)
    .join('');
}
