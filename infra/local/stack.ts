// The local stack: one or more cells, each a control plane of its own (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok's simulated nodes, built by build.sh), plus
// the global emulators every cell shares: Google's Pub/Sub and Firestore emulators and the
// Firebase Authentication emulator (customers' sign-in, standing in for Identity Platform). All
// on 127.0.0.1 and free ports, with their state in a temporary folder (a cell's in
// cells/<name>/). Serves `npm start` (start.ts) and the test harness (test/support/). Each process
// has a module of its own; startStack is the order they start in.
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { CellNameSchema, defaultCellName } from '../../shared/cells.ts';
import { apiserverArgs, startApiserver, waitForApiserver } from './apiserver.ts';
import { authProject, startAuthEmulator } from './auth-emulator.ts';
import { startControllerManager, waitForControllerManager } from './controller-manager.ts';
import { startEtcd, waitForEtcd } from './etcd.ts';
import { firestoreProject, startFirestoreEmulator } from './firestore-emulator.ts';
import { freePorts } from './free-ports.ts';
import { groupMemory } from './group-memory.ts';
import { adminAgent, writeKubeconfig } from './kubeconfig.ts';
import { createNodes, nodeName, startKwok, waitForNodes } from './kwok.ts';
import { createPki } from './pki.ts';
import { type Managed, markStopping, startReaper, stopListed } from './processes.ts';
import { pubsubProject, startPubsubEmulator } from './pubsub-emulator.ts';
import { startScheduler, waitForScheduler } from './scheduler.ts';
import { type CellInfo, type StackInfo, writeStackInfo } from './stack-info.ts';

export { authProject } from './auth-emulator.ts';
export { firestoreProject } from './firestore-emulator.ts';
export { pubsubProject } from './pubsub-emulator.ts';
export type { CellInfo, StackInfo } from './stack-info.ts';

/** What a test or `npm start` can do to one cell while the stack runs. */
export type CellControl = {
  info: CellInfo;
  /** The cell's processes now running (etcd, kube-apiserver unless stopped, ...). */
  processes(): Managed[];
  /** Stops kube-apiserver and starts it again on the same port; resolves when it is ready. */
  restartApiserver(): Promise<void>;
  /** Stops kube-apiserver (the cell is down to its clients); etcd and the rest keep running. */
  stopApiserver(): Promise<void>;
  /** Starts a stopped kube-apiserver again, same port, etcd and keys; resolves when ready. */
  startApiserver(): Promise<void>;
};

export type Stack = StackInfo & {
  /** The same as plain data (what stack.json holds), to hand to another process. */
  info: StackInfo;
  /** Every process of the stack now running: the emulators and every cell's. */
  processes: Managed[];
  /** The first cell's restartApiserver. */
  restartApiserver(): Promise<void>;
  /** One cell's controls; throws for a cell the stack does not run. */
  cell(name: string): CellControl;
  /**
   * Resident memory in bytes of each process (its whole process group), by name: the
   * emulators by their own (`pubsub-emulator`), a cell's as `<cell>/<name>` (`eu1/etcd`).
   */
  memory(): Promise<Record<string, number>>;
  stop(): Promise<void>;
};

