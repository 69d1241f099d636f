// The names the deployment and its tests share: the deployables (global or per cell), their
// sources, the names each gets on Google Cloud, the routes the deployment calls, the topics, and
// Pub/Sub's delivery settings.
import { topics, triggers } from '../subscriptions.ts';

/**
 * Once per deployment: the sign-up page and backend, placement, which knows every cell, and the
 * operator console (deployed when the spec has one: console.ts).
 */
export const globalFunctions = ['signup', 'placement', 'console'] as const;
export type GlobalFunction = (typeof globalFunctions)[number];
/** Once per cell, each acting on its own cell's cluster only. */
export const cellFunctions = ['provision', 'label', 'ingress-timeout'] as const;
export type CellFunction = (typeof cellFunctions)[number];
export const functionNames = [...cellFunctions, ...globalFunctions] as const;
export type FunctionName = (typeof functionNames)[number];
export const deployables = [...functionNames, 'watcher'] as const;
export type Deployable = (typeof deployables)[number];
/** What runs once per cell: the functions and the watcher, each a cluster identity. */
export type CellDeployable = CellFunction | 'watcher';

/**
 * A cell's Cloud Run service: `kubefn-<cell>-<deployable>`, at most 7 + 12 + 1 + 15 = 35
 * characters with the longest cell name (shared/cells.ts) and ingress-timeout; Cloud Run allows 49.
 * The global ones stay `kubefn-<name>`: a cell's always has two dashes more, so none collide.
 */
export const cellServiceName = (cell: string, name: CellDeployable) => `kubefn-${cell}-${name}`;
export const globalServiceName = (name: GlobalFunction) => `kubefn-${name}`;

export { cellAccountEmail, cellAccountId } from '../../shared/identities.ts';

/** Global accounts: the signup backend, placement, Pub/Sub push, Cloud Scheduler. */
export const globalAccounts = ['signup', 'placement', 'push', 'scheduler'] as const;
/** The operator console's account, made only with the console (infra/gcp/console.ts). */
export const consoleAccountId = 'kubefn-console';
export type GlobalAccount = (typeof globalAccounts)[number];
export const globalAccountId = (name: GlobalAccount) => `kubefn-${name}`;

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
  /** Scheduled checks: each cell's, and placement's round (functions/placement/resync.ts). */
  resync: '/resync',
  /** Provision's batches of a fanned-out scheduled check (functions/provision/fanout.ts). */
  resyncBatches: triggers.resyncBatches.route,
} as const;

/**
 * Each cell's provision's concurrency, capped: at most 3 instances of 10 requests each, so a
 * flood of sign-ups (or of anything else) reaches a cluster 30 at a time at most, the rest
 * answered 429 by Cloud Run (Pub/Sub pushes back off and retry). It also bounds how far sign-ups
 * of different customers at the same moment can pass the cell's backstop ceiling
 * (KUBEFN_MAX_TENANTS): at most 30 (functions/provision/handler.ts). Minimum instances (spec.ts)
 * cannot pass the maximum.
 */
export const provisionCapacity = { maxInstances: 3, concurrency: 10 } as const;

/**
 * Placement, in front of every cell: a sign-up waits there for its cell's provision, so it holds
 * up to one request per provision slot of every cell; beyond, Cloud Run answers 429 as above.
 */
export const placementCapacity = { maxInstances: 10, concurrency: 10 } as const;

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
