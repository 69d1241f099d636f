// chaos watcher: at least CHAOS_CHANGES changes to ConfigMaps while, in turn, kube-apiserver
// restarts several times, etcd is compacted (forcing 410s), the watcher process is killed with
// SIGKILL while changes go on (Cloud Run-like supervision starts it again; it waits for the Lease
// to expire) and the Pub/Sub emulator is frozen with SIGSTOP (it keeps its in-memory state).
// Then every object's final state must have been delivered, and every change either delivered
// or merged by a relist: the first version of that object delivered after it came from a list
// (its message says `listed`), so the change fell in a window no watcher could see (a relist
// sees only current state; a compacted intermediate is gone). A later version from the watch
// stream does not excuse a missed change: that is a loss.
// Prints counts and, last, `lost <n>`; exits non-zero too if the watcher's memory passed its
// bound (CHAOS_MEMORY_MIB, default 300).
// All on 127.0.0.1; bounded in count and time.

import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildFunctions } from '../../infra/build-functions.ts';
import { freePort } from '../../infra/local/functions.ts';
import { applyIdentities, kubeconfigFor } from '../../infra/local/identities.ts';
import { type Managed, startProcess } from '../../infra/local/processes.ts';
import { startStack } from '../../infra/local/stack.ts';
import { Cluster, fromKubeconfig, type KubeObject } from '../../shared/kube/index.ts';
import { compactEtcdAt } from '../support/etcd.ts';

const changes = Number(process.env.CHAOS_CHANGES ?? 5000);
const pauseSeconds = Number(process.env.CHAOS_PUBSUB_PAUSE ?? 30);
const restarts = Number(process.env.CHAOS_RESTARTS ?? 3);
const memoryBoundMiB = Number(process.env.CHAOS_MEMORY_MIB ?? 300);
// Each object is created, updated three times and deleted once over the whole run, so no object
// lives and dies inside one outage (where no watcher anywhere could see it).
const objects = Math.ceil(changes / 5);
const log = (line: string) => console.log(`chaos: ${line}`);

