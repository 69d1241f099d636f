// scale: N tenants (SCALE_TENANTS, default 2,000) on the real local stack, signed up through the
// provisioning function 20 at a time; then its scheduled check (`POST /resync`) with nothing
// drifted and with 1% drifted (a NetworkPolicy deleted), beside the floor: the same label-selected
// lists made directly. Requests are counted by kube-apiserver itself (apiserver_request_total for
// the bundle's resources, before and after), not estimated.
// Then ingress-timeout's resync over the tenants' annotated Ingresses (the second run, nothing to
// do), and the watcher: time to ready (list, then watch) and RSS watching every tenant's Namespace
// and Ingress, beside the same watcher watching nothing.
// Last line: `resync_requests_per_tenant <requests of the unchanged check / tenants>` (goal 0.1).

import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { startChangeFlow } from '../../infra/local/change-flow.ts';
import {
  ingressTimeoutAudience,
  provisionAudience,
  startIngressTimeoutFunction,
  startProvisionFunction,
} from '../../infra/local/deploy.ts';
import { mintToken, schedulerAccount, signupAccount } from '../../infra/local/identities.ts';
import { startStack } from '../../infra/local/stack.ts';
import { mapLimit } from '../../shared/concurrency.ts';
import { fromKubeconfig } from '../../shared/kube/config.ts';
import { Cluster } from '../../shared/kube/index.ts';
import { compactEtcdAt } from '../support/etcd.ts';
import { httpRequest } from '../support/http.ts';

