// The scheduled check beyond one instance: when there are more tenants than one batch
// (KUBEFN_RESYNC_BATCH, default 500), the scheduled call lists the tenants and publishes them in
// batches to KUBEFN_RESYNC_TOPIC, and answers 202 with the job; Pub/Sub pushes each batch to
// POST /pubsub/resync, which Cloud Run scales out. A batch is the same check for its customers
// only (the lists selected by `kubefn.dev/customer in (...)`), so a redelivered or duplicated
// batch changes nothing twice. Progress is one log line per batch, with the job's id.
//
// The Pub/Sub client is loaded only when a job fans out (shared/pubsub/publisher.ts): the
// function's cold start does not load it.
import { randomUUID } from 'node:crypto';
import * as v from 'valibot';
import { jsonLogger as log } from '../../shared/log.ts';
import type { Publish } from '../../shared/pubsub/publisher.ts';
import type { ProvisionDeps } from './handler.ts';
import { listTenants, type ResyncAnswer, resyncTenants } from './resync.ts';
import { CustomerIdSchema } from './schema.ts';
import type { RecordedTenant } from './tenant.ts';

export const ResyncBatchSchema = v.strictObject({
  job: v.pipe(v.string(), v.maxLength(100)),
  batch: v.pipe(v.number(), v.integer(), v.minValue(1)),
  batches: v.pipe(v.number(), v.integer(), v.minValue(1)),
  customers: v.pipe(v.array(CustomerIdSchema), v.minLength(1), v.maxLength(1000)),
});
export type ResyncBatch = v.InferOutput<typeof ResyncBatchSchema>;

export type FanOut = { batchSize: number; publish: (batch: ResyncBatch) => Promise<void> };

/** Checks every tenant here, or hands them to Pub/Sub in batches when there are too many. */
export async function scheduledResync(
  deps: ProvisionDeps & { fanOut: FanOut | undefined },
): Promise<ResyncAnswer | { job: string; tenants: number; batches: number }> {
  const tenants = await listTenants(deps);
  logTenantCounts(tenants);
  const { fanOut } = deps;
  if (!fanOut || tenants.length <= fanOut.batchSize) {
    const answer = await resyncTenants(deps, { tenants });
    logCheck(answer);
    return answer;
  }
  const customers = tenants.map((tenant) => tenant.customerId);
  const job = `resync-${new Date().toISOString()}-${randomUUID().slice(0, 8)}`;
  const batches = Math.ceil(customers.length / fanOut.batchSize);
  // All batches are published before the answer: a failure to publish fails the call, and
  // Cloud Scheduler's retry publishes the job again (each batch is idempotent).
  await Promise.all(
    Array.from({ length: batches }, (_, i) =>
      fanOut.publish({
        job,
        batch: i + 1,
        batches,
        customers: customers.slice(i * fanOut.batchSize, (i + 1) * fanOut.batchSize),
      }),
    ),
  );
  log('INFO', 'resync fanned out', { job, tenants: customers.length, batches });
  return { job, tenants: customers.length, batches };
}

/** One pushed batch: the check for its customers, and a progress line. */
export async function resyncBatch(batch: ResyncBatch, deps: ProvisionDeps) {
  const answer = await resyncTenants(deps, { customers: batch.customers });
  logCheck(answer, batch.job);
  log(answer.counts.failed ? 'WARNING' : 'INFO', 'resync batch done', {
    job: batch.job,
    batch: `${batch.batch}/${batch.batches}`,
    ...answer.counts,
  });
  return { outcome: 'done', job: batch.job, batch: batch.batch, ...answer };
}

/**
 * Tenants by phase and plan, one line per pair, as listed at each scheduled check: the gauge
 * kubefn/tenants (infra/gcp/metrics.ts) reads them. Phase as the list tells it: Terminating,
 * Suspended, or Active (running; whether ready is each tenant's own status, GET /tenants/:id).
 */
export function tenantCounts(
  tenants: RecordedTenant[],
): { phase: string; plan: string; tenants: number }[] {
  const counts = new Map<string, { phase: string; plan: string; tenants: number }>();
  for (const tenant of tenants) {
    const phase = tenant.terminating ? 'Terminating' : tenant.suspended ? 'Suspended' : 'Active';
    const key = `${phase}/${tenant.plan}`;
    const count = counts.get(key) ?? { phase, plan: tenant.plan, tenants: 0 };
    count.tenants++;
    counts.set(key, count);
  }
  return [...counts.values()];
}

function logTenantCounts(tenants: RecordedTenant[]): void {
  for (const count of tenantCounts(tenants)) log('INFO', 'tenants counted', count);
}

/** One line per check (or batch): the repairs kubefn/resync_repairs sums. */
function logCheck(answer: ResyncAnswer, job?: string): void {
  const repairedObjects = answer.tenants.reduce((sum, t) => sum + t.repaired.length, 0);
  log('INFO', 'tenants checked', {
    job,
    unchanged: answer.counts.unchanged,
    repairedTenants: answer.counts.repaired,
    repairedObjects,
    failed: answer.counts.failed,
    unavailable: answer.counts.unavailable,
  });
}

/** A batch as the message that carries it (shared/pubsub/publisher.ts publishes it). */
/** Each batch names its cell (`cluster`): only that cell's provision subscribes to it. */
export function resyncPublisher(publish: Publish, cell: string): FanOut['publish'] {
  return async (batch) => {
    await publish({
      data: Buffer.from(JSON.stringify(batch)),
      attributes: {
        job: batch.job,
        batch: String(batch.batch),
        batches: String(batch.batches),
        cluster: cell,
      },
    });
  };
}
