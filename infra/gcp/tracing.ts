// Tracing on Google Cloud (docs/tracing.md): spec.tracing `cloud-trace` gives every deployable
// KUBEFN_TRACING=cloud-trace (spans over OTLP to Cloud Trace's endpoint, telemetry.googleapis.com,
// shared/trace/otlp.ts) with GOOGLE_CLOUD_PROJECT, grants each deployable's account
// roles/cloudtrace.agent on the project (it holds telemetry.traces.write, what that endpoint
// checks) and enables the Telemetry and Cloud Trace APIs. `off`, the default: none of it, and
// the deployables write only their log lines' trace fields.
import * as gcp from '@pulumi/gcp';
import type { Accounts } from './accounts.ts';
import type { Context } from './context.ts';
import type { Env } from './env.ts';

export const tracingModes = ['off', 'cloud-trace'] as const;
export const tracingRole = 'roles/cloudtrace.agent';

/** What every deployable's environment gets for the spec's tracing. */
export function tracingEnv(ctx: Context): Env {
  return ctx.spec.tracing === 'cloud-trace'
    ? { KUBEFN_TRACING: 'cloud-trace', GOOGLE_CLOUD_PROJECT: ctx.project }
    : {};
}

/** The role for each account a deployable runs as, and the APIs; nothing when off. */
export function defineTracing(
  ctx: Context,
  runAs: { key: string; account: gcp.serviceaccount.Account }[],
) {
  if (ctx.spec.tracing !== 'cloud-trace') return { apis: [], grants: [] };
  const apis = ['telemetry.googleapis.com', 'cloudtrace.googleapis.com'].map(
    (service) =>
      new gcp.projects.Service(
        `api-${service.split('.')[0]}`,
        { project: ctx.project, service, disableOnDestroy: false, disableDependentServices: false },
        ctx.opts,
      ),
  );
  const grants = runAs.map(
    ({ key, account }) =>
      new gcp.projects.IAMMember(
        `trace-agent-${key}`,
        { project: ctx.project, role: tracingRole, member: ctx.member(account) },
        { ...ctx.opts, dependsOn: [...ctx.enabled, ...apis] },
      ),
  );
  return { apis, grants };
}

/** The accounts the deployables run as: signup, placement, the console's, each cell's four. */
export function deployableAccounts(accounts: Accounts) {
  return [
    { key: 'signup', account: accounts.signup },
    { key: 'placement', account: accounts.placement },
    ...(accounts.console ? [{ key: 'console', account: accounts.console }] : []),
    ...Object.entries(accounts.cells).flatMap(([cell, own]) =>
      Object.entries(own).map(([identity, account]) => ({ key: `${cell}-${identity}`, account })),
    ),
  ];
}
