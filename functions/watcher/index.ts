// The watcher deployable: a long-running process (Cloud Run, one instance) that list-watches the
// configured resources and relays every change to Pub/Sub, at least once (ChangeRelayService,
// service.ts). Leader election keeps one active; health endpoints serve Cloud Run's probes; on
// SIGTERM it stops reading, flushes what is in flight, saves its checkpoint, releases the Lease
// and exits within 10 seconds.
import { hostname } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { connectCluster } from '../../shared/kube/index.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { flushSpans } from '../../shared/trace/span.ts';
import { watcherConfig } from './config.ts';
import { healthServer } from './health.ts';
import { heartbeatMs, publishingHeartbeat } from './heartbeat.ts';
import { createPublisher } from './publisher.ts';
import { ChangeRelayService } from './service.ts';

const exitBudgetMs = 9_500; // Cloud Run kills at 10 s

// A first start lists and publishes every object, and V8 lets its heap grow to several times what
// is live between collections (its default growing factor goes up to 4): measured, 12,000
// objects through one relay and the real Pub/Sub client (emulator), peak RSS 306-308 MiB with
// 35 MiB live after a full collection; with the heap allowed to grow by 20% a time, 195-202 MiB
// for 25-35% more CPU (--optimize-for-size: 141-143 MiB, twice the CPU). Set here, where it
// reaches every way the watcher is started; V8 reads this flag at each collection, and it is a
// growth rate, not a ceiling: a larger cell collects more often, it does not run out.
setFlagsFromString('--heap-growing-percent=20');

const config = watcherConfig(process.env);
const cluster = await connectCluster(config.connection);
const service = new ChangeRelayService({
  config,
  cluster,
  identity: `${hostname()}-${process.pid}`,
  publisher: () => createPublisher({ projectId: config.projectId, topic: config.topic, log }),
  log,
  onLeaseLost: () => void shutdown('lost the lease'),
});
const health = healthServer(() => service.status());
health.listen(config.port);
setInterval(
  publishingHeartbeat(() => service.status(), config.cluster, log),
  heartbeatMs,
).unref();

let exiting = false;
async function shutdown(reason: string): Promise<void> {
  if (exiting) return;
  exiting = true;
  log('INFO', 'stopping', { reason });
  setTimeout(() => process.exit(1), exitBudgetMs).unref();
  await service.stop(exitBudgetMs);
  // The last changes' spans, when tracing is on (within the same exit budget).
  await flushSpans().catch(() => {});
  health.close();
  log('INFO', 'stopped', { reason });
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

service.start().catch((error: Error) => {
  log('ERROR', 'relay did not start', { detail: error.message });
  process.exit(1);
});
