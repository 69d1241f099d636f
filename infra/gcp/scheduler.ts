// Cloud Scheduler: every /resync, called with an OIDC token of the scheduler account whose
// audience is the target's custom audience.
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { Accounts } from './accounts.ts';
import type { Context } from './context.ts';
import type { defineFunctions } from './functions.ts';
import { routes } from './names.ts';

export function defineScheduler(
  ctx: Context,
  accounts: Accounts,
  { services, invokerGrants }: ReturnType<typeof defineFunctions>,
) {
  const { project, region, spec } = ctx;
  const resyncJob = (target: 'provision' | 'ingress-timeout', schedule: string) =>
    new gcp.cloudscheduler.Job(
      `resync-${target}`,
      {
        project,
        region,
        name: `kubefn-${target}-resync`,
        schedule,
        timeZone: spec.schedules.timeZone,
        attemptDeadline: '600s', // the services' request timeout
        retryConfig: { retryCount: 3, minBackoffDuration: '30s', maxBackoffDuration: '300s' },
        httpTarget: {
          uri: pulumi.interpolate`${services[target].uri}${routes.resync}`,
          httpMethod: 'POST',
          oidcToken: {
            serviceAccountEmail: accounts.scheduler.email,
            audience: ctx.audience(target),
          },
        },
      },
      { ...ctx.opts, dependsOn: [...ctx.enabled, ...invokerGrants] },
    );
  return {
    provision: resyncJob('provision', spec.schedules.provisionResync),
    ingressTimeout: resyncJob('ingress-timeout', spec.schedules.ingressTimeoutResync),
  };
}
