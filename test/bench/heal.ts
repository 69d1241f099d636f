// heal: how long a deleted object of a tenant's bundle takes to come back through the whole
// event path on the local stack (kube-apiserver -> watcher -> Pub/Sub emulator -> the
// kubefn-provision-changes subscription -> provision's /pubsub/changes -> kube-apiserver),
// against the emulator's own publish-to-push latency measured in the same run, interleaved (one
// probe message after each heal). Objects are deleted one at a time, cycling through the bundle's
// kinds; their return is seen on watches (not polled), so no sampling interval is in the figure.
// Also counted: pushes per change, delivered to a function or kept back by a subscription's filter.
// Last line: `heal_ratio <p50 heal / p50 emulator push>` (goal 1.5 or less).
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub } from '@google-cloud/pubsub';
import { startStack } from '../../infra/local/stack.ts';
import { Cluster, fromKubeconfig, Watcher } from '../../shared/kube/index.ts';
import { emulatorProbe } from '../support/emulator-probe.ts';
import { startEventFlow } from '../support/event-flow.ts';
import { ms, percentile } from './stats.ts';

const deletions = Number(process.env.HEAL_DELETIONS ?? 56);
const victims = [
  { apiVersion: 'v1', kind: 'ResourceQuota', name: 'tenant-quota' },
  { apiVersion: 'v1', kind: 'LimitRange', name: 'tenant-limits' },
  { apiVersion: 'v1', kind: 'ServiceAccount', name: 'tenant' },
  { apiVersion: 'v1', kind: 'Service', name: 'monitoring' },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    name: 'default-deny-except-namespace',
  },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', name: 'tenant-owners' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', name: 'kubefn-label' },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    name: 'kubefn-ingress-timeout',
  },
];

const stack = await startStack();
process.env.PUBSUB_EMULATOR_HOST = stack.pubsubEmulatorHost;
process.env.METADATA_SERVER_DETECTION = 'none';
const pubsub = new PubSub({ projectId: stack.pubsubProject });
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const flow = await startEventFlow(admin, stack, { name: 'bench', customers: ['heal'] });
  const namespace = await flow.signUp('heal', { owners: ['owner@example.com'] });

  // When each object was last created, from one watch per kind (the list's objects excluded).
  const created = new Map<string, number>();
  const stopWatches = new AbortController();
  const kinds = [...new Map(victims.map((v) => [v.kind, v])).values()];
  const watching = kinds.map(async ({ apiVersion, kind }) => {
    const watcher = new Watcher(admin.resource({ apiVersion, kind }), {
      namespace,
      signal: stopWatches.signal,
    });
    for await (const event of watcher)
      if (event.type === 'ADDED' && !event.initial)
        created.set(`${kind}/${event.object.metadata?.name}`, performance.now());
  });
  const until = async (done: () => boolean, what: string) => {
    for (const deadline = Date.now() + 30_000; !done(); await sleep(1))
      if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
  };
  const probes = await emulatorProbe(pubsub, 'heal-probe');
  // Settle: the sign-up's own changes pushed and answered before measuring.
  await sleep(3_000);
  const delivered = () => [...flow.pushes.provisionChanges.values()].reduce((a, b) => a + b, 0);
  const pushesBefore = Object.fromEntries(
    Object.entries(flow.pushes).map(([key, answers]) => [key, new Map(answers)]),
  );

  const heal: number[] = [];
  const emulator: number[] = [];
  for (let i = 0; i < deletions; i++) {
    const victim = victims[i % victims.length] ?? victims[0];
    if (!victim) break;
    const key = `${victim.kind}/${victim.name}`;
    const pushed = delivered();
    await admin.resource(victim).delete(victim.name, { namespace });
    const deleted = performance.now();
    await until(() => (created.get(key) ?? 0) > deleted, `${key} back`);
    heal.push((created.get(key) ?? 0) - deleted);
    // Its own comeback (ADDED) is filtered out; wait for that answer so rounds do not overlap.
    await until(() => delivered() >= pushed + 2, `${key}: the pushes answered`);
    emulator.push(await probes.probe());
  }
  stopWatches.abort();
  await Promise.allSettled(watching);
  await probes.close();
  await sleep(1_000);
  const perChange = Object.entries(flow.pushes).flatMap(([key, answers]) => {
    const before = pushesBefore[key] ?? new Map<number, number>();
    const counts = [...answers]
      .map(([status, n]) => `${status}:${n - (before.get(status) ?? 0)}`)
      .filter((entry) => !entry.endsWith(':0'));
    return counts.length ? [`${key} ${counts.join(' ')}`] : [];
  });
  await flow.stop();
  await admin.close();

  const p = (values: number[], q: number) => ms(percentile(values, q));
  console.log(
    `${deletions} bundle objects deleted one at a time (${victims.length} kinds in turn):`,
  );
  console.log(
    `  deletion -> object back (watcher, Pub/Sub, push, provision): p50 ${p(heal, 50)}, p99 ${p(heal, 99)}`,
  );
  console.log(
    `  emulator publish -> push:                                  p50 ${p(emulator, 50)}, p99 ${p(emulator, 99)}`,
  );
  // 204: a message the subscription's filter keeps from its function (acknowledged).
  console.log(`  pushes during the run, by subscription and answer: ${perChange.join('; ')}`);
  const provisionDuring = (status: number) =>
    (flow.pushes.provisionChanges.get(status) ?? 0) -
    (pushesBefore.provisionChanges?.get(status) ?? 0);
  console.log(
    `  per deletion: ${(provisionDuring(200) / deletions).toFixed(2)} push(es) did work in provision, ${(provisionDuring(204) / deletions).toFixed(2)} kept back by its filter (its own re-creation)`,
  );
  console.log(`heal_ratio ${(percentile(heal, 50) / percentile(emulator, 50)).toFixed(2)}`);
} finally {
  await pubsub.close();
  await stack.stop();
}
