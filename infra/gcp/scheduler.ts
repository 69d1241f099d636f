// Cloud Scheduler: every cell's /resync jobs (its provision's tenant check, its ingress-timeout's
// Ingress check), in the cell's region, and placement's /resync (a round of moves for each cell an
// operator drains, and records of deleted tenants forgotten), in the deployment's region; each
// called with an OIDC token of the scheduler account whose audience is the target's custom
// audience.
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { Accounts } from './accounts.ts';
import type { Context } from './context.ts';
import type { defineFunctions } from './functions.ts';
import { cellServiceName, routes } from './names.ts';

export function defineScheduler(
  ctx: Context,
  accounts: Accounts,
  { cells, global, invokerGrants }: ReturnType<typeof defineFunctions>,
) {
  const { project, spec } = ctx;
  const opts = { ...ctx.opts, dependsOn: [...ctx.enabled, ...invokerGrants] };
  const placementResync = new gcp.cloudscheduler.Job(
    'placement-resync',
    {
      project,
      region: ctx.region,
      name: 'kubefn-placement-resync',
      schedule: spec.schedules.placementResync,
      timeZone: spec.schedules.timeZone,
      attemptDeadline: '600s',
      // A round that failed is the next minute's: no retries piling up behind it.
      retryConfig: { retryCount: 0 },
      httpTarget: {
        uri: pulumi.interpolate`${global.placement.uri}${routes.resync}`,
        httpMethod: 'POST',
        oidcToken: {
          serviceAccountEmail: accounts.scheduler.email,
          audience: ctx.audience('placement'),
        },
      },
    },
    opts,
  );
  const perCell = Object.fromEntries(
    spec.cells.map((cell) => {
      const resyncJob = (target: 'provision' | 'ingress-timeout', schedule: string) =>
        new gcp.cloudscheduler.Job(
          `${cell.name}-resync-${target}`,
          {
            project,
            region: cell.region,
            name: `${cellServiceName(cell.name, target)}-resync`,
            schedule,
            timeZone: spec.schedules.timeZone,
            attemptDeadline: '600s', // the services' request timeout
            retryConfig: { retryCount: 3, minBackoffDuration: '30s', maxBackoffDuration: '300s' },
            httpTarget: {
              uri: pulumi.interpolate`${cells[cell.name]?.[target].uri}${routes.resync}`,
              httpMethod: 'POST',
              oidcToken: {
                serviceAccountEmail: accounts.scheduler.email,
                audience: ctx.cellAudience(cell.name, target),
              },
            },
          },
          opts,
        );
      return [
        cell.name,
        {
          provision: resyncJob('provision', spec.schedules.provisionResync),
          ingressTimeout: resyncJob('ingress-timeout', spec.schedules.ingressTimeoutResync),
        },
      ];
    }),
  );
  return { cells: perCell, placementResync };
}
