// The whole ingress-timeout flow on the local stack, for the end-to-end test and its benchmark:
// a tenant from the real provisioning function (its monitoring Ingress carries the timeout
// annotation), the watcher process forwarding that namespace's Ingress changes to a topic on the
// Pub/Sub emulator, a push subscription, and the ingress-timeout function behind it.
//
// One stand-in: real Pub/Sub push attaches an OIDC token of the subscription's service account;
// the emulator sends none. `pushAuthShim` receives the emulator's push and forwards it unchanged
// with such a token (for kubefn-pubsub-push), so the function's auth stays on.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildFunctions } from '../../infra/build-functions.ts';
import {
  ingressTimeoutAudience,
  provisionAudience,
  startIngressTimeoutFunction,
  startProvisionFunction,
} from '../../infra/local/deploy.ts';
import { freePort, type RunningFunction } from '../../infra/local/functions.ts';
import {
  kubeconfigFor,
  mintToken,
  pushAccount,
  signupAccount,
} from '../../infra/local/identities.ts';
import { type Managed, startProcess } from '../../infra/local/processes.ts';
import type { StackInfo } from '../../infra/local/stack.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { httpRequest } from '../bench/http.ts';

export type TimeoutFlow = {
  namespace: string;
  fn: RunningFunction;
  watcher: Managed;
  /** Pushes the function answered, by status code. */
  pushes: Map<number, number>;
  stop(): Promise<void>;
};

export async function startTimeoutFlow(
  admin: Cluster,
  stack: StackInfo,
  options: { customerId: string; env?: Record<string, string> },
): Promise<TimeoutFlow> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const provision = await startProvisionFunction(admin, stack);
    stops.push(() => provision.stop());
    const signupToken = await mintToken(admin, signupAccount, { audiences: [provisionAudience] });
    const created = await httpRequest(
      `${provision.url}/tenants`,
      signupToken,
      'POST',
      JSON.stringify({ customerId: options.customerId, plan: 'free' }),
    );
    if (created.status !== 201) throw new Error(`provision answered ${created.status}`);
    const namespace = `tenant-${options.customerId}`;

    const fn = await startIngressTimeoutFunction(admin, stack, { env: options.env ?? {} });
    stops.push(() => fn.stop());
    const pushToken = await mintToken(admin, pushAccount, {
      audiences: [ingressTimeoutAudience],
      expirationSeconds: 3600,
    });
    const pushes = new Map<number, number>();
    const shim = await pushAuthShim(`${fn.url}/pubsub`, pushToken, (status) =>
      pushes.set(status, (pushes.get(status) ?? 0) + 1),
    );
    stops.push(() => shim.close());

    const base = `http://${stack.pubsubEmulatorHost}/v1/projects/${stack.pubsubProject}`;
    const topic = `changes-${options.customerId}`;
    const put = async (path: string, body?: unknown) => {
      const res = await fetch(`${base}/${path}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      if (!res.ok) throw new Error(`emulator ${path}: ${res.status} ${await res.text()}`);
    };
    await put(`topics/${topic}`);
    await put(`subscriptions/${topic}-push`, {
      topic: `projects/${stack.pubsubProject}/topics/${topic}`,
      pushConfig: { pushEndpoint: shim.url },
      ackDeadlineSeconds: 30,
    });

    const name = `watcher-${options.customerId}`.slice(0, 42);
    await grantWatcherName(admin, name);
    const source = (await buildFunctions(['watcher'])).watcher ?? '';
    const port = await freePort();
    const watcher = startProcess(stack.dir, name, process.execPath, [source], {
      ...process.env,
      KUBECONFIG: await kubeconfigFor(admin, stack, 'kubefn-watcher'),
      KUBEFN_WATCH: JSON.stringify([
        { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace },
      ]),
      KUBEFN_TOPIC: topic,
      KUBEFN_WATCHER_NAME: name,
      PUBSUB_EMULATOR_HOST: stack.pubsubEmulatorHost,
      PUBSUB_PROJECT_ID: stack.pubsubProject,
      METADATA_SERVER_DETECTION: 'none',
      PORT: String(port),
    });
    stops.push(() => watcher.stop());
    for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline)
        throw new Error(`the watcher was not ready; see ${watcher.logFile}`);
    }
    return { namespace, fn, watcher, pushes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Receives the emulator's push and forwards it with the subscription's token; relays the answer. */
export async function pushAuthShim(
  target: string,
  token: string,
  onAnswer: (status: number) => void = () => {},
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const forward = request(
        target,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        },
        (answer) => {
          onAnswer(answer.statusCode ?? 0);
          res.writeHead(answer.statusCode ?? 502);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The watcher's RBAC names its own Lease and checkpoint; a second watcher needs its names too. */
async function grantWatcherName(admin: Cluster, name: string): Promise<void> {
  const metadata = { name, namespace: 'kubefn-system' };
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
          resourceNames: [`${name}-state`],
          verbs: ['get', 'update', 'patch'],
        },
      ],
    } as never,
    { fieldManager: 'kubefn-test', force: true },
  );
  await admin.resource({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' }).apply(
    {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: 'kubefn-watcher', namespace: 'kubefn-system' }],
    } as never,
    { fieldManager: 'kubefn-test', force: true },
  );
}