const stack = await startStack({ log: () => {} });
const begun = Date.now();
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  await applyIdentities(admin);
  const ns = 'chaos';
  await admin.resource({ apiVersion: 'v1', kind: 'Namespace' }).create({ metadata: { name: ns } });
  // Watching ConfigMaps is not part of the watcher's standing RBAC: grant it here, in this namespace.
  await admin.resource({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' }).create({
    metadata: { name: 'watch-configmaps', namespace: ns },
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
  });
  await admin.resource({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' }).create({
    metadata: { name: 'watch-configmaps', namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'watch-configmaps' },
    subjects: [{ kind: 'ServiceAccount', name: 'kubefn-watcher', namespace: 'kubefn-system' }],
  });
  const pubsubBase = `http://${stack.pubsubEmulatorHost}/v1/projects/${stack.pubsubProject}`;
  const rest = (method: string, path: string, body?: unknown) =>
    fetch(`${pubsubBase}/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  await rest('PUT', 'topics/changes');
  await rest('PUT', 'subscriptions/changes', {
    topic: `projects/${stack.pubsubProject}/topics/changes`,
    ackDeadlineSeconds: 60,
  });

  const source = (await buildFunctions(['watcher'])).watcher?.entry ?? '';
  const env = {
    ...process.env,
    KUBECONFIG: await kubeconfigFor(admin, stack, 'kubefn-watcher'),
    KUBEFN_WATCH: JSON.stringify([
      { apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, labelSelector: 'chaos=yes' },
    ]),
    KUBEFN_TOPIC: 'changes',
    KUBEFN_LEASE_SECONDS: '10',
    KUBEFN_WINDOW: '200',
    PUBSUB_EMULATOR_HOST: stack.pubsubEmulatorHost,
    PUBSUB_PROJECT_ID: stack.pubsubProject,
    METADATA_SERVER_DETECTION: 'none',
  };
  let watcher: Managed | undefined;
  let maxRssMiB = 0;
  let healthUrl = '';
  const startWatcher = async () => {
    const port = await freePort();
    healthUrl = `http://127.0.0.1:${port}`;
    watcher = startProcess(stack.dir, 'watcher', process.execPath, [source], {
      ...env,
      PORT: String(port),
    });
  };
  // Like Cloud Run, restart the watcher whenever it exits (killed, or stepping down as leader).
  let finished = false;
  let watcherStarts = 0;
  const supervisor = (async () => {
    while (!finished) {
      await startWatcher();
      watcherStarts++;
      const how = await watcher?.exited;
      if (!finished) log(`watcher exited (${how}); restarting it`);
    }
  })();
  const sampler = setInterval(() => {
    void readFile(`/proc/${watcher?.pid}/status`, 'utf8').then(
      (s) => {
        maxRssMiB = Math.max(maxRssMiB, Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024);
      },
      () => {},
    );
  }, 250);

  // Start writing once the watcher leads and has listed.
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(100)) {
    if (
      await fetch(`${healthUrl}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
  }
  log('the watcher is ready');

  // Everything delivered, by event key; pulled continuously.
  const delivered: { type: string; name: string; uid: string; rv: string; listed: boolean }[] = [];
  let pulling = true;
  const puller = (async () => {
    while (pulling) {
      const res = await rest('POST', 'subscriptions/changes:pull', {
        maxMessages: 1000,
        returnImmediately: true,
      }).catch(() => undefined);
      const body = res?.ok
        ? ((await res.json()) as {
            receivedMessages?: { ackId: string; message: { attributes: Record<string, string> } }[];
          })
        : {};
      const messages = body.receivedMessages ?? [];
      for (const { message: m } of messages) {
        delivered.push({
          type: m.attributes.type ?? '',
          name: m.attributes.name ?? '',
          uid: m.attributes.uid ?? '',
          rv: m.attributes.resourceVersion ?? '',
          listed: m.attributes.listed === 'true',
        });
      }
      if (messages.length)
        await rest('POST', 'subscriptions/changes:acknowledge', {
          ackIds: messages.map((m) => m.ackId),
        }).catch(() => {});
      else await sleep(100);
    }
  })();

  // The writer: creates, updates and deletes, recording what the API answered.
  const made: { type: string; name: string; uid: string; rv: string; i?: number }[] = [];
  const configMaps = admin.resource({ apiVersion: 'v1', kind: 'ConfigMap' });
  let done = 0;
  const writer = (async () => {
    for (let i = 0; done < changes; i++) {
      const name = `cm-${i % objects}`;
      const step = Math.floor(i / objects) % 5; // create, update, update, update, delete
      try {
        if (step === 0) {
          const o = await configMaps.create({
            metadata: { name, namespace: ns, labels: { chaos: 'yes' } },
            data: { i: String(i) },
          });
          made.push({
            i,
            type: 'ADDED',
            name,
            uid: o.metadata?.uid ?? '',
            rv: o.metadata?.resourceVersion ?? '',
          });
        } else if (step < 4) {
          const o = await configMaps.patch(name, { data: { i: String(i) } }, { namespace: ns });
          made.push({
            i,
            type: 'MODIFIED',
            name,
            uid: o.metadata?.uid ?? '',
            rv: o.metadata?.resourceVersion ?? '',
          });
        } else {
          // A ConfigMap's deletion answers a Status whose details carry the uid.
          const o = (await configMaps.delete(name, { namespace: ns })) as KubeObject & {
            details?: { uid?: string };
          };
          const uid = o.details?.uid ?? o.metadata?.uid ?? '';
          if (!uid) throw new Error(`the deletion of ${name} answered no uid`);
          made.push({ i, type: 'DELETED', name, uid, rv: '' });
        }
        done++;
      } catch {
        // The API was restarting: this change did not happen; try the next one.
        await sleep(50);
      }
    }
  })();

  // The faults, spread over the run.
  const at = (fraction: number) =>
    (async () => {
      while (done < changes * fraction) await sleep(50);
    })();
  for (let r = 0; r < restarts; r++) {
    await at((r + 1) / (restarts + 3));
    log(`restarting kube-apiserver (${done} changes so far)`);
    if (r === restarts - 1) {
      await compactEtcdAt(stack.etcdUrl);
      log('compacted etcd, so resumes meet 410 Gone');
    }
    await stack.restartApiserver();
  }
  // The watcher dies while changes are still being made: its successor waits for the Lease to
  // expire, then resumes from the checkpoint.
  await at((restarts + 1) / (restarts + 3));
  log(`killing the watcher (SIGKILL; ${done} changes so far); it is started again`);
  process.kill(watcher?.pid ?? 0, 'SIGKILL');
  await at((restarts + 2) / (restarts + 3));
  const emulator = stack.processes.find((p) => p.name === 'pubsub-emulator');
  log(`freezing the Pub/Sub emulator for ${pauseSeconds} s (SIGSTOP; ${done} changes so far)`);
  process.kill(emulator?.pid ?? 0, 'SIGSTOP');
  await sleep(pauseSeconds * 1000);
  process.kill(emulator?.pid ?? 0, 'SIGCONT');
  log(`the emulator is back (${done} changes so far)`);
  await writer;
  log(`${done} changes made; waiting for delivery`);

  // Every object's final state, from the API.
  const finalList = await configMaps.list({ namespace: ns, labelSelector: 'chaos=yes' });
  const final = new Map(
    finalList.items.map((o) => [o.metadata?.uid ?? '', o.metadata?.resourceVersion ?? '']),
  );
  const deliveredKey = () => new Set(delivered.map((d) => `${d.uid}/${d.rv}/${d.type}`));
  const deletedUids = () =>
    new Set(delivered.filter((d) => d.type === 'DELETED').map((d) => d.uid));
  // Objects whose final state (its last version, or its deletion) has not arrived yet.
  const finalMissing = () => {
    const versions = new Set(delivered.map((d) => `${d.uid}/${d.rv}`));
    const gone = deletedUids();
    const seen = new Set(delivered.map((d) => d.uid));
    const missing = [...final].filter(([uid, rv]) => !versions.has(`${uid}/${rv}`)).length;
    // A deletion is owed only for an object some message announced: one created and deleted
    // while the watcher was down existed in no list and no watch it could have read.
    const deletedMissing = made.filter(
      (m) => m.type === 'DELETED' && seen.has(m.uid) && !gone.has(m.uid),
    ).length;
    return missing + deletedMissing;
  };
  for (const deadline = Date.now() + 120_000; finalMissing() > 0 && Date.now() < deadline; )
    await sleep(500);
  pulling = false;
  await puller;
  clearInterval(sampler);

  // Every change: delivered as such, or merged by a relist into a later delivered version.
  const keys = deliveredKey();
  // Per object, what arrived, in version order: whether each came from a list.
  const arrivals = new Map<string, { rv: number; type: string; listed: boolean }[]>();
  for (const d of delivered)
    arrivals.set(d.uid, [
      ...(arrivals.get(d.uid) ?? []),
      { rv: Number(d.rv), type: d.type, listed: d.listed },
    ]);
  for (const list of arrivals.values()) list.sort((a, b) => a.rv - b.rv);
  // The first arrival after a change: a later version, or the deletion (an object's last event,
  // whatever version it carries: a relist reports a vanished object with the version it had).
  const nextArrival = (uid: string, rv: number) =>
    arrivals.get(uid)?.find((a) => a.rv > rv || a.type === 'DELETED');
  let exact = 0;
  let merged = 0;
  let lost = 0;
  const lose = (m: (typeof made)[number]) => {
    lost++;
    if (process.env.CHAOS_DEBUG && lost <= 40)
      log(`lost: ${JSON.stringify(m)}; arrived ${JSON.stringify(arrivals.get(m.uid) ?? [])}`);
  };
  for (const m of made) {
    if (keys.has(`${m.uid}/${m.rv}/${m.type}`)) exact++;
    else if (m.type === 'DELETED' && !arrivals.get(m.uid)?.length)
      merged++; // created and deleted inside one gap: in no list and no watch anyone could read
    else if (m.type === 'DELETED' && arrivals.get(m.uid)?.some((a) => a.type === 'DELETED'))
      exact++; // delivered with the version the list diff saw last
    else if (nextArrival(m.uid, Number(m.rv))?.listed) merged++;
    else lose(m);
  }
  const distinct = new Set(delivered.map((d) => `${d.uid}/${d.rv}/${d.type}`)).size;
  log(
    `${made.length} changes, ${delivered.length} messages (${delivered.length - distinct} duplicates)`,
  );
  log(
    `${exact} delivered as made, ${merged} merged into a later listed version by a relist, ${lost} lost`,
  );
  log(`final state: ${final.size} objects, ${finalMissing()} not delivered`);
  log(
    `watcher memory: max ${maxRssMiB.toFixed(0)} MiB RSS (bound ${memoryBoundMiB} MiB); started ${watcherStarts} times`,
  );
  log(`${((Date.now() - begun) / 1000).toFixed(0)} s in all`);
  const total = lost + finalMissing();
  if (maxRssMiB > memoryBoundMiB) log(`FAIL: memory above its bound`);
  console.log(`lost ${total}`);
  process.exitCode = total === 0 && maxRssMiB <= memoryBoundMiB ? 0 : 1;
  finished = true;
  process.kill(watcher?.pid ?? 0, 'SIGTERM');
  await supervisor;
  await admin.close();
} finally {
  await stack.stop();
}