export type StartOptions = {
  /**
   * The cells to run, each a control plane of its own, started side by side; the first is also
   * StackInfo's top level. One cell named shared/cells.ts's defaultCellName when not given.
   */
  cells?: readonly string[];
  /** Progress lines ("etcd ready in 1.2 s"); defaults to stderr. */
  log?: (line: string) => void;
  /** Keep the state folder (logs, etcd data) after stopping, for debugging. */
  keepState?: boolean;
  /**
   * A TokenReview webhook for bearer tokens kube-apiserver does not know itself, as GKE asks
   * Google about access tokens (the tests point it at test/support/fakes/google-identity.ts).
   */
  tokenWebhookUrl?: string;
  /** How many simulated nodes (kwok) to create in each cell; KUBEFN_NODES, or 3. */
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

function cellNames(given: readonly string[] | undefined): string[] {
  const names = [...(given ?? [defaultCellName])];
  if (names.length === 0) throw new Error('startStack: at least one cell');
  for (const name of names)
    if (!v.is(CellNameSchema, name))
      throw new Error(`startStack: cell name ${JSON.stringify(name)} is not a cell name`);
  if (new Set(names).size !== names.length) throw new Error('startStack: each cell named once');
  return names;
}

/** The processes of the stack, each with the cell it belongs to (none: a global emulator). */
type Registry = {
  processes: Managed[];
  cellOf: Map<Managed, string>;
  /** Lists a process as soon as it started, so that a failure further on stops it. */
  started(proc: Managed, cell?: string): Managed;
  forget(proc: Managed): void;
};

function registry(): Registry {
  const processes: Managed[] = [];
  const cellOf = new Map<Managed, string>();
  return {
    processes,
    cellOf,
    started(proc, cell) {
      processes.push(proc);
      if (cell !== undefined) cellOf.set(proc, cell);
      return proc;
    },
    forget(proc) {
      const index = processes.indexOf(proc);
      if (index >= 0) processes.splice(index, 1);
      cellOf.delete(proc);
    },
  };
}

export async function startStack(options: StartOptions = {}): Promise<Stack> {
  const log = options.log ?? ((line: string) => process.stderr.write(`stack: ${line}\n`));
  const cells = cellNames(options.cells);
  const nodeCount = setting('KUBEFN_NODES', options.nodes, 3);
  const podStartMs = setting('KUBEFN_POD_START_MS', options.podStartMs, 0);
  const dir = await mkdtemp(join(tmpdir(), 'kubefn-stack-'));
  const keepState = options.keepState ?? process.env.KUBEFN_KEEP_STATE === '1';
  startReaper(dir, keepState);
  const running = registry();
  const closing: (() => Promise<void>)[] = [];
  const stop = async () => {
    markStopping(dir);
    // Cells side by side, each clients first and etcd last (a kube-apiserver whose etcd is gone
    // retries instead of exiting); then the emulators.
    const ofCell = (cell: string | undefined) =>
      running.processes.filter((p) => running.cellOf.get(p) === cell).toReversed();
    await Promise.all(
      cells.map(async (cell) => {
        for (const proc of ofCell(cell)) await proc.stop();
      }),
    );
    for (const proc of ofCell(undefined)) await proc.stop();
    await stopListed(dir); // whatever else registered with this stack (functions, helpers)
    for (const close of closing) await close();
    await rm(join(dir, 'pids'), { force: true });
    if (!keepState) await rm(dir, { recursive: true, force: true });
  };
  const begun = performance.now();
  const took = () => `${((performance.now() - begun) / 1000).toFixed(1)} s`;
  try {
    const cellPortNames = (cell: string) => [
      `${cell}:etcdPort`,
      `${cell}:etcdPeerPort`,
      `${cell}:apiPort`,
    ];
    const ports: Record<string, number> = await freePorts([
      'pubsubPort',
      'authPort',
      'hubPort',
      'loggingPort',
      'firestorePort',
      'firestoreWebsocketPort',
      'apiserverTracingPort',
      ...cells.flatMap(cellPortNames),
    ]);
    const port = (name: string) => {
      const found = ports[name];
      if (found === undefined) throw new Error(`no port chosen for ${name}`);
      return found;
    };
    // The emulators are the slowest to be ready: they start first and are awaited last.
    const pubsub = startPubsubEmulator(dir, port('pubsubPort'));
    running.started(pubsub.process);
    const auth = startAuthEmulator(dir, {
      authPort: port('authPort'),
      hubPort: port('hubPort'),
      loggingPort: port('loggingPort'),
    });
    running.started(auth.process);
    const firestore = startFirestoreEmulator(dir, {
      firestorePort: port('firestorePort'),
      firestoreWebsocketPort: port('firestoreWebsocketPort'),
    });
    running.started(firestore.process);
    // When each was ready, for the log: they are awaited after the cells.
    const readyAt = (emulator: { ready: Promise<void> }) =>
      emulator.ready.then(took, () => 'never');
    const [pubsubAt, authAt, firestoreAt] = [pubsub, auth, firestore].map(readyAt);

    // Every cell's control plane at once: much of each start is waiting (etcd, readiness polls,
    // controllers' first sync), which overlaps. allSettled: a failed cell stops the stack only
    // once no other is still starting processes into it.
    const outcomes = await Promise.allSettled(
      cells.map((name) =>
        startCell({
          name,
          stackDir: dir,
          ports: { etcd: port(`${name}:etcdPort`), etcdPeer: port(`${name}:etcdPeerPort`) },
          apiPort: port(`${name}:apiPort`),
          nodeCount,
          podStartMs,
          tokenWebhookUrl: options.tokenWebhookUrl,
          tracingEndpoint: `127.0.0.1:${port('apiserverTracingPort')}`,
          running,
          closing,
          log: (line) =>
            log(cells.length > 1 ? `${name}: ${line} (${took()})` : `${line} (${took()})`),
        }),
      ),
    );
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
    const controls = outcomes.map((o) => (o as PromiseFulfilledResult<CellControl>).value);

    await pubsub.ready;
    log(`Pub/Sub emulator ready at 127.0.0.1:${port('pubsubPort')} (${await pubsubAt})`);
    await auth.ready;
    log(
      `Auth emulator ready at 127.0.0.1:${port('authPort')}, project ${authProject} (${await authAt})`,
    );
    await firestore.ready;
    log(`Firestore emulator ready at 127.0.0.1:${port('firestorePort')} (${await firestoreAt})`);

    const [first] = controls as [CellControl];
    const { name: _name, dir: _dir, ...firstCell } = first.info;
    const info: StackInfo = {
      dir,
      ...firstCell,
      cells: Object.fromEntries(controls.map((c) => [c.info.name, c.info])),
      pubsubEmulatorHost: `127.0.0.1:${port('pubsubPort')}`,
      pubsubProject,
      authEmulatorHost: `127.0.0.1:${port('authPort')}`,
      authProject,
      firestoreEmulatorHost: `127.0.0.1:${port('firestorePort')}`,
      firestoreProject,
      podStartMs,
      apiserverTracingEndpoint: `127.0.0.1:${port('apiserverTracingPort')}`,
    };
    await writeStackInfo(info);
    const cell = (name: string) => {
      const found = controls.find((c) => c.info.name === name);
      if (!found) throw new Error(`the stack runs no cell ${name} (only ${cells.join(', ')})`);
      return found;
    };
    return {
      ...info,
      info,
      processes: running.processes,
      restartApiserver: () => first.restartApiserver(),
      cell,
      memory: async () => {
        const bytes = await groupMemory(running.processes.map((p) => p.pid));
        return Object.fromEntries(
          running.processes.map((p, i) => {
            const owner = running.cellOf.get(p);
            return [owner === undefined ? p.name : `${owner}/${p.name}`, bytes[i] ?? 0];
          }),
        );
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

type CellStart = {
  name: string;
  stackDir: string;
  ports: { etcd: number; etcdPeer: number };
  apiPort: number;
  nodeCount: number;
  podStartMs: number;
  tokenWebhookUrl: string | undefined;
  /** host:port where every cell's kube-apiserver sends its spans (OTLP gRPC). */
  tracingEndpoint: string;
  running: Registry;
  /** Where the cell puts what the stack's stop must close (its admin connection). */
  closing: (() => Promise<void>)[];
  log: (line: string) => void;
};

/** One cell's control plane, in its own folder; resolves when all of it is ready. */
async function startCell(start: CellStart): Promise<CellControl> {
  const { name, running, log } = start;
  const dir = join(start.stackDir, 'cells', name);
  await mkdir(dir, { recursive: true });
  // processes.ts lists a process in <its state folder>/pids, which the stack's reaper and stop
  // read, and starts nothing once <its state folder>/stopping exists: both are the stack's own.
  await symlink(join('..', '..', 'pids'), join(dir, 'pids'));
  await symlink(join('..', '..', 'stopping'), join(dir, 'stopping'));
  const started = (proc: Managed) => running.started(proc, name);

  const pki = await createPki(dir);
  const etcdUrl = `http://127.0.0.1:${start.ports.etcd}`;
  await waitForEtcd(started(startEtcd(dir, etcdUrl, start.ports.etcdPeer)), etcdUrl);
  log(`etcd ready at ${etcdUrl}`);

  const server = `https://127.0.0.1:${start.apiPort}`;
  const admin = await adminAgent(pki);
  start.closing.push(() => admin.close());
  const { tokenWebhookUrl, tracingEndpoint } = start;
  const args = await apiserverArgs(dir, {
    pki,
    etcdUrl,
    port: start.apiPort,
    tokenWebhookUrl,
    tracingEndpoint,
  });
  let apiserver: Managed | undefined = started(startApiserver(dir, args));
  await waitForApiserver(apiserver, server, admin);
  log(`kube-apiserver ready at ${server}`);

  const kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server, pki.caCert, { cert: pki.adminCert, key: pki.adminKey });
  const scheduler = started(await startScheduler(dir, server, pki));
  const kwok = started(await startKwok(dir, kubeconfig, start.podStartMs));
  const nodes = Array.from({ length: start.nodeCount }, (_, i) => nodeName(i));
  await createNodes(server, admin, nodes);
  const controllerManager = started(startControllerManager(dir, pki, kubeconfig));
  await waitForControllerManager(controllerManager, server, admin);
  log('kube-controller-manager ready');
  await waitForNodes(kwok, server, admin, start.nodeCount);
  log(`kwok ready: ${start.nodeCount} simulated nodes Ready`);
  await waitForScheduler(scheduler, server, admin);
  log('kube-scheduler ready');

  // Tests stop, start and restart kube-apiserver on the same port, with the same etcd and keys;
  // one at a time.
  let queue = Promise.resolve();
  const serially = (step: () => Promise<void>) => {
    const next = queue.then(step);
    queue = next.catch(() => {});
    return next;
  };
  const stopApiserver = async () => {
    if (!apiserver) return;
    const old = apiserver;
    apiserver = undefined;
    running.forget(old);
    await old.stop();
  };
  const startAgain = async () => {
    if (apiserver) return;
    apiserver = started(startApiserver(dir, args));
    await waitForApiserver(apiserver, server, admin);
  };
  return {
    info: {
      name,
      dir,
      kubeconfig,
      server,
      caFile: pki.caCert,
      adminCertFile: pki.adminCert,
      adminKeyFile: pki.adminKey,
      serviceAccountIssuer: server,
      etcdUrl,
      nodes,
    },
    processes: () => running.processes.filter((p) => running.cellOf.get(p) === name),
    stopApiserver: () => serially(stopApiserver),
    startApiserver: () => serially(startAgain),
    restartApiserver: () =>
      serially(async () => {
        await stopApiserver();
        await startAgain();
      }),
  };
}
