// The event path on the local stack: the relay process (the watcher deployable, functions/watcher,
// run locally as a child process) forwards changes to a topic on the Pub/Sub emulator, whose push
// subscription reaches a function's /pubsub route through the push forwarder (push-forwarder.ts).
// What `npm start` runs, and what the end-to-end tests run. The relay process is supervised
// (supervise.ts): killed, it is started again under the same name and port, so it takes over its
// own Lease once the dead holder's expires and resumes from its own checkpoint (the ConfigMap
// kubefn-system/<name>-state), delivering what changed while it was down.
import { checkpointNames } from '../../functions/watcher/checkpoint.ts';
import type { WatchTarget } from '../../functions/watcher/config.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { buildFunctions } from '../build-functions.ts';
import { freePort } from './functions.ts';
import { kubeconfigFor, systemNamespace } from './identities.ts';
import { type Managed, startProcess } from './processes.ts';
import type { CellInfo, StackInfo } from './stack-info.ts';
import { supervise, waitReady } from './supervise.ts';
import { emulator, type PushTarget, subscribe } from './triggers.ts';

export type ChangeFlow = {
  /** The relay process (functions/watcher's bundle) running now; a restart replaces it. */
  readonly relay: Managed;
  /** The relay process's health and status endpoints. */
  relayUrl: string;
  stop(): Promise<void>;
};

export async function startChangeFlow(
  admin: Cluster,
  stack: StackInfo,
  options: {
    topic: string;
    /**
     * Push subscriptions on the topic (a single one is named <topic>-push); none: the topic's
     * subscriptions are someone else's (triggers.ts `subscribeAll`).
     */
    pushTo?:
      | { url: string; audience: string }
      | (Omit<PushTarget, 'topic'> & { subscription: string })[];
    /**
     * KUBEFN_WATCHER_NAME: another name than kubefn-watcher gets its own Lease and checkpoint (and
     * RBAC for them).
     */
    watcherName?: string;
    /** KUBEFN_WATCH; the relay's default (functions/watcher/config.ts defaultTargets) if absent. */
    watch?: WatchTarget[];
    /**
     * How long the relay may take to be ready (default 30 s). A first start publishes every
     * watched object before it is ready: a cluster of thousands of tenants needs longer.
     */
    readyTimeoutMs?: number;
    /** Where a restart of the relay is said (default: stdout). */
    log?: (line: string) => void;
    /** The cell watched, in a multi-cell stack: its server, its KUBEFN_CELL, its own log. */
    cell?: CellInfo;
  },
): Promise<ChangeFlow> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const targets = Array.isArray(options.pushTo)
      ? options.pushTo
      : options.pushTo
        ? [{ ...options.pushTo, subscription: `${options.topic}-push` }]
        : [];
    await emulator(stack, `topics/${options.topic}`);
    for (const target of targets) {
      const subscribed = await subscribe(admin, stack, { ...target, topic: options.topic });
      stops.push(() => subscribed.close());
    }

    const name = options.watcherName ?? 'kubefn-watcher';
    if (name !== 'kubefn-watcher') await grantWatcherName(admin, name);
    const source = (await buildFunctions(['watcher'])).watcher?.entry ?? '';
    const port = await freePort();
    const env = {
      ...process.env,
      KUBECONFIG: await kubeconfigFor(admin, options.cell ?? stack, 'kubefn-watcher'),
      ...(options.cell ? { KUBEFN_CELL: options.cell.name } : {}),
      ...(options.watch ? { KUBEFN_WATCH: JSON.stringify(options.watch) } : {}),
      KUBEFN_TOPIC: options.topic,
      KUBEFN_WATCHER_NAME: name,
      PUBSUB_EMULATOR_HOST: stack.pubsubEmulatorHost,
      PUBSUB_PROJECT_ID: stack.pubsubProject,
      METADATA_SERVER_DETECTION: 'none',
      PORT: String(port),
    };
    const processName = options.cell ? `${name}-${options.cell.name}` : name;
    const launch = () => startProcess(stack.dir, processName, process.execPath, [source], env);
    const relayUrl = `http://127.0.0.1:${port}`;
    const ready = () => fetch(`${relayUrl}/readyz`).then((r) => r.ok);
    const first = launch();
    const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    const readiness = await waitReady(first, ready, readyTimeoutMs);
    if (readiness !== 'ready') {
      await first.stop();
      throw new Error(
        `the relay process ${readiness === 'exited' ? `exited (${await first.exited})` : `was not ready in ${readyTimeoutMs / 1000} s`}; see ${first.logFile}`,
      );
    }
    const relay = supervise(first, {
      name: `watcher ${name}`,
      stateDir: stack.dir,
      launch,
      ready,
      // A killed relay never released its Lease: the next one waits for it to expire (15 s).
      readyTimeoutMs: Math.max(60_000, readyTimeoutMs),
      restartNote: `it takes over its Lease once the old holder's expires (up to 15 s) and resumes from its checkpoint (ConfigMap ${systemNamespace}/${name}-state)`,
      ...(options.log ? { log: options.log } : {}),
    });
    stops.push(() => relay.stop());
    return {
      get relay() {
        return relay.current;
      },
      relayUrl,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The relay's RBAC names its own Lease and checkpoint; a second relay needs its names too. */
async function grantWatcherName(admin: Cluster, name: string): Promise<void> {
  const metadata = { name, namespace: systemNamespace };
  await admin.resource({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' }).apply(
    {
      metadata,
      rules: [
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          resourceNames: [name],
          verbs: ['get', 'update', 'patch'],
        },
        {
          apiGroups: [''],
          resources: ['configmaps'],
          resourceNames: checkpointNames(name),
          verbs: ['get', 'update', 'patch'],
        },
      ],
    } as never,
    { fieldManager: 'kubefn-local', force: true },
  );
  await admin.resource({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' }).apply(
    {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: 'kubefn-watcher', namespace: systemNamespace }],
    } as never,
    { fieldManager: 'kubefn-local', force: true },
  );
}
