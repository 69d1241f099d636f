// The local stack: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok's
// simulated nodes (kwok.ts) built by build.sh, plus the Google Pub/Sub emulator and the Firebase
// Authentication emulator (customers' sign-in, standing in for Identity Platform), all on
// 127.0.0.1 and free ports, with their state in a temporary folder. Serves `npm start`
// (start.ts) and the test harness (test/support/global-setup.ts).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, fetch } from 'undici';
import { kwokArgs, nodeLabel, nodeName, nodeObject, writeKwokConfig } from './kwok.ts';
import { createPki, type Pki } from './pki.ts';
import { type Managed, markStopping, startProcess, startReaper, stopListed } from './processes.ts';

const root = resolve(import.meta.dirname, '../..');
const binDir = join(process.env.KUBEFN_CACHE ?? join(root, '.cache/controlplane'), 'bin');
const emulatorLauncher =
  process.env.KUBEFN_PUBSUB_EMULATOR ??
  '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator';

export const pubsubProject = 'kubefn-local';
/** Customers sign in to this project on the Auth emulator; demo- ids are emulator-only. */
export const authProject = 'demo-kubefn';
const firebaseCli = join(root, 'node_modules/firebase-tools/lib/bin/firebase.js');

/** What a client needs to reach the stack; also written to <dir>/stack.env and stack.json. */
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
  const processes: Managed[] = [];
  const stop = async () => {
    markStopping(dir);
    // Clients first, etcd last: a kube-apiserver whose etcd is gone retries instead of exiting.
    for (const proc of processes.toReversed()) await proc.stop();
    await stopListed(dir); // whatever else registered with this stack (functions, helpers)
    await rm(join(dir, 'pids'), { force: true });
    if (!keepState) await rm(dir, { recursive: true, force: true });
  };
  let restartApiserver = async () => {};
  const begun = performance.now();
  const took = () => `${((performance.now() - begun) / 1000).toFixed(1)} s`;
  try {
    const { etcdPort, etcdPeerPort, apiPort, pubsubPort, authPort, hubPort, loggingPort } =
      await freePorts([
        'etcdPort',
        'etcdPeerPort',
        'apiPort',
        'pubsubPort',
        'authPort',
        'hubPort',
        'loggingPort',
      ] as const);
    const emulator = startEmulator(dir, pubsubPort);
    processes.push(emulator.process);
    const authEmulator = startAuthEmulator(dir, { authPort, hubPort, loggingPort });
    processes.push(authEmulator.process);

    const pki = await createPki(dir);
    const webhookArgs = options.tokenWebhookUrl
      ? await tokenWebhookArgs(dir, options.tokenWebhookUrl)
      : [];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = startProcess(dir, 'etcd', join(binDir, 'etcd'), [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync', // test data only: durability is not the point, speed is
      '--log-level=warn',
    ]);
    processes.push(etcd);
    await waitFor(etcd, 30_000, async () => {
      const body = await (await fetch(`${etcdUrl}/health`)).json();
      return (body as { health?: string }).health === 'true';
    });
    log(`etcd ready at ${etcdUrl} (${took()})`);

    const server = `https://127.0.0.1:${apiPort}`;
    const admin = new Agent({ connect: await readPem(pki) });
    const startApiserver = async () => {
      const apiserver = startProcess(dir, 'kube-apiserver', join(binDir, 'kube-apiserver'), [
        ...apiserverArgs(pki, etcdUrl, apiPort),
        ...webhookArgs,
      ]);
      processes.push(apiserver);
      await waitFor(apiserver, 90_000, async () => {
        const res = await fetch(`${server}/readyz`, { dispatcher: admin });
        return res.status === 200;
      });
    };
    await startApiserver();
    log(`kube-apiserver ready at ${server} (${took()})`);
    // Fault tests restart kube-apiserver on the same port, with the same etcd and keys.
    restartApiserver = async () => {
      const index = processes.findIndex((p) => p.name === 'kube-apiserver');
      const [old] = processes.splice(index, 1);
      await old?.stop();
      await startApiserver();
    };

    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, kubeconfigYaml(server, pki.caCert, pki.adminCert, pki.adminKey), {
      mode: 0o600,
    });
    // kube-scheduler as system:kube-scheduler (bootstrap RBAC); kwok, standing in for kubelets
    // (which the Node authorizer would admit), with the admin credential.
    const schedulerKubeconfig = join(dir, 'kube-scheduler.kubeconfig');
    await writeFile(
      schedulerKubeconfig,
      kubeconfigYaml(server, pki.caCert, pki.schedulerCert, pki.schedulerKey, 'kube-scheduler'),
      { mode: 0o600 },
    );
    const scheduler = startProcess(dir, 'kube-scheduler', join(binDir, 'kube-scheduler'), [
      `--kubeconfig=${schedulerKubeconfig}`,
      '--leader-elect=false',
      '--secure-port=0',
    ]);
    processes.push(scheduler);
    const kwokConfig = join(dir, 'kwok.yaml');
    await writeKwokConfig(join(binDir, 'kwok-stages'), kwokConfig, podStartMs);
    // kwok reads ~/.kwok/kwok.yaml too, if there is one: HOME is its own folder.
    mkdirSync(join(dir, 'kwok'), { recursive: true });
    const kwok = startProcess(dir, 'kwok', join(binDir, 'kwok'), kwokArgs(kubeconfig, kwokConfig), {
      ...process.env,
      HOME: join(dir, 'kwok'),
    });
    processes.push(kwok);
    const nodes = Array.from({ length: nodeCount }, (_, i) => nodeName(i));
    await Promise.all(
      nodes.map(async (name) => {
        const res = await fetch(`${server}/api/v1/nodes`, {
          method: 'POST',
          dispatcher: admin,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(nodeObject(name)),
        });
        if (res.status !== 201)
          throw new Error(`could not create node ${name}: ${res.status} ${await res.text()}`);
      }),
    );
    const controllerManager = startProcess(
      dir,
      'kube-controller-manager',
      join(binDir, 'kube-controller-manager'),
      controllerManagerArgs(pki, kubeconfig),
    );
    processes.push(controllerManager);
    // Ready when its controllers have acted: the serviceaccount controller made the default
    // ServiceAccount and the root-CA publisher the kube-root-ca.crt ConfigMap.
    await waitFor(controllerManager, 60_000, async () => {
      const paths = [
        '/api/v1/namespaces/default/serviceaccounts/default',
        '/api/v1/namespaces/default/configmaps/kube-root-ca.crt',
      ];
      const answers = await Promise.all(
        paths.map((p) => fetch(`${server}${p}`, { dispatcher: admin })),
      );
      return answers.every((res) => res.status === 200);
    });
    log(`kube-controller-manager ready (${took()})`);

    // kwok has made every node Ready.
    await waitFor(kwok, 60_000, async () => {
      const selector = encodeURIComponent(`${nodeLabel.key}=${nodeLabel.value}`);
      const res = await fetch(`${server}/api/v1/nodes?labelSelector=${selector}`, {
        dispatcher: admin,
      });
      const list = (await res.json()) as { items: NodeStatus[] };
      return list.items.filter(nodeReady).length === nodeCount;
    });
    log(`kwok ready: ${nodeCount} simulated nodes Ready (${took()})`);
    await waitForScheduler(scheduler, server, admin);
    log(`kube-scheduler ready (${took()})`);

    await emulator.ready;
    log(`Pub/Sub emulator ready at 127.0.0.1:${pubsubPort} (${took()})`);
    await authEmulator.ready;
    log(`Auth emulator ready at 127.0.0.1:${authPort}, project ${authProject} (${took()})`);

    const info: StackInfo = {
      dir,
      kubeconfig,
      server,
      caFile: pki.caCert,
      adminCertFile: pki.adminCert,
      adminKeyFile: pki.adminKey,
      serviceAccountIssuer: server,
      etcdUrl,
      pubsubEmulatorHost: `127.0.0.1:${pubsubPort}`,
      pubsubProject,
      authEmulatorHost: `127.0.0.1:${authPort}`,
      authProject,
      nodes,
      podStartMs,
    };
    await writeFile(join(dir, 'stack.json'), JSON.stringify(info, null, 2));
    await writeFile(join(dir, 'stack.env'), envFile(stackEnv(info)));
    return {
      ...info,
      processes,
      memory: () => memory(processes),
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

/** The environment variables a client of the stack needs. */
export function stackEnv(info: StackInfo): Record<string, string> {
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

function apiserverArgs(pki: Pki, etcdUrl: string, port: number): string[] {
  return [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${pki.caCert}`,
    '--authorization-mode=RBAC',
    // 65,534 Service addresses: every tenant's bundle has one Service, and the stack is to hold
    // tens of thousands of tenants (a /24 ran out at about 250).
    '--service-cluster-ip-range=10.0.0.0/16',
    `--service-account-issuer=https://127.0.0.1:${port}`,
    `--service-account-key-file=${pki.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    // The "kubernetes" Service's endpoints would point at 127.0.0.1, which Endpoints reject.
    '--endpoint-reconciler-type=none',
    // It taints every new Node not-ready:NoSchedule until the node lifecycle controller lifts the
    // taint, and that controller does not run here: kwok's nodes would never take a pod.
    '--disable-admission-plugins=TaintNodesByCondition',
    '--profiling=false',
  ];
}

async function tokenWebhookArgs(dir: string, url: string): Promise<string[]> {
  const config = join(dir, 'token-webhook.kubeconfig');
  await writeFile(
    config,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'token-webhook', cluster: { server: url } }],
      users: [{ name: 'kube-apiserver', user: {} }],
      contexts: [
        { name: 'webhook', context: { cluster: 'token-webhook', user: 'kube-apiserver' } },
      ],
      'current-context': 'webhook',
    }),
  );
  return [
    `--authentication-token-webhook-config-file=${config}`,
    '--authentication-token-webhook-version=v1',
  ];
}

function controllerManagerArgs(pki: Pki, kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    '--secure-port=0',
    '--leader-elect=false',
    // What tenants need: namespace finalization, default ServiceAccounts and their tokens,
    // owner-reference cleanup, kube-root-ca.crt, quota status and the aggregated admin/edit/view
    // ClusterRoles; and what runs their workloads on the simulated nodes: Deployments,
    // ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs make pods, EndpointSlices point
    // Services at the Ready ones, and finished or orphaned pods are collected.
    `--controllers=${[
      'namespace-controller',
      'serviceaccount-controller',
      'serviceaccount-token-controller',
      'garbage-collector-controller',
      'root-ca-certificate-publisher-controller',
      'resourcequota-controller',
      'clusterrole-aggregation-controller',
      'deployment-controller',
      'replicaset-controller',
      'statefulset-controller',
      'daemonset-controller',
      'job-controller',
      'cronjob-controller',
      'ttl-after-finished-controller',
      'endpointslice-controller',
      'pod-garbage-collector-controller',
    ].join(',')}`,
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    '--concurrent-namespace-syncs=5',
  ];
}

function startEmulator(dir: string, port: number): { process: Managed; ready: Promise<void> } {
  // The emulator logs every request at INFO; WARNING keeps its log readable.
  const logging = join(dir, 'pubsub-logging.properties');
  const ready = writeFile(logging, '.level=WARNING\nhandlers=java.util.logging.ConsoleHandler\n');
  const proc = startProcess(
    dir,
    'pubsub-emulator',
    emulatorLauncher,
    ['--host=127.0.0.1', `--port=${port}`],
    {
      ...process.env,
      JAVA_OPTS: `-Xmx512m -Djava.util.logging.config.file=${logging}`,
    },
  );
  const emulatorReady = ready.then(() =>
    waitFor(proc, 60_000, async () => (await fetch(`http://127.0.0.1:${port}/`)).ok),
  );
  // Awaited only after the control plane is up; if that fails first, this must not surface as
  // an unhandled rejection.
  emulatorReady.catch(() => {});
  return { process: proc, ready: emulatorReady };
}

/**
 * The Firebase Authentication emulator from the firebase-tools package: Node only, offline, no
 * login (a demo- project needs none). Its config and debug log stay in the state folder, and
 * CI=true keeps the CLI from fetching its message of the day and checking for updates. It takes
 * the longest of the stack to be ready (10-20 s here), started first so the rest overlaps it.
 */
function startAuthEmulator(
  dir: string,
  ports: { authPort: number; hubPort: number; loggingPort: number },
): { process: Managed; ready: Promise<void> } {
  const home = join(dir, 'auth-emulator');
  const config = join(home, 'firebase.json');
  // Written before the CLI starts, which reads it at once.
  mkdirSync(home, { recursive: true });
  writeFileSync(
    config,
    JSON.stringify({
      emulators: {
        auth: { host: '127.0.0.1', port: ports.authPort },
        hub: { host: '127.0.0.1', port: ports.hubPort },
        logging: { host: '127.0.0.1', port: ports.loggingPort },
        ui: { enabled: false },
      },
    }),
  );
  // firebase-debug.log goes to the working folder: the emulator's own (a shell sets it).
  const proc = startProcess(
    dir,
    'auth-emulator',
    'bash',
    [
      '-c',
      'cd "$0" && exec "$@"',
      home,
      process.execPath,
      firebaseCli,
      'emulators:start',
      '--only',
      'auth',
      '--project',
      authProject,
      '--config',
      config,
    ],
    // Its hub writes a locator file named by the project into TMPDIR: each stack its own, so
    // stacks side by side (the tests', npm start's) do not find each other's.
    { ...process.env, CI: 'true', NO_UPDATE_NOTIFIER: '1', XDG_CONFIG_HOME: home, TMPDIR: home },
  );
  const url = `http://127.0.0.1:${ports.authPort}/emulator/v1/projects/${authProject}/config`;
  const ready = waitFor(proc, 60_000, async () => (await fetch(url)).ok);
  ready.catch(() => {});
  return { process: proc, ready };
}

type NodeStatus = { status?: { conditions?: { type: string; status: string }[] } };

function nodeReady(node: NodeStatus): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * kube-scheduler serves no port here (--secure-port=0): it is ready when it has acted on a pod.
 * A probe pod in `default` is scheduled (bound to a node, or marked Unschedulable when there is
 * none) and then deleted at once, its container never run.
 */
async function waitForScheduler(scheduler: Managed, server: string, admin: Agent) {
  const pods = `${server}/api/v1/namespaces/default/pods`;
  const name = 'kubefn-scheduler-probe';
  const probe = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      containers: [{ name: 'probe', image: 'kubefn.local/probe' }],
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
    },
  };
  const created = await fetch(pods, {
    method: 'POST',
    dispatcher: admin,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(probe),
  });
  if (created.status !== 201)
    throw new Error(`could not create the scheduler's probe pod: ${await created.text()}`);
  try {
    await waitFor(scheduler, 60_000, async () => {
      const pod = (await (await fetch(`${pods}/${name}`, { dispatcher: admin })).json()) as {
        spec?: { nodeName?: string };
        status?: { conditions?: { type: string }[] };
      };
      return Boolean(
        pod.spec?.nodeName || pod.status?.conditions?.some((c) => c.type === 'PodScheduled'),
      );
    });
  } finally {
    await fetch(`${pods}/${name}?gracePeriodSeconds=0`, { method: 'DELETE', dispatcher: admin })
      .then((res) => res.body?.cancel())
      .catch(() => {});
  }
}

