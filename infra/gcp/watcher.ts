// A cell's watcher, one per cell: in the cell's region, as the cell's own watcher account,
// watching the cell's cluster only and naming the cell on every message (KUBEFN_CELL). A Cloud
// Run service with exactly one instance, CPU always allocated, internal ingress and no invokers (nobody calls it; Cloud Run's probes need neither). Its default URL
// stays: disabling it needs a preview launch stage, and internal ingress with no invoker already
// refuses every caller. Like the functions, it runs its own archive with no build (artifacts.ts).
import * as gcp from '@pulumi/gcp';
import type * as pulumi from '@pulumi/pulumi';
import type { CellAccounts } from './accounts.ts';
import type { Artifacts } from './artifacts.ts';
import type { Context } from './context.ts';
import { envList, watcherEnv } from './env.ts';
import { cellServiceName, type DeploySource, livenessPath } from './names.ts';
import type { CellSpec } from './spec.ts';
import { tracingEnv } from './tracing.ts';

export function defineWatcher(
  ctx: Context,
  cell: CellSpec,
  accounts: CellAccounts,
  artifacts: Artifacts,
  source: DeploySource,
  topic: pulumi.Input<string>,
) {
  const { project, spec } = ctx;
  // /livez, not /readyz: readiness waits for the Lease, which the old revision holds until it
  // is stopped, which happens only once the new one is ready. A deadlock.
  const probe = { httpGet: { path: livenessPath }, periodSeconds: 10, timeoutSeconds: 5 };
  return new gcp.cloudrunv2.Service(
    `${cell.name}-watcher`,
    {
      project,
      location: cell.region,
      name: cellServiceName(cell.name, 'watcher'),
      ingress: 'INGRESS_TRAFFIC_INTERNAL_ONLY',
      invokerIamDisabled: false,
      deletionProtection: spec.deletionProtection,
      template: {
        serviceAccount: accounts.watcher.email,
        // One instance, always on; during a rollout the Lease keeps the second one standing by.
        scaling: { minInstanceCount: 1, maxInstanceCount: 1 },
        containers: [
          {
            ...artifacts.sourceContainer('watcher', source, cell.region),
            envs: envList({ ...tracingEnv(ctx), ...watcherEnv(ctx, cell, topic) }),
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
