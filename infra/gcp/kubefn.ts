// kubefn's production deployment on Google Cloud, as Pulumi resources: a pure function of the
// deployment spec (spec.ts) and the deploy sources (sources.ts). It reads no config, files or
// clock, so the unit tests run it under Pulumi's mocks and check its invariants.
//
// Global, once: the sign-up page and backend, placement and its Firestore database, the topics,
// the push and scheduler identities. Per cell (spec.cells): provision, label, ingress-timeout and
// a watcher in the cell's region, each with its own account, reaching the cell's cluster only;
// the cell's push subscriptions and Scheduler jobs.
//
//   accounts.ts    the global accounts, each cell's, and the project-level grants
//   artifacts.ts   the source bucket, and each service's container: its archive on the base image
//   firestore.ts   placement's store
//   functions.ts   signup and placement, each cell's functions on Cloud Run, and their invokers
//   env.ts         what each deployable's settings reader gets
//   pubsub.ts      topics, push subscriptions (per cell, or global), the dead-letter topic
//   console.ts     the operator console's subscriptions and Pub/Sub grants (when it has one)
//   scheduler.ts   each cell's /resync jobs, placement's /resync job
//   watcher.ts     a cell's watcher on Cloud Run
//   metrics.ts     log-based metrics over the deployables' lines; alerts.ts, the alert policies
//   tracing.ts     spec.tracing: KUBEFN_TRACING for every deployable, the Cloud Trace agent role
import { defineAccounts } from './accounts.ts';
import { defineAlerts } from './alerts.ts';
import { defineArtifacts } from './artifacts.ts';
import { defineConsolePubsub } from './console.ts';
import { createContext } from './context.ts';
import { defineFirestore } from './firestore.ts';
import { defineFunctions } from './functions.ts';
import { defineMetrics } from './metrics.ts';
import type { Sources } from './names.ts';
import { definePubsub } from './pubsub.ts';
import { defineScheduler } from './scheduler.ts';
import type { DeploymentSpec } from './spec.ts';
import { defineTracing, deployableAccounts } from './tracing.ts';
import { defineWatcher } from './watcher.ts';

export function defineKubefn(spec: DeploymentSpec, sources: Sources) {
  const ctx = createContext(spec);
  const accounts = defineAccounts(ctx);
  const artifacts = defineArtifacts(ctx);
  const store = defineFirestore(ctx);
  const functions = defineFunctions(ctx, accounts, artifacts, sources, store);
  const pubsub = definePubsub(ctx, accounts, functions);
  const operatorConsole = defineConsolePubsub(ctx, accounts, pubsub);
  const jobs = defineScheduler(ctx, accounts, functions);
  const metrics = defineMetrics(ctx);
  const tracing = defineTracing(ctx, deployableAccounts(accounts));
  const alerts = defineAlerts(ctx, metrics);
  const cells = Object.fromEntries(
    spec.cells.map((cell) => [
      cell.name,
      {
        ...functions.cells[cell.name],
        watcher: defineWatcher(
          ctx,
          cell,
          accounts.cell(cell.name),
          artifacts,
          sources.watcher,
          pubsub.topics.changes.name,
        ),
      },
    ]),
  );
  return {
    accounts,
    audiences: {
      ...Object.fromEntries(
        (['signup', 'placement'] as const).map((name) => [name, ctx.audience(name)]),
      ),
      cells: Object.fromEntries(
        spec.cells.map((cell) => [
          cell.name,
          Object.fromEntries(
            (['provision', 'label', 'ingress-timeout'] as const).map((name) => [
              name,
              ctx.cellAudience(cell.name, name),
            ]),
          ),
        ]),
      ),
    },
    services: { ...functions.global, cells },
    store,
    ...pubsub,
    jobs,
    ...(operatorConsole ? { console: operatorConsole } : {}),
    metrics,
    alerts,
    tracing,
  };
}
