// The names the deployment and its tests share: the deployables, their sources, the routes the
// deployment calls, the topics, and Pub/Sub's delivery settings.
import { topics, triggers } from '../subscriptions.ts';

export const functionNames = ['provision', 'label', 'ingress-timeout', 'signup'] as const;
export type FunctionName = (typeof functionNames)[number];
export type Deployable = FunctionName | 'watcher';

/** A function's source: its bundle folder (uploaded as a zip) and the Functions Framework target. */
export type FunctionSource = { dir: string; sha256: string; target: string };
/** The watcher's source: a tar.gz of its bundle with node_modules, run as `node index.mjs`. */
export type WatcherSource = { archive: string; sha256: string };
export type Sources = Record<FunctionName, FunctionSource> & { watcher: WatcherSource };

/**
 * The routes the deployment calls (each function's app.ts serves them; env.test.ts checks). The
 * push routes are the triggers' (infra/subscriptions.ts); /resync is Cloud Scheduler's.
 */
export const routes = {
  /** Label requests' and Ingress changes' route. */
  push: triggers.labelRequests.route,
  resync: '/resync',
  /** Provision's batches of a fanned-out scheduled check (functions/provision/fanout.ts). */
  resyncBatches: triggers.resyncBatches.route,
} as const;

/** The watcher's health endpoint that answers before it holds the Lease (functions/watcher/health.ts). */
export const livenessPath = '/livez';

/** The topics, as infra/subscriptions.ts names them for the local stack and Google Cloud. */
export const topicNames = topics;

// Pub/Sub delivery: how long a push may take (also its HTTP timeout, so each service's request
// timeout is longer), backoff between redeliveries, and attempts before the dead-letter topic.
export const delivery = {
  ackDeadlineSeconds: 120,
  minimumBackoff: '10s',
  maximumBackoff: '600s',
  maxDeliveryAttempts: 10,
  deadLetterRetention: '604800s', // 7 days, Pub/Sub's maximum
} as const;
