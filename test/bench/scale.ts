// scale: N tenants (SCALE_TENANTS, default 2,000) on the real local stack, signed up through the
// provisioning function 20 at a time; then its scheduled check (`POST /resync`) with nothing
// drifted, beside the floor: the same label-selected lists made directly, SCALE_ROUNDS times each
// (default 5), interleaved and taking turns at going first, medians compared; then with 1%
// drifted (a NetworkPolicy deleted). Requests are counted by kube-apiserver itself
// (apiserver_request_total for the bundle's resources, before and after), not estimated.
// Then ingress-timeout's resync over the tenants' annotated Ingresses (the second run, nothing to
// do), and the watcher with its default targets: a first start (list everything, publish every
// object, then watch) to ready, its RSS and CPU, beside the same watcher watching nothing; then
// etcd compacted and the same watcher started again from its checkpoint (ready at once, then its
// resume point answers 410: relist and diff), to ready and to relisted.
// SCALE_ONLY=watcher leaves out the checks (resync, ingress-timeout); SCALE_FIRST_STARTS repeats
// the watcher's first start (default 1), each a fresh name with no checkpoint.
// The stack gets a simulated node per 100 tenants (KUBEFN_NODES overrides): each tenant runs one
// pod, and 3 nodes hold 330, so the rest would stay Pending and the check would report them.
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
import { httpRequest, signUpTenant } from '../support/http.ts';
import { cpuMs, median } from './stats.ts';

const tenants = Number(process.env.SCALE_TENANTS ?? 2000);
const rounds = Number(process.env.SCALE_ROUNDS ?? 5);
const watcherOnly = process.env.SCALE_ONLY === 'watcher';
const firstStarts = Math.max(1, Number(process.env.SCALE_FIRST_STARTS ?? 1));
// A first start publishes every object before it is ready: 30 s, and 120 ms a tenant (11
// objects): 5,000 tenants took 210 s on this machine loaded by other work, and once (another
// process publishing beside it) more than 330 s, the earlier 60 ms a tenant.
const waitMs = 30_000 + tenants * 120;
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

