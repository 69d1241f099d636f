// The watcher: a long-running process (Cloud Run, one instance) that list-watches the configured
// resources and forwards every change to Pub/Sub, at least once. Leader election keeps one
// active; health endpoints serve Cloud Run's probes; on SIGTERM it stops reading, flushes what is
// in flight, saves its checkpoint, releases the Lease and exits within 10 seconds.
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { Cluster } from '../../shared/kube/index.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { type Checkpoint, CheckpointStore } from './checkpoint.ts';
import { targetKey, watcherConfig } from './config.ts';
import { LeaderElector } from './leader.ts';
import { toMessage } from './message.ts';
import { createPublisher } from './publisher.ts';
import { Relay } from './relay.ts';

const config = watcherConfig(process.env);
const identity = `${hostname()}-${process.pid}`;
const cluster = await Cluster.connect();
const stopping = new AbortController();
const relays = new Map<string, Relay>();
// When the checkpoint was last saved, and the last error since: shown on /status.
let checkpointStatus: { savedAt?: string; error?: string } = {};
// Set once this instance leads; a standby that is stopped has nothing to flush or save.
let active:
  | {
      runs: Promise<void>[];
      save: () => Promise<void>;
      saver: NodeJS.Timeout;
      close: () => Promise<void>;
    }
  | undefined;
const elector = new LeaderElector(cluster, {
  namespace: config.systemNamespace,
  name: config.name,
  identity,
  leaseDurationSeconds: config.leaseSeconds,
  log,
});

const health = createServer((req, res) => {
  const all = [...relays.values()];
  const ready = elector.leader && all.length > 0 && all.every((r) => r.status.synced);
  const answer = (status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (req.url === '/livez') return answer(200, { ok: true });
  if (req.url === '/readyz') return answer(ready ? 200 : 503, { ready, leader: elector.leader });
  if (req.url === '/status') {
    return answer(200, {
      identity,
      leader: elector.leader,
      checkpoint: checkpointStatus,
      resources: Object.fromEntries(
        [...relays].map(([key, r]) => [key, { ...r.status, lagMs: r.lagMs }]),
      ),
    });
  }
  answer(404, { error: 'not-found' });
});
health.listen(config.port);

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

await elector.acquire(stopping.signal).catch(() => process.exit(0));
const store = new CheckpointStore(cluster, config.systemNamespace, `${config.name}-state`);
const checkpoints: Map<string, Checkpoint> = await store.load();
const publisher = createPublisher({ projectId: config.projectId, topic: config.topic, log });
const runs = config.targets.map(async (target) => {
  const key = targetKey(target);
  const checkpoint = checkpoints.get(key) ?? { resourceVersion: undefined, objects: new Map() };
  checkpoints.set(key, checkpoint);
  const resource = cluster.resource({ apiVersion: target.apiVersion, kind: target.kind });
  const info = await resource.info();
  const relay = new Relay({
    resource,
    scope: { namespace: target.namespace, labelSelector: target.labelSelector },
    checkpoint,
    toMessage: (change) => toMessage(info, change, config.cluster),
    publish: (message) => publisher.publish(message, stopping.signal),
    window: config.window,
    signal: stopping.signal,
    onRetry: (error, delayMs) =>
      log('WARNING', 'watch interrupted; recovering', {
        resource: key,
        reason: error.code,
        delayMs: Math.round(delayMs),
      }),
  });
  relays.set(key, relay);
  log('INFO', 'watching', {
    resource: key,
    resumeFrom: checkpoint.resourceVersion ?? 'a fresh list',
  });
  await relay.run();
});
void elector.keep(stopping.signal, () => void shutdown('lost the lease'));

// The checkpoint is saved every second while it moves, and once more on the way out.
let saved = '';
const save = async (): Promise<void> => {
  const now = JSON.stringify(
    [...checkpoints].map(([k, c]) => [k, c.resourceVersion, c.objects.size]),
  );
  if (now === saved) return;
  await store.save(checkpoints).then(
    () => {
      saved = now;
      checkpointStatus = { savedAt: new Date().toISOString() };
    },
    (error: Error) => {
      checkpointStatus = { ...checkpointStatus, error: error.message };
      log('ERROR', 'checkpoint not saved', { detail: error.message });
    },
  );
};
active = {
  runs,
  save,
  saver: setInterval(() => void save(), 1000),
  close: () => publisher.close(),
};

async function shutdown(reason: string): Promise<void> {
  if (stopping.signal.aborted) return;
  log('INFO', 'stopping', { reason });
  setTimeout(() => process.exit(1), 9_500).unref(); // Cloud Run kills at 10 s
  stopping.abort();
  if (active) {
    clearInterval(active.saver);
    // What is in flight may still be acknowledged; give it most of the budget.
    await Promise.race([Promise.allSettled(active.runs), new Promise((r) => setTimeout(r, 6_000))]);
    await active.save();
    await Promise.race([active.close(), new Promise((r) => setTimeout(r, 1_000))]).catch(() => {});
    await elector.release();
  }
  health.close();
  log('INFO', 'stopped', { reason });
  process.exit(0);
}
