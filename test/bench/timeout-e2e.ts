// timeout-e2e: how long an annotation change on an Ingress takes to become the BackendConfig's
// timeoutSec, through the whole flow on the local stack (watcher -> Pub/Sub emulator -> push ->
// ingress-timeout -> kube-apiserver), against the emulator's own publish-to-push latency measured
// in the same run, interleaved (one probe message after each change).
// Last line: `timeout_e2e_ratio <p50 ours / p50 emulator>`.
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub } from '@google-cloud/pubsub';
import { startStack } from '../../infra/local/stack.ts';
import { Cluster, fromKubeconfig, Watcher } from '../../shared/kube/index.ts';
import { emulatorProbe } from '../support/emulator-probe.ts';
import { startTimeoutFlow } from '../support/timeout-flow.ts';
import { ms, percentile } from './stats.ts';

const changes = Number(process.env.TIMEOUT_E2E_CHANGES ?? 60);

const stack = await startStack();
process.env.PUBSUB_EMULATOR_HOST = stack.pubsubEmulatorHost;
process.env.METADATA_SERVER_DETECTION = 'none';
const pubsub = new PubSub({ projectId: stack.pubsubProject });
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const flow = await startTimeoutFlow(admin, stack, { customerId: 'bench' });

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
      if (value !== undefined && !seen.has(value)) seen.set(value, performance.now());
    }
  })().catch(() => {});

  // The emulator alone: a topic whose push subscription ends at a local endpoint.
  const probes = await emulatorProbe(pubsub, 'timeout-e2e-probe');

  const until = async (done: () => boolean, what: string) => {
    for (const deadline = Date.now() + 30_000; !done(); await sleep(2))
      if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
  };
  await until(() => seen.has(30), 'the plan value applied');

  const ingresses = admin.resource({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' });
  const ours: number[] = [];
  const emulator: number[] = [];
  for (let i = 0; i < changes; i++) {
    const value = 31 + i;
    await ingresses.patch(
      'monitoring',
      { metadata: { annotations: { 'kubefn.dev/backend-timeout': `${value}s` } } },
      { namespace: flow.namespace },
    );
    const changed = performance.now();
    await until(() => seen.has(value), `${value}s applied`);
    ours.push((seen.get(value) ?? 0) - changed);

    emulator.push(await probes.probe());
  }
  stopWatch.abort();
  await watching;
  await probes.close();
  await flow.stop();
  await admin.close();

  console.log(`${changes} annotation changes, each waited for in turn:`);
  console.log(
    `  annotation -> BackendConfig (watcher, Pub/Sub, push, function): p50 ${ms(percentile(ours, 50))}, p99 ${ms(percentile(ours, 99))}`,
  );
  console.log(
    `  emulator publish -> push:                                        p50 ${ms(percentile(emulator, 50))}, p99 ${ms(percentile(emulator, 99))}`,
  );
  console.log(`  pushes answered: ${JSON.stringify(Object.fromEntries(flow.pushes))}`);
  console.log(`timeout_e2e_ratio ${(percentile(ours, 50) / percentile(emulator, 50)).toFixed(2)}`);
} finally {
  await pubsub.close();
  await stack.stop();
}