function kubeconfigYaml(
  server: string,
  caCert: string,
  cert: string,
  key: string,
  user = 'kubefn-admin',
): string {
  // Paths rather than inline data keep the credentials out of anything that prints the config.
  return `apiVersion: v1
kind: Config
clusters:
- name: kubefn-local
  cluster:
    server: ${server}
    certificate-authority: ${caCert}
users:
- name: ${user}
  user:
    client-certificate: ${cert}
    client-key: ${key}
contexts:
- name: kubefn-local
  context:
    cluster: kubefn-local
    user: ${user}
current-context: kubefn-local
`;
}

async function readPem(pki: Pki) {
  const [ca, cert, key] = await Promise.all(
    [pki.caCert, pki.adminCert, pki.adminKey].map((file) => readFile(file, 'utf8')),
  );
  return { ca, cert, key };
}

/** Polls `check` until it answers true; fails fast, with the log's tail, if the process exits. */
async function waitFor(proc: Managed, timeoutMs: number, check: () => Promise<boolean>) {
  const deadline = performance.now() + timeoutMs;
  let died: string | undefined;
  void proc.exited.then((how) => {
    died = how;
  });
  while (performance.now() < deadline) {
    if (died !== undefined) throw await startFailure(proc, `exited (${died})`);
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw await startFailure(proc, `was not ready within ${timeoutMs / 1000} s`);
}

async function startFailure(proc: Managed, what: string): Promise<Error> {
  const tail = (await readFile(proc.logFile, 'utf8').catch(() => '')).split('\n').slice(-15);
  return new Error(`${proc.name} ${what}; last lines of ${proc.logFile}:\n${tail.join('\n')}`);
}

/**
 * Ports for the stack's processes, chosen below the kernel's ephemeral range. A port from
 * listen(0) is an ephemeral one, and the processes bind theirs seconds later (the Pub/Sub
 * emulator's JVM takes longest): meanwhile any outgoing connection on the machine may be given
 * the same port as its source, and the bind fails (a CI run lost the emulator that way). Below
 * the range, only another listener can take it.
 */
async function freePorts<Name extends string>(
  names: readonly Name[],
): Promise<Record<Name, number>> {
  const [low, high] = belowEphemeralRange();
  // Hold every listener open until all ports are known, so no port is handed out twice.
  const servers: ReturnType<typeof createServer>[] = [];
  for (let attempt = 0; servers.length < names.length; attempt++) {
    if (attempt > 1000) throw new Error(`no ${names.length} free ports in ${low}-${high}`);
    const port = low + Math.floor(Math.random() * (high - low));
    const server = createServer();
    const bound = await new Promise<boolean>((ok) => {
      server.once('error', () => ok(false));
      server.listen(port, '127.0.0.1', () => ok(true));
    });
    if (bound) servers.push(server);
  }
  const ports = servers.map((s, i) => [names[i], (s.address() as { port: number }).port]);
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return Object.fromEntries(ports) as Record<Name, number>;
}

/** Linux's range is in /proc (32768-60999 by default); below it down to 20000 is ours. */
function belowEphemeralRange(): [number, number] {
  try {
    const [first] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (first !== undefined && first > 21_000) return [20_000, first];
  } catch {
    // not Linux: the default range's floor
  }
  return [20_000, 32_768];
}

async function memory(processes: Managed[]): Promise<Record<string, number>> {
  const entries = await Promise.all(
    processes.map(async (p) => {
      const status = await readFile(`/proc/${p.pid}/status`, 'utf8').catch(() => '');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return [p.name, kb * 1024] as const;
    }),
  );
  return Object.fromEntries(entries);
}
