// timeout-e2e: how long an annotation change on an Ingress takes to become the BackendConfig's
// timeoutSec, through the whole flow on the local stack (watcher -> Pub/Sub emulator -> push ->
// ingress-timeout -> kube-apiserver), through a subscription with the production trigger's filter
// and ordering.
//   baseline: a probe published with each change's message, at the same moment, through the same
//     client in the watcher, on the same subscription (test/support/timing-hook.mjs, preloaded
//     into the watcher: the probe is published just before the change's message; nothing in
//     production code). The subscription's filter keeps it from the function; its publish to its
//     push at the forwarder is the emulator's own latency for that moment. The emulator pushes
//     from two loops per subscription that sleep 100 ms when idle and wait for each push's answer;
//     a random pause before each change (0-200 ms) keeps the changes from being locked to those
//     loops (each is waited for, so otherwise each would start the same time after the last push).
//     The emulator pushes one message per loop and waits for its answer: the probe is pushed
//     behind the change's message and then waits for function's work too, so it is printed, and the
//     headline's baseline is the change's own message, publish to push (the watcher's publishMessage
//     call, noted by the hook, to its arrival at the forwarder).
//   kubefn's own part: from notes taken inside the watcher and the function (a preload,
//     test/support/timing-hook.mjs; nothing in production code): the watch event read -> its
//     publishMessage call, and the push's request at the function -> the BackendConfig write
//     answered. The other legs are the API server's watch, the client's batching and the
//     emulator, the local forwarder, and the benchmark's own watch.
// Last lines: `timeout_e2e_own_ms <p50 of kubefn's own part>` and
// `timeout_e2e_vs_push_ratio <p50 change to applied / p50 its own message's publish to push>`.
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, fromKubeconfig, Watcher } from '../../shared/kube/index.ts';
import {
  arrivalLog,
  epochNow,
  PathTimings,
  printPathFigures,
  startTimedStack,
} from '../support/path-timings.ts';
import { startTimeoutFlow } from '../support/timeout-flow.ts';
import { percentile } from './stats.ts';

const changes = Number(process.env.TIMEOUT_E2E_CHANGES ?? 60);
// The random pause before each change (0: each starts as soon as the last was answered).
const jitterMs = Number(process.env.TIMEOUT_E2E_JITTER_MS ?? 200);

const { stack, timingDir, stop } = await startTimedStack();
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const arrivals = arrivalLog();
  const flow = await startTimeoutFlow(admin, stack, {
    customerId: 'bench',
    onArrival: arrivals.note,
  });

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

  const ingresses = admin.resource({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' });
  const made: { uid: string; resourceVersion: string; changed: number; seen: number }[] = [];
  for (let i = 0; i < changes; i++) {
    const value = 31 + i;
    await sleep(Math.random() * jitterMs);
    const patched = await ingresses.patch(
      'monitoring',
      { metadata: { annotations: { 'kubefn.dev/backend-timeout': `${value}s` } } },
      { namespace: flow.namespace },
    );
    const changed = epochNow();
    const uid = patched.metadata?.uid ?? '';
    const resourceVersion = patched.metadata?.resourceVersion ?? '';
    const key = `${uid}/${resourceVersion}/MODIFIED`;
    await until(() => seen.has(value), `${value}s applied`);
    // Its push answered and its probe pushed too, so rounds do not overlap.
    await until(
      () => flow.answerTo(key) !== undefined && arrivals.probeArrived(key) !== undefined,
      `${value}s answered`,
    );
    made.push({ uid, resourceVersion, changed, seen: seen.get(value) ?? 0 });
  }
  await sleep(600); // the hook writes its notes every 250 ms
  const timings = await PathTimings.read(timingDir, 'ingress-timeout');
  const legs = made.flatMap((change) => {
    const split = timings.legs({
      ...change,
      type: 'MODIFIED',
      arrived: arrivals.arrived,
      probeArrived: arrivals.probeArrived,
      route: '/pubsub',
      write: (path) => path.includes('/backendconfigs'),
    });
    return split ? [split] : [];
  });
  stopWatch.abort();
  await watching;
  const pushes = JSON.stringify(Object.fromEntries(flow.pushes));
  await flow.stop();
  await admin.close();

  console.log(
    `${changes} annotation changes, each waited for in turn, 0-${jitterMs} ms apart at random:`,
  );
  printPathFigures(
    'timeout_e2e',
    { what: 'change answered -> BackendConfig seen', ms: made.map((m) => m.seen - m.changed) },
    legs,
    [
      `pushes answered (204: a probe, kept back by the filter): ${pushes}`,
      `the watcher's publishMessage -> acknowledged: p50 ${percentile(timings.acked, 50).toFixed(1)} ms`,
    ],
  );
} finally {
  await stop();
}
