// The names the deployment and its tests share: the deployables, their sources, the routes the
// deployment calls, the topics, and Pub/Sub's delivery settings.
import { topics, triggers } from '../subscriptions.ts';

export const functionNames = ['provision', 'label', 'ingress-timeout', 'signup'] as const;
export type FunctionName = (typeof functionNames)[number];
export const deployables = [...functionNames, 'watcher'] as const;
export type Deployable = (typeof deployables)[number];

/**
 * A deployable's source: a tar.gz of its bundle with node_modules (sources.ts), the bundle's
 * sha256, and the command that starts it from the archive's root (`node <file> ...args`).
 */
export type DeploySource = { archive: string; sha256: string; command: string[] };
export type Sources = Record<Deployable, DeploySource>;

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

/**
 * Provision's own concurrency, capped: at most 3 instances of 10 requests each, so a flood of
 * sign-ups (or of anything else) reaches the cluster 30 at a time at most, the rest answered 429
 * by Cloud Run (Pub/Sub pushes back off and retry). It also bounds how far sign-ups of different
 * customers at the same moment can pass the ceiling on all tenants (KUBEFN_MAX_TENANTS): at most
 * 30 (functions/provision/handler.ts). Its minimum instances (spec.ts) cannot pass the maximum.
 */
export const provisionCapacity = { maxInstances: 3, concurrency: 10 } as const;

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
  // 7 days for an operator to look and replay (npm run dead-letters); Pub/Sub allows up to 31.
  deadLetterRetention: '604800s',
} as const;
