// The watcher deployable: a long-running process (Cloud Run, one instance) that list-watches the
// configured resources and relays every change to Pub/Sub, at least once (ChangeRelayService,
// service.ts). Leader election keeps one active; health endpoints serve Cloud Run's probes; on
// SIGTERM it stops reading, flushes what is in flight, saves its checkpoint, releases the Lease
// and exits within 10 seconds.
import { hostname } from 'node:os';
import { connectCluster } from '../../shared/kube/index.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { flushSpans } from '../../shared/trace/span.ts';
import { watcherConfig } from './config.ts';
import { healthServer } from './health.ts';
import { createPublisher } from './publisher.ts';
import { ChangeRelayService } from './service.ts';

const exitBudgetMs = 9_500; // Cloud Run kills at 10 s

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
