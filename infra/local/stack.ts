// The local stack: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok's
// simulated nodes (kwok.ts) built by build.sh, plus the Google Pub/Sub emulator and the Firebase
// Authentication emulator (customers' sign-in, standing in for Identity Platform), all on
// 127.0.0.1 and free ports, with their state in a temporary folder. Serves `npm start`
// (start.ts) and the test harness (test/support/global-setup.ts). Each process has a module of
// its own; startStack is the order they start in.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiserverArgs, startApiserver, waitForApiserver } from './apiserver.ts';
import { authProject, startAuthEmulator } from './auth-emulator.ts';
import { startControllerManager, waitForControllerManager } from './controller-manager.ts';
import { startEtcd, waitForEtcd } from './etcd.ts';
import { freePorts } from './free-ports.ts';
import { adminAgent, writeKubeconfig } from './kubeconfig.ts';
import { createNodes, nodeName, startKwok, waitForNodes } from './kwok.ts';
import { createPki } from './pki.ts';
import {
  type Managed,
  markStopping,
  residentMemory,
  startReaper,
  stopListed,
} from './processes.ts';
import { pubsubProject, startPubsubEmulator } from './pubsub-emulator.ts';
import { startScheduler, waitForScheduler } from './scheduler.ts';
import { type StackInfo, writeStackInfo } from './stack-info.ts';

export { authProject } from './auth-emulator.ts';
export { pubsubProject } from './pubsub-emulator.ts';
export type { StackInfo } from './stack-info.ts';

export type Stack = StackInfo & {
  processes: Managed[];
  /** Stops kube-apiserver and starts it again on the same port; resolves when it is ready. */
  restartApiserver(): Promise<void>;
  /** Resident memory of every process of the stack, in bytes, by name. */
  memory(): Promise<Record<string, number>>;
  stop(): Promise<void>;
};

export type StartOptions = {
  /** Progress lines ("etcd ready in 1.2 s"); defaults to stderr. */
  log?: (line: string) => void;
  /** Keep the state folder (logs, etcd data) after stopping, for debugging. */
  keepState?: boolean;
  /**
   * A TokenReview webhook for bearer tokens kube-apiserver does not know itself, as GKE asks
   * Google about access tokens (the tests point it at test/support/fakes/google-identity.ts).
   */
  tokenWebhookUrl?: string;
  /** How many simulated nodes (kwok) to create; KUBEFN_NODES, or 3. */
  nodes?: number;
  /**
   * How long a pod takes, once bound to a simulated node, to be Running and Ready: the image
   * pull and start a kubelet would do. KUBEFN_POD_START_MS, or 0.
   */
  podStartMs?: number;
};

function setting(name: string, given: number | undefined, fallback: number): number {
  const raw = given ?? process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a whole number >= 0, not ${JSON.stringify(raw)}`);
  return value;
}

export async function startStack(options: StartOptions = {}): Promise<Stack> {
  const log = options.log ?? ((line: string) => process.stderr.write(`stack: ${line}\n`));
  const nodeCount = setting('KUBEFN_NODES', options.nodes, 3);
  const podStartMs = setting('KUBEFN_POD_START_MS', options.podStartMs, 0);
  const dir = await mkdtemp(join(tmpdir(), 'kubefn-stack-'));
  const keepState = options.keepState ?? process.env.KUBEFN_KEEP_STATE === '1';
  startReaper(dir, keepState);
  // Listed as soon as started, so that a failure further on stops them.
  const processes: Managed[] = [];
  const started = (proc: Managed) => {
    processes.push(proc);
    return proc;
  };
  const stop = async () => {
    markStopping(dir);
    // Clients first, etcd last: a kube-apiserver whose etcd is gone retries instead of exiting.
    for (const proc of processes.toReversed()) await proc.stop();
    await stopListed(dir); // whatever else registered with this stack (functions, helpers)
    await rm(join(dir, 'pids'), { force: true });
    if (!keepState) await rm(dir, { recursive: true, force: true });
  };
  const begun = performance.now();
  const took = () => `${((performance.now() - begun) / 1000).toFixed(1)} s`;
  try {
    const ports = await freePorts([
      'etcdPort',
      'etcdPeerPort',
      'apiPort',
      'pubsubPort',
      'authPort',
      'hubPort',
      'loggingPort',
    ] as const);
    // The emulators are the slowest to be ready: they start first and are awaited last.
    const pubsub = startPubsubEmulator(dir, ports.pubsubPort);
    started(pubsub.process);
    const auth = startAuthEmulator(dir, ports);
    started(auth.process);

    const pki = await createPki(dir);
    const etcdUrl = `http://127.0.0.1:${ports.etcdPort}`;
    await waitForEtcd(started(startEtcd(dir, etcdUrl, ports.etcdPeerPort)), etcdUrl);
    log(`etcd ready at ${etcdUrl} (${took()})`);

    const server = `https://127.0.0.1:${ports.apiPort}`;
    const admin = await adminAgent(pki);
    const { tokenWebhookUrl } = options;
    const args = await apiserverArgs(dir, { pki, etcdUrl, port: ports.apiPort, tokenWebhookUrl });
    await waitForApiserver(started(startApiserver(dir, args)), server, admin);
    log(`kube-apiserver ready at ${server} (${took()})`);
    // Fault tests restart kube-apiserver on the same port, with the same etcd and keys.
    const restartApiserver = async () => {
      const index = processes.findIndex((p) => p.name === 'kube-apiserver');
      const [old] = processes.splice(index, 1);
      await old?.stop();
      await waitForApiserver(started(startApiserver(dir, args)), server, admin);
    };

    const kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, server, pki.caCert, {
      cert: pki.adminCert,
      key: pki.adminKey,
    });
    const scheduler = started(await startScheduler(dir, server, pki));
    const kwok = started(await startKwok(dir, kubeconfig, podStartMs));
    const nodes = Array.from({ length: nodeCount }, (_, i) => nodeName(i));
    await createNodes(server, admin, nodes);
    const controllerManager = started(startControllerManager(dir, pki, kubeconfig));
    await waitForControllerManager(controllerManager, server, admin);
    log(`kube-controller-manager ready (${took()})`);
    await waitForNodes(kwok, server, admin, nodeCount);
    log(`kwok ready: ${nodeCount} simulated nodes Ready (${took()})`);
    await waitForScheduler(scheduler, server, admin);
    log(`kube-scheduler ready (${took()})`);

    await pubsub.ready;
    log(`Pub/Sub emulator ready at 127.0.0.1:${ports.pubsubPort} (${took()})`);
    await auth.ready;
    log(`Auth emulator ready at 127.0.0.1:${ports.authPort}, project ${authProject} (${took()})`);

    const info: StackInfo = {
      dir,
      kubeconfig,
      server,
      caFile: pki.caCert,
      adminCertFile: pki.adminCert,
      adminKeyFile: pki.adminKey,
      serviceAccountIssuer: server,
      etcdUrl,
      pubsubEmulatorHost: `127.0.0.1:${ports.pubsubPort}`,
      pubsubProject,
      authEmulatorHost: `127.0.0.1:${ports.authPort}`,
      authProject,
      nodes,
      podStartMs,
    };
    await writeStackInfo(info);
    return {
      ...info,
      processes,
      memory: () => residentMemory(processes),
      restartApiserver,
      stop: async () => {
        await admin.close();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