const tenants = Number(process.env.SCALE_TENANTS ?? 2000);
const signupConcurrency = 20;
const kinds = [
  ['v1', 'Namespace'],
  ['v1', 'ServiceAccount'],
  ['v1', 'ResourceQuota'],
  ['v1', 'LimitRange'],
  ['v1', 'Service'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['networking.k8s.io/v1', 'Ingress'],
  ['apps/v1', 'Deployment'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
] as const;
const resources = new Set([
  'namespaces',
  'serviceaccounts',
  'resourcequotas',
  'limitranges',
  'services',
  'networkpolicies',
  'ingresses',
  'deployments',
  'rolebindings',
  'backendconfigs',
]);

const stack = await startStack();
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const fn = await startProvisionFunction(admin, stack);
  const signupToken = await mintToken(admin, signupAccount, { audiences: [provisionAudience] });
  const schedulerToken = await mintToken(admin, schedulerAccount, {
    audiences: [provisionAudience],
  });

  /** kube-apiserver's own count of requests on the bundle's resources (no subresources). */
  const requestsByVerb = async () => {
    const text = await (await admin.client.raw('/metrics')).text();
    const counts = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!line.startsWith('apiserver_request_total{')) continue;
      const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? '';
      const subresource = /subresource="([^"]*)"/.exec(line)?.[1] ?? '';
      const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? '';
      // Watches are long-lived; creates are the controllers' (a new namespace's default
      // ServiceAccount): the checks only list and apply.
      if (!resources.has(resource) || subresource || verb === 'WATCH' || verb === 'POST') continue;
      const key = `${verb} ${resource}`;
      counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
    return counts;
  };
  let failedSignups = 0;
  const signUpStarted = performance.now();
  await mapLimit(
    Array.from({ length: tenants }, (_, i) => `scale-${i}`),
    signupConcurrency,
    async (customerId) => {
      const answer = await httpRequest(
        `${fn.url}/tenants`,
        signupToken,
        'POST',
        JSON.stringify({ customerId, plan: 'free' }),
      );
      if (answer.status !== 201) failedSignups++;
    },
  );
  const signUpSeconds = (performance.now() - signUpStarted) / 1000;

  /** Wall time and kube-apiserver's count of requests (by verb and resource) during `work`. */
  const measure = async <T>(work: () => Promise<T>) => {
    const before = await requestsByVerb();
    const started = performance.now();
    const result = await work();
    const ms = performance.now() - started;
    // The metrics read is not on these resources: the counts are what `work` made.
    const after = await requestsByVerb();
    const byVerb = Object.fromEntries(
      [...after]
        .map(([key, n]) => [key, n - (before.get(key) ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
    const requests = Object.values(byVerb).reduce((a, b) => a + b, 0);
    return { result, ms, requests, byVerb };
  };

  const resync = () =>
    measure(async () => {
      const answer = await httpRequest(`${fn.url}/resync`, schedulerToken, 'POST');
      if (answer.status !== 200) throw new Error(`resync answered ${answer.status}`);
      return JSON.parse(answer.body).counts as Record<string, number>;
    });

  const floor = () =>
    measure(() =>
      Promise.all(
        kinds.map(async ([apiVersion, kind]) => {
          for await (const _ of admin.resource({ apiVersion, kind }).items({
            labelSelector: 'app.kubernetes.io/managed-by=kubefn,kubefn.dev/customer',
          }));
        }),
      ),
    );

  await resync(); // warm: connections, discovery
  const direct = await floor();
  const unchanged = await resync();
  const drifted = Math.max(1, Math.round(tenants / 100));
  const policies = admin.resource({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' });
  await mapLimit(
    Array.from({ length: drifted }, (_, i) => `tenant-scale-${i * 100}`),
    8,
    (namespace) => policies.delete('default-deny-except-namespace', { namespace }),
  );
  const repaired = await resync();

  // ingress-timeout: the first resync applies every tenant's timeout; the second has nothing to do.
  const ingressTimeout = await startIngressTimeoutFunction(admin, stack);
  const timeoutToken = await mintToken(admin, schedulerAccount, {
    audiences: [ingressTimeoutAudience],
  });
  const timeoutResync = () =>
    measure(async () => {
      const answer = await httpRequest(`${ingressTimeout.url}/resync`, timeoutToken, 'POST');
      if (answer.status !== 200)
        throw new Error(`ingress-timeout resync answered ${answer.status}`);
      return JSON.parse(answer.body).counts as Record<string, number>;
    });
  const timeoutFirst = await timeoutResync();
  const timeoutSecond = await timeoutResync();
  await ingressTimeout.stop();

  // The watcher: pushes go to a sink that acknowledges everything.
  const sink = createServer((_req, res) => res.end('{}')).listen(0, '127.0.0.1');
  await new Promise((resolve) => sink.once('listening', resolve));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
  const watcherRun = async (
    name: string,
    watch?: { apiVersion: string; kind: string; labelSelector?: string }[],
  ) => {
    const started = performance.now();
    const flow = await startChangeFlow(admin, stack, {
      topic: `scale-${name}`,
      pushTo: { url: sinkUrl, audience: 'https://sink.kubefn.local' },
      watcherName: name,
      ...(watch ? { watch } : {}),
    });
    const readyMs = performance.now() - started;
    const status = await (await fetch(`${flow.relayUrl}/status`)).text();
    const rss =
      Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${flow.relay.pid}/status`, 'utf8'))?.[1]) *
      1024;
    await flow.stop();
    return { readyMs, rss, status };
  };
  // Relist: stopped cleanly (its Lease released, its checkpoint saved), etcd compacted, started
  // again under the same name: its resume point answers 410, so it relists and diffs.
  const relist = async () => {
    const name = 'scale-relist';
    const first = await watcherRun(name);
    await compactEtcdAt(stack.etcdUrl);
    const again = await watcherRun(name);
    return { first, again };
  };
  const empty = await watcherRun('scale-empty', [
    { apiVersion: 'v1', kind: 'Namespace', labelSelector: 'kubefn.dev/none=none' },
  ]);
  const watched = await watcherRun('scale-all');
  const relisted = await relist();
  sink.close();
  // What the default targets hold: everything each resource's relay listed and published.
  const objects = Object.values(
    (JSON.parse(watched.status) as { resources: Record<string, { published: number }> }).resources,
  ).reduce((sum, resource) => sum + resource.published, 0);
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

  const perTenant = unchanged.requests / tenants;
  console.log(`
scale: ${tenants} tenants on the local stack (Node ${process.version})
  sign-up: ${tenants - failedSignups} created, ${failedSignups} failed, ${(tenants / signUpSeconds).toFixed(1)} tenants/s (${signupConcurrency} at a time, ${signUpSeconds.toFixed(1)} s)
  resync, nothing drifted: ${(unchanged.ms / 1000).toFixed(2)} s, ${unchanged.requests} requests ${JSON.stringify(unchanged.byVerb)}, tenants ${JSON.stringify(unchanged.result)}
  resync, ${drifted} drifted (1%): ${(repaired.ms / 1000).toFixed(2)} s, ${repaired.requests} requests ${JSON.stringify(repaired.byVerb)}, tenants ${JSON.stringify(repaired.result)}
  floor, the same lists made directly: ${(direct.ms / 1000).toFixed(2)} s, ${direct.requests} requests
  resync / floor (nothing drifted): ${(unchanged.ms / direct.ms).toFixed(2)}
ingress-timeout resync over ${tenants} annotated Ingresses (backendconfig mode)
  first (applies each): ${(timeoutFirst.ms / 1000).toFixed(2)} s, ${timeoutFirst.requests} requests, ${JSON.stringify(timeoutFirst.result)}
  second (nothing to do): ${(timeoutSecond.ms / 1000).toFixed(2)} s, ${timeoutSecond.requests} requests ${JSON.stringify(timeoutSecond.byVerb)}, ${(timeoutSecond.requests / tenants).toFixed(3)} per Ingress
watcher (process start to ready: leader, listed, watching; includes bundling it)
  watching nothing: ${(empty.readyMs / 1000).toFixed(2)} s, RSS ${mib(empty.rss)}
  watching ${objects} objects (the default targets: ${(objects / tenants).toFixed(1)} a tenant): ${(watched.readyMs / 1000).toFixed(2)} s, RSS ${mib(watched.rss)}
  RSS per watched object: ${((watched.rss - empty.rss) / objects / 1024).toFixed(2)} KiB
  restarted after etcd was compacted (its resume point gone: relist and diff): ${(relisted.again.readyMs / 1000).toFixed(2)} s to ready (its first start ${(relisted.first.readyMs / 1000).toFixed(2)} s), RSS ${mib(relisted.again.rss)}`);
  console.log(`resync_requests_per_tenant ${perTenant.toFixed(3)}`);
  if (failedSignups > 0 || repaired.result.repaired !== drifted) process.exitCode = 1;
  await admin.close();
} finally {
  await stack.stop();
}
