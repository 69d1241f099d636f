// timeout-e2e: how long an annotation change on an Ingress takes to become the BackendConfig's
// timeoutSec, through the whole flow on the local stack (watcher -> Pub/Sub emulator -> push ->
// ingress-timeout -> kube-apiserver), through a subscription with the production trigger's filter
// and ordering.
//   baseline: with each change, at the moment the API answers it, a probe is published on the
//     watcher's topic with the watcher's publisher settings (test/support/emulator-probe.ts): the
//     same subscription's push loops at about the same moment, so both share the emulator's
//     100 ms idle loop's phase. A random pause before each change (0-200 ms) keeps the changes
//     from being locked to that loop (each waited for, so otherwise each would start the same time
//     after the last push).
//   kubefn's own part: from notes taken inside the watcher and the function (a preload,
//     test/support/timing-hook.mjs; nothing in production code): the watch event read -> its
//     publishMessage call, and the push's request at the function -> the BackendConfig write
//     answered. The other legs are the API server's watch, the client's batching and the
//     emulator, the local forwarder, and the benchmark's own watch.
// Last lines: `timeout_e2e_own_ms <p50 of kubefn's own part>` and
// `timeout_e2e_vs_push_ratio <p50 change to applied / p50 probe publish to push>`.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStack } from '../../infra/local/stack.ts';
import { Cluster, fromKubeconfig, Watcher } from '../../shared/kube/index.ts';
import { emulatorProbe } from '../support/emulator-probe.ts';
import {
  epochNow,
  type Legs,
  PathTimings,
  printLegs,
  printProbeOrder,
  timingEnv,
} from '../support/path-timings.ts';
import { startTimeoutFlow } from '../support/timeout-flow.ts';
import { ms, percentile } from './stats.ts';

const changes = Number(process.env.TIMEOUT_E2E_CHANGES ?? 60);
// The random pause before each change (0: each starts as soon as the last was answered).
const jitterMs = Number(process.env.TIMEOUT_E2E_JITTER_MS ?? 200);

const stack = await startStack();
process.env.PUBSUB_EMULATOR_HOST = stack.pubsubEmulatorHost;
process.env.METADATA_SERVER_DETECTION = 'none';
const timingDir = await mkdtemp(join(tmpdir(), 'kubefn-timing-'));
// The functions and the watcher started from here on load the timing hook.
Object.assign(process.env, timingEnv(timingDir));
console.log(
  `load average before: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const arrivals = new Map<string, number>();
  let probes: ReturnType<typeof emulatorProbe> | undefined;
  const flow = await startTimeoutFlow(admin, stack, {
    customerId: 'bench',
    onArrival: (message) => {
      const key = message.attributes.eventKey;
      if (key && !arrivals.has(key)) arrivals.set(key, epochNow());
      probes?.arrived(message);
    },
  });
  probes = emulatorProbe({ projectId: stack.pubsubProject, topic: flow.topic });

  // When each timeoutSec value appeared on the BackendConfig, from a watch.
  const seen = new Map<number, number>();
  const stopWatch = new AbortController();
  const watching = (async () => {
    const configs = admin.resource({ apiVersion: 'cloud.google.com/v1', kind: 'BackendConfig' });
    for await (const event of new Watcher(configs, {
      namespace: flow.namespace,
      signal: stopWatch.signal,
    })) {
      if (event.type !== 'ADDED' && event.type !== 'MODIFIED') continue;
      const value = (event.object.spec as { timeoutSec?: number } | undefined)?.timeoutSec;
      if (value !== undefined && !seen.has(value)) seen.set(value, epochNow());
    }
  })().catch(() => {});

  const until = async (done: () => boolean, what: string) => {
    for (const deadline = Date.now() + 30_000; !done(); await sleep(1))
      if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
  };
  await until(() => seen.has(30), 'the plan value applied');
  await probes.latency(probes.send()); // warm: the probe publisher's connection

  const ingresses = admin.resource({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' });
  const ours: number[] = [];
  const emulator: number[] = [];
  const made: { uid: string; resourceVersion: string; changed: number; seen: number }[] = [];
  const order: { probeAt?: number | undefined; changeAt?: number | undefined }[] = [];
  for (let i = 0; i < changes; i++) {
    const value = 31 + i;
    await sleep(Math.random() * jitterMs);
    const patched = await ingresses.patch(
      'monitoring',
      { metadata: { annotations: { 'kubefn.dev/backend-timeout': `${value}s` } } },
      { namespace: flow.namespace },
    );
    const changed = epochNow();
    const probe = probes.send();
    const uid = patched.metadata?.uid ?? '';
    const resourceVersion = patched.metadata?.resourceVersion ?? '';
    await until(() => seen.has(value), `${value}s applied`);
    // Its push answered too (the record write follows the BackendConfig's), so rounds do not overlap.
    await until(
      () => flow.answerTo(`${uid}/${resourceVersion}/MODIFIED`) !== undefined,
      `${value}s answered`,
    );
    const applied = seen.get(value) ?? 0;
    ours.push(applied - changed);
    emulator.push(await probes.latency(probe));
    made.push({ uid, resourceVersion, changed, seen: applied });
    order.push({
      probeAt: probes.landedAt(probe),
      changeAt: arrivals.get(`${uid}/${resourceVersion}/MODIFIED`),
    });
  }
  await sleep(600); // the hook writes its notes every 250 ms
  const timings = await PathTimings.read(timingDir, 'ingress-timeout');
  const legs = made.flatMap((change): Legs[] => {
    const split = timings.legs({
      ...change,
      type: 'MODIFIED',
      arrived: (key) => arrivals.get(key),
      route: '/pubsub',
      write: (path) => path.includes('/backendconfigs'),
    });
    return split ? [split] : [];
  });
  stopWatch.abort();
  await watching;
  await probes.close();
  const pushes = JSON.stringify(Object.fromEntries(flow.pushes));
  await flow.stop();
  await admin.close();

  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `${changes} annotation changes, each waited for in turn, 0-${jitterMs} ms apart at random:`,
  );
  console.log(
    `  change answered -> BackendConfig seen (the whole path): p50 ${ms(percentile(ours, 50))}, p99 ${ms(percentile(ours, 99))}`,
  );
  console.log(
    `  probe beside each change, publish -> push (same subscription): p50 ${ms(percentile(emulator, 50))}, p99 ${ms(percentile(emulator, 99))}`,
  );
  printProbeOrder(order);
  const own = printLegs(legs, changes);
  console.log(`  pushes answered: ${pushes}`);
  console.log(`timeout_e2e_own_ms ${percentile(own, 50).toFixed(1)}`);
  console.log(
    `timeout_e2e_vs_push_ratio ${(percentile(ours, 50) / percentile(emulator, 50)).toFixed(2)}`,
  );
} finally {
  await stack.stop();
  if (process.env.KUBEFN_TIMING_KEEP) console.log(`timing notes kept in ${timingDir}`);
  else await rm(timingDir, { recursive: true, force: true });
}
