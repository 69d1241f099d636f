// kubefn's production deployment on Google Cloud, as Pulumi resources: a pure function of the
// deployment spec (spec.ts) and the deploy sources (sources.ts). It reads no config, files or
// clock, so the unit tests run it under Pulumi's mocks and check its invariants.
//
//   accounts.ts    one service account per deployable, plus push and scheduler; custom roles
//   artifacts.ts   the source bucket, and each service's container: its archive on the base image
//   functions.ts   provision, label, ingress-timeout, signup on Cloud Run, and their invokers
//   env.ts         what each deployable's settings reader gets
//   pubsub.ts      topics, push subscriptions, the dead-letter topic
//   scheduler.ts   the /resync jobs
//   watcher.ts     the watcher on Cloud Run
import { defineAccounts } from './accounts.ts';
import { defineArtifacts } from './artifacts.ts';
import { createContext } from './context.ts';
import { defineFunctions } from './functions.ts';
import { type FunctionName, functionNames, type Sources } from './names.ts';
import { definePubsub } from './pubsub.ts';
import { defineScheduler } from './scheduler.ts';
import type { DeploymentSpec } from './spec.ts';
import { defineWatcher } from './watcher.ts';

export function defineKubefn(spec: DeploymentSpec, sources: Sources) {
  const ctx = createContext(spec);
  const accounts = defineAccounts(ctx);
  const artifacts = defineArtifacts(ctx);
  const functions = defineFunctions(ctx, accounts, artifacts, sources);
  const pubsub = definePubsub(ctx, accounts, functions);
  const jobs = defineScheduler(ctx, accounts, functions);
  const watcher = defineWatcher(
    ctx,
    accounts,
    artifacts,
    sources.watcher,
    pubsub.topics.changes.name,
  );
  return {
    accounts,
    audiences: Object.fromEntries(functionNames.map((n) => [n, ctx.audience(n)])) as Record<
      FunctionName,
      string
    >,
    services: { ...functions.services, watcher },
    ...pubsub,
    jobs,
  };
}