// A simulated node holds 110 pods: one per 100 tenants places every tenant's pod.
const stack = await startStack(
  process.env.KUBEFN_NODES ? {} : { nodes: Math.max(3, Math.ceil(tenants / 100)) },
);
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
    (customerId) =>
      signUpTenant(fn.url, signupToken, customerId).catch(() => {
        failedSignups++;
      }),
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

  // SCALE_ONLY=watcher: the sign-ups and the watcher only (a cell's watcher at its capacity,
  // where the checks' rounds would add most of an hour).
  const checks = watcherOnly
    ? undefined
    : await (async () => {
        await resync(); // warm: connections, discovery
        await floor();
        // Interleaved, each side going first in turn, so the machine's drift touches both alike.
        const floors: Awaited<ReturnType<typeof floor>>[] = [];
        const checks: Awaited<ReturnType<typeof resync>>[] = [];
        for (let round = 0; round < rounds; round++) {
          if (round % 2 === 0) {
            floors.push(await floor());
            checks.push(await resync());
          } else {
            checks.push(await resync());
            floors.push(await floor());
          }
        }
        const middle = <T extends { ms: number }>(runs: T[]) =>
          runs.toSorted((a, b) => a.ms - b.ms)[Math.ceil(runs.length / 2) - 1] as T;
        const direct = middle(floors);
        const unchanged = middle(checks);
        const paired = median(checks.map((check, i) => check.ms / (floors[i]?.ms ?? Number.NaN)));
        const drifted = Math.max(1, Math.round(tenants / 100));
        const policies = admin.resource({
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
        });
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
        return {
          // The last line: the check's requests a tenant.
          perTenant: unchanged.requests / tenants,
          repairedAll: repaired.result.repaired === drifted,
          report: `
  resync, nothing drifted: ${(unchanged.ms / 1000).toFixed(2)} s, ${unchanged.requests} requests ${JSON.stringify(unchanged.byVerb)}, tenants ${JSON.stringify(unchanged.result)}
  resync, ${drifted} drifted (1%): ${(repaired.ms / 1000).toFixed(2)} s, ${repaired.requests} requests ${JSON.stringify(repaired.byVerb)}, tenants ${JSON.stringify(repaired.result)}
  floor, the same lists made directly: ${(direct.ms / 1000).toFixed(2)} s, ${direct.requests} requests
  resync / floor (nothing drifted, medians of ${rounds} interleaved runs each): ${(unchanged.ms / direct.ms).toFixed(2)}; paired per round ${paired.toFixed(2)}; resync runs ${checks.map((c) => (c.ms / 1000).toFixed(2)).join(', ')} s, floor ${floors.map((f) => (f.ms / 1000).toFixed(2)).join(', ')} s
ingress-timeout resync over ${tenants} annotated Ingresses (backendconfig mode)
  first (applies each): ${(timeoutFirst.ms / 1000).toFixed(2)} s, ${timeoutFirst.requests} requests, ${JSON.stringify(timeoutFirst.result)}
  second (nothing to do): ${(timeoutSecond.ms / 1000).toFixed(2)} s, ${timeoutSecond.requests} requests ${JSON.stringify(timeoutSecond.byVerb)}, ${(timeoutSecond.requests / tenants).toFixed(3)} per Ingress`,
        };
      })();

  // The watcher: pushes go to a sink that acknowledges everything.
  const sink = createServer((_req, res) => res.end('{}')).listen(0, '127.0.0.1');
  await new Promise((resolve) => sink.once('listening', resolve));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
  type RelayStatuses = {
    resources: Record<string, { published: number; resourceVersion?: string }>;
  };
  const watcherRun = async (
    name: string,
    options: {
      watch?: { apiVersion: string; kind: string; labelSelector?: string }[];
      /** Also wait until every resource's acknowledged resume point is at or past this one. */
      relistedPast?: number;
    } = {},
  ) => {
    const started = performance.now();
    const flow = await startChangeFlow(admin, stack, {
      topic: `scale-${name}`,
      pushTo: { url: sinkUrl, audience: 'https://sink.kubefn.local' },
      watcherName: name,
      ...(options.watch ? { watch: options.watch } : {}),
      readyTimeoutMs: waitMs,
    });
    const readyMs = performance.now() - started;
    const statusOf = async () =>
      (await (await fetch(`${flow.relayUrl}/status`)).json()) as RelayStatuses;
    let relistedMs: number | undefined;
    if (options.relistedPast !== undefined) {
      const past = options.relistedPast;
      for (;;) {
        const { resources } = await statusOf();
        if (Object.values(resources).every((r) => Number(r.resourceVersion ?? 0) >= past)) break;
        if (performance.now() - started > waitMs)
          throw new Error(`${name} did not relist after the compaction`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      relistedMs = performance.now() - started;
    }
    const status = await statusOf();
    const proc = await readFile(`/proc/${flow.relay.pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(proc)?.[1]) * 1024;
    const cpu = await cpuMs(flow.relay.pid);
    // The resources whose resume point answered 410 Gone (the relay logs each recovery).
    const gone = new Set(
      (await readFile(flow.relay.logFile, 'utf8'))
        .split('\n')
        .filter((line) => line.includes('"reason":"gone"'))
        .flatMap((line) => (JSON.parse(line) as { resource?: string }).resource ?? []),
    );
    await flow.stop();
    return {
      readyMs,
      relistedMs,
      gone: gone.size,
      rss: kib('VmRSS'),
      peak: kib('VmHWM'),
      cpu,
      status,
    };
  };
  const empty = await watcherRun('scale-empty', {
    watch: [{ apiVersion: 'v1', kind: 'Namespace', labelSelector: 'kubefn.dev/none=none' }],
  });
  // A first start, stopped cleanly (its Lease released, its checkpoint saved); etcd compacted and
  // kube-apiserver restarted (its watch cache would otherwise still serve the old resume point);
  // the same name started again: it is ready from its checkpoint, then its resume point answers
  // 410, so it relists and diffs (nothing to publish unless something changed meanwhile).
  // SCALE_FIRST_STARTS first starts (default 1), each under its own name (no checkpoint); the
  // last one is restarted below.
  const firsts: Awaited<ReturnType<typeof watcherRun>>[] = [];
  for (let i = 0; i < firstStarts; i++) {
    const run = await watcherRun(i === firstStarts - 1 ? 'scale-all' : `scale-all-${i}`);
    firsts.push(run);
    // As it comes: a later failure does not lose it.
    console.log(
      `first start ${i + 1}: ready ${(run.readyMs / 1000).toFixed(2)} s, RSS ${(run.rss / 2 ** 20).toFixed(1)} MiB, peak ${(run.peak / 2 ** 20).toFixed(1)} MiB, CPU ${(run.cpu / 1000).toFixed(2)} s`,
    );
  }
  const first = firsts.at(-1) as Awaited<ReturnType<typeof watcherRun>>;
  const compactedAt = await compactEtcdAt(stack.etcdUrl);
  await stack.restartApiserver();
  const again = await watcherRun('scale-all', { relistedPast: compactedAt });
  sink.close();
  // What the default targets hold: everything each resource's relay listed and published.
  const objects = Object.values(first.status.resources).reduce(
    (sum, resource) => sum + resource.published,
    0,
  );
  const republished = Object.values(again.status.resources).reduce(
    (sum, resource) => sum + resource.published,
    0,
  );
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const perObject = (bytes: number) => `${((bytes - empty.rss) / objects / 1024).toFixed(2)} KiB`;

  console.log(`
scale: ${tenants} tenants on the local stack (Node ${process.version})
  sign-up: ${tenants - failedSignups} created, ${failedSignups} failed, ${(tenants / signUpSeconds).toFixed(1)} tenants/s (${signupConcurrency} at a time, ${signUpSeconds.toFixed(1)} s)${checks?.report ?? ''}
watcher (process start to ready: leader, listed, published, watching; includes bundling it)
  watching nothing: ${seconds(empty.readyMs)} to ready, RSS ${mib(empty.rss)}, CPU ${seconds(empty.cpu)}
${firsts
  .map(
    (
      run,
    ) => `  first start, ${objects} objects (the default targets: ${(objects / tenants).toFixed(1)} a tenant): ${seconds(run.readyMs)} to ready (${(objects / (run.readyMs / 1000)).toFixed(0)} objects/s), RSS ${mib(run.rss)} (peak ${mib(run.peak)}), CPU ${seconds(run.cpu)}
    per watched object, above watching nothing: RSS ${perObject(run.rss)}, peak ${perObject(run.peak)}, CPU ${((run.cpu - empty.cpu) / objects).toFixed(2)} ms`,
  )
  .join('\n')}
  restarted after etcd was compacted: ${seconds(again.readyMs)} to ready (from its checkpoint), ${seconds(again.relistedMs ?? Number.NaN)} to relisted and diffed (its resume point gone), ${again.gone} of ${Object.keys(again.status.resources).length} resources answered 410, ${republished} published again; RSS ${mib(again.rss)} (peak ${mib(again.peak)}), CPU ${seconds(again.cpu)}
    per watched object, above watching nothing: RSS ${perObject(again.rss)}, peak ${perObject(again.peak)}`);
  if (checks) console.log(`resync_requests_per_tenant ${checks.perTenant.toFixed(3)}`);
  const relisted = again.gone === Object.keys(again.status.resources).length;
  if (failedSignups > 0 || checks?.repairedAll === false || !relisted) process.exitCode = 1;
  await admin.close();
} finally {
  await stack.stop();
}
