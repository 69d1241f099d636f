// The watcher: a Cloud Run service with exactly one instance, CPU always allocated, internal
// ingress, no default URL and no invokers (nobody calls it; Cloud Run's probes need neither).
// It runs without a build: the archive holds index.mjs and its node_modules (sources.ts).
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { Accounts } from './accounts.ts';
import type { Artifacts } from './artifacts.ts';
import type { Context } from './context.ts';
import { envList, watcherEnv } from './env.ts';
import { livenessPath, type WatcherSource } from './names.ts';

export function defineWatcher(
  ctx: Context,
  accounts: Accounts,
  artifacts: Artifacts,
  source: WatcherSource,
  topic: pulumi.Input<string>,
) {
  const { project, region, spec } = ctx;
  const archive = new pulumi.asset.FileAsset(source.archive);
  const object = artifacts.sourceObject('watcher', source.sha256, 'tar.gz', archive);
  // /livez, not /readyz: readiness waits for the Lease, which the old revision holds until it
  // is stopped, which happens only once the new one is ready. A deadlock.
  const probe = { httpGet: { path: livenessPath }, periodSeconds: 10, timeoutSeconds: 5 };
  return new gcp.cloudrunv2.Service(
    'watcher',
    {
      project,
      location: region,
      name: 'kubefn-watcher',
      ingress: 'INGRESS_TRAFFIC_INTERNAL_ONLY',
      defaultUriDisabled: true,
      invokerIamDisabled: false,
      deletionProtection: spec.deletionProtection,
      template: {
        serviceAccount: accounts.watcher.email,
        // One instance, always on; during a rollout the Lease keeps the second one standing by.
        scaling: { minInstanceCount: 1, maxInstanceCount: 1 },
        containers: [
          {
            image: 'scratch',
            baseImageUri: artifacts.baseImage,
            commands: ['node'],
            args: ['index.mjs'],
            sourceCode: {
              cloudStorageSource: {
                bucket: artifacts.bucket.name,
                object: object.name,
                generation: object.generation.apply(String),
              },
            },
            envs: envList(watcherEnv(ctx, topic)),
            resources: {
              limits: { cpu: '1', memory: '512Mi' },
              cpuIdle: false, // it works between requests: it has none
              startupCpuBoost: true,
            },
            startupProbe: { ...probe, failureThreshold: 6 },
            livenessProbe: { ...probe, failureThreshold: 3 },
          },
        ],
      },
    },
    ctx.afterApis,
  );
}
