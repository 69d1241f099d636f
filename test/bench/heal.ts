// heal: how long a deleted object of a tenant's bundle takes to come back through the whole
// event path on the local stack (kube-apiserver -> watcher -> Pub/Sub emulator -> the
// kubefn-provision-changes subscription -> provision's /pubsub/changes -> kube-apiserver).
// Objects are deleted one at a time, cycling through the bundle's kinds, a random 0-200 ms apart
// (so the deletions are not locked to the emulator's 100 ms idle push loop); their return is seen
// on watches (not polled), so no sampling interval is in the figure.
//   baseline: a probe published with each deletion's message, at the same moment, through the
//     same client in the watcher (test/support/timing-hook.mjs, preloaded into the watcher; nothing
//     in production code), timed to its arrival at the provision subscription's forwarder (whose
//     filter keeps it from provision): the emulator's own latency for that moment on those loops.
//     The emulator pushes one message per loop and waits for its answer: the probe is pushed
//     behind the change's message and then waits for provision's work too, so it is printed, and the
//     headline's baseline is the change's own message, publish to push (the watcher's publishMessage
//     call, noted by the hook, to its arrival at the forwarder).
//   kubefn's own part: from notes inside the watcher and provision (test/support/timing-hook.mjs,
//     a preload; nothing in production code): the watch event read -> its publishMessage call,
//     and the push's request at provision -> the object's apply answered.
// Also counted: pushes per change, delivered to a function or kept back by a subscription's filter.
// Last lines: `heal_own_ms <p50 of kubefn's own part>` and
// `heal_vs_push_ratio <p50 deletion to object back / p50 its own message's publish to push>`.
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, fromKubeconfig, Watcher } from '../../shared/kube/index.ts';
import { startEventFlow } from '../support/event-flow.ts';
import {
  arrivalLog,
  epochNow,
  type Legs,
  PathTimings,
  printPathFigures,
  startTimedStack,
} from '../support/path-timings.ts';
import { percentile } from './stats.ts';

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

const { stack, timingDir, stop } = await startTimedStack();
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const arrivals = arrivalLog();
  const flow = await startEventFlow(admin, stack, {
    name: 'bench',
    customers: ['heal'],
    onArrival: (trigger, message) => {
      if (trigger === 'provisionChanges') arrivals.note(message);
    },
  });
  const namespace = await flow.signUp('heal', { owners: ['owner@example.com'] });

  // When each object was last created, from one watch per kind (the list's objects excluded).
  const created = new Map<string, { at: number; uid: string }>();
  const stopWatches = new AbortController();
  const kinds = [...new Map(victims.map((v) => [v.kind, v])).values()];
  const watching = kinds.map(async ({ apiVersion, kind }) => {
    const watcher = new Watcher(admin.resource({ apiVersion, kind }), {
      namespace,
      signal: stopWatches.signal,
    });
    for await (const event of watcher)
      if (event.type === 'ADDED' && !event.initial)
        created.set(`${kind}/${event.object.metadata?.name}`, {
          at: epochNow(),
          uid: event.object.metadata?.uid ?? '',
        });
  });
  const until = async (done: () => boolean, what: string) => {
    for (const deadline = Date.now() + 30_000; !done(); await sleep(1))
      if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
  };
  // Settle: the sign-up's own changes pushed and answered before measuring.
  await sleep(3_000);
  const messages = () => [...arrivals.keys()];
  const pushesBefore = Object.fromEntries(
    Object.entries(flow.pushes).map(([key, answers]) => [key, new Map(answers)]),
  );
  const messagesBefore = messages().length;

  const legs: Legs[] = [];
  const made: { victim: (typeof victims)[number]; uid: string; changed: number; seen: number }[] =
    [];
  for (let i = 0; i < deletions; i++) {
    const victim = victims[i % victims.length] ?? victims[0];
    if (!victim) break;
    const key = `${victim.kind}/${victim.name}`;
    const uid = (await admin.resource(victim).get(victim.name, { namespace })).metadata?.uid ?? '';
    await sleep(Math.random() * jitterMs);
    await admin.resource(victim).delete(victim.name, { namespace });
    const deleted = epochNow();
    await until(() => (created.get(key)?.at ?? 0) > deleted, `${key} back`);
    const back = created.get(key) ?? { at: 0, uid: '' };
    // The deletion's push answered, and its own comeback's (ADDED, kept back by the filter) and
    // the probes arrived, so rounds do not overlap.
    const deletion = () =>
      messages().find((k) => k.startsWith(`${uid}/`) && k.endsWith('/DELETED'));
    await until(() => {
      const deleted = deletion();
      return (
        deleted !== undefined &&
        flow.answerTo('provisionChanges', deleted) !== undefined &&
        arrivals.probeArrived(deleted) !== undefined &&
        messages().some((k) => k.startsWith(`${back.uid}/`) && k.endsWith('/ADDED'))
      );
    }, `${key}: the pushes answered`);
    made.push({ victim, uid, changed: deleted, seen: back.at });
  }
  stopWatches.abort();
  await Promise.allSettled(watching);
  await sleep(1_000);
  const timings = await PathTimings.read(timingDir, 'provision');
  for (const { victim, ...change } of made) {
    const split = timings.legs({
      ...change,
      type: 'DELETED',
      arrived: arrivals.arrived,
      probeArrived: arrivals.probeArrived,
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

  const didWork =
    (flow.pushes.provisionChanges.get(200) ?? 0) - (pushesBefore.provisionChanges?.get(200) ?? 0);
  const keptBack = messages().length - messagesBefore - didWork;
  console.log(
    `${deletions} bundle objects deleted one at a time (${victims.length} kinds in turn), 0-${jitterMs} ms apart at random:`,
  );
  printPathFigures(
    'heal',
    { what: 'deletion answered -> object back', ms: made.map((m) => m.seen - m.changed) },
    legs,
    [
      // 204: a message the subscription's filter keeps from its function (acknowledged).
      `pushes during the run, by subscription and answer (the 204s include a probe per change message): ${perChange.join('; ')}`,
      `per deletion: ${(didWork / deletions).toFixed(2)} push(es) did work in provision, ${(keptBack / deletions).toFixed(2)} kept back by its filter (its own re-creation)`,
      `the watcher's publishMessage -> acknowledged: p50 ${percentile(timings.acked, 50).toFixed(1)} ms`,
    ],
  );
} finally {
  await stop();
}
