// heal: how long a deleted object of a tenant's bundle takes to come back through the whole
// event path on the local stack (kube-apiserver -> watcher -> Pub/Sub emulator -> the
// kubefn-provision-changes subscription -> provision's /pubsub/changes -> kube-apiserver).
// Objects are deleted one at a time, cycling through the bundle's kinds, a random 0-200 ms apart
// (so the deletions are not locked to the emulator's 100 ms idle push loop); their return is seen
// on watches (not polled), so no sampling interval is in the figure.
//   baseline: with each deletion, at the moment the API answers it, a probe is published on the
//     watcher's topic with the watcher's publisher settings (test/support/emulator-probe.ts),
//     timed to its arrival at the provision subscription's forwarder: the same push loops at
//     about the same moment as the deletion's message.
//   kubefn's own part: from notes inside the watcher and provision (test/support/timing-hook.mjs,
//     a preload; nothing in production code): the watch event read -> its publishMessage call,
//     and the push's request at provision -> the object's apply answered.
// Also counted: pushes per change, delivered to a function or kept back by a subscription's filter.
// Last lines: `heal_own_ms <p50 of kubefn's own part>` and
// `heal_vs_push_ratio <p50 deletion to object back / p50 probe publish to push>`.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStack } from '../../infra/local/stack.ts';
import { Cluster, fromKubeconfig, Watcher } from '../../shared/kube/index.ts';
import { emulatorProbe } from '../support/emulator-probe.ts';
import { startEventFlow } from '../support/event-flow.ts';
import {
  epochNow,
  type Legs,
  PathTimings,
  printLegs,
  printProbeOrder,
  timingEnv,
} from '../support/path-timings.ts';
import { ms, percentile } from './stats.ts';

const deletions = Number(process.env.HEAL_DELETIONS ?? 56);
// The random pause before each deletion (0: each starts as soon as the last was answered).
const jitterMs = Number(process.env.HEAL_JITTER_MS ?? 200);
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
const timingDir = await mkdtemp(join(tmpdir(), 'kubefn-timing-'));
// The functions and the watcher started from here on load the timing hook.
Object.assign(process.env, timingEnv(timingDir));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(`load average before: ${load()}`);
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const arrivals = new Map<string, number>();
  let probes: ReturnType<typeof emulatorProbe> | undefined;
  const flow = await startEventFlow(admin, stack, {
    name: 'bench',
    customers: ['heal'],
    onArrival: (trigger, message) => {
      if (trigger !== 'provisionChanges') return;
      const key = message.attributes.eventKey;
      if (key && !arrivals.has(key)) arrivals.set(key, epochNow());
      probes?.arrived(message);
    },
  });
  probes = emulatorProbe({ projectId: stack.pubsubProject, topic: flow.changesTopic });
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
        created.set(`${kind}/${event.object.metadata?.name}`, epochNow());
  });
  const until = async (done: () => boolean, what: string) => {
    for (const deadline = Date.now() + 30_000; !done(); await sleep(1))
      if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
  };
  // Settle: the sign-up's own changes pushed and answered before measuring.
  await sleep(3_000);
  await probes.latency(probes.send()); // warm: the probe publisher's connection
  const delivered = () => [...flow.pushes.provisionChanges.values()].reduce((a, b) => a + b, 0);
  const pushesBefore = Object.fromEntries(
    Object.entries(flow.pushes).map(([key, answers]) => [key, new Map(answers)]),
  );

  const heal: number[] = [];
  const emulator: number[] = [];
  const legs: Legs[] = [];
  const made: { victim: (typeof victims)[number]; uid: string; changed: number; seen: number }[] =
    [];
  const order: { probeAt?: number | undefined; changeAt?: number | undefined }[] = [];
  for (let i = 0; i < deletions; i++) {
    const victim = victims[i % victims.length] ?? victims[0];
    if (!victim) break;
    const key = `${victim.kind}/${victim.name}`;
    const live = await admin.resource(victim).get(victim.name, { namespace });
    const pushed = delivered();
    await sleep(Math.random() * jitterMs);
    await admin.resource(victim).delete(victim.name, { namespace });
    const deleted = epochNow();
    const probe = probes.send();
    await until(() => (created.get(key) ?? 0) > deleted, `${key} back`);
    const back = created.get(key) ?? 0;
    heal.push(back - deleted);
    // Its own comeback (ADDED) and the probe are filtered out; wait for those answers too, so
    // rounds do not overlap.
    await until(() => delivered() >= pushed + 3, `${key}: the pushes answered`);
    emulator.push(await probes.latency(probe));
    const uid = live.metadata?.uid ?? '';
    made.push({ victim, uid, changed: deleted, seen: back });
    const deletionKey = [...arrivals.keys()].find(
      (k) => k.startsWith(`${uid}/`) && k.endsWith('/DELETED'),
    );
    order.push({
      probeAt: probes.landedAt(probe),
      changeAt: deletionKey ? arrivals.get(deletionKey) : undefined,
    });
  }
  stopWatches.abort();
  await Promise.allSettled(watching);
  await probes.close();
  await sleep(1_000);
  const timings = await PathTimings.read(timingDir, 'provision');
  for (const { victim, ...change } of made) {
    const split = timings.legs({
      ...change,
      type: 'DELETED',
      arrived: (key) => arrivals.get(key),
      route: '/pubsub/changes',
      write: (path) => (path.split('?')[0] ?? '').endsWith(`/${victim.name}`),
    });
    if (split) legs.push(split);
  }
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
  console.log(`load average after: ${load()}`);
  console.log(
    `${deletions} bundle objects deleted one at a time (${victims.length} kinds in turn), 0-${jitterMs} ms apart at random:`,
  );
  console.log(
    `  deletion answered -> object back (the whole path): p50 ${p(heal, 50)}, p99 ${p(heal, 99)}`,
  );
  console.log(
    `  probe beside each deletion, publish -> push (same subscription): p50 ${p(emulator, 50)}, p99 ${p(emulator, 99)}`,
  );
  printProbeOrder(order);
  const own = printLegs(legs, deletions);
  // 204: a message the subscription's filter keeps from its function (acknowledged).
  console.log(
    `  pushes during the run, by subscription and answer (each subscription's 204s include one probe per deletion): ${perChange.join('; ')}`,
  );
  const provisionDuring = (status: number) =>
    (flow.pushes.provisionChanges.get(status) ?? 0) -
    (pushesBefore.provisionChanges?.get(status) ?? 0);
  console.log(
    `  per deletion: ${(provisionDuring(200) / deletions).toFixed(2)} push(es) did work in provision, ${((provisionDuring(204) - deletions) / deletions).toFixed(2)} kept back by its filter (its own re-creation; the probes not counted)`,
  );
  console.log(`heal_own_ms ${percentile(own, 50).toFixed(1)}`);
  console.log(`heal_vs_push_ratio ${(percentile(heal, 50) / percentile(emulator, 50)).toFixed(2)}`);
} finally {
  await stack.stop();
  if (process.env.KUBEFN_TIMING_KEEP) console.log(`timing notes kept in ${timingDir}`);
  else await rm(timingDir, { recursive: true, force: true });
}
