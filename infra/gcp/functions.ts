// The functions as Cloud Run services (Cloud Run Admin API), each running its own archive on the
// nodejs22 base image with no build (artifacts.ts), and who may invoke each: exactly the
// principals on the function's own allow-lists (env.ts), no one else.
//
// Global, once: signup (the page and its backend) and placement, in the deployment's region.
// Per cell: provision, label and ingress-timeout in the cell's region, each as the cell's own
// account. The only invoker grant across cells is placement's on each cell's provision.
import * as gcp from '@pulumi/gcp';
import type * as pulumi from '@pulumi/pulumi';
import type { Accounts } from './accounts.ts';
import type { Artifacts } from './artifacts.ts';
import type { Context } from './context.ts';
import {
  consoleEnv,
  type Env,
  envList,
  ingressTimeoutEnv,
  labelEnv,
  placementEnv,
  provisionEnv,
  signupEnv,
} from './env.ts';
import {
  type CellFunction,
  cellServiceName,
  type FunctionName,
  type GlobalFunction,
  globalServiceName,
  placementCapacity,
  provisionCapacity,
  type Sources,
} from './names.ts';
import { tracingEnv } from './tracing.ts';

type FunctionOptions = {
  env: Env;
  /** The service's name, region, account and custom audience. */
  name: string;
  region: string;
  account: gcp.serviceaccount.Account;
  audience: string;
  /** Cloud Run's IAM check off: anyone may call (the public page). */
  public?: boolean;
  /**
   * Who can reach the service at all, before IAM. Same-project Pub/Sub push and Cloud Scheduler
   * count as internal (Cloud Run's ingress docs); browsers, Cloud Run calling Cloud Run (the
   * signup backend, placement) without VPC egress, and callers outside Google Cloud do not.
   */
  internal: boolean;
  minInstances?: number;
  /** At most this many instances (default 10), each serving at most `concurrency` requests. */
  maxInstances?: number;
  concurrency?: number;
  /** The request timeout: longer than a push's ack deadline (Pub/Sub's HTTP timeout). */
  timeout: string;
};

export type CellServices = Record<CellFunction, gcp.cloudrunv2.Service>;

export function defineFunctions(
  ctx: Context,
  accounts: Accounts,
  artifacts: Artifacts,
  sources: Sources,
  /** Placement's database: its first revision starts once the database exists. */
  store: gcp.firestore.Database,
) {
  const { project, spec, opts, member } = ctx;

  const functionService = (
    key: string,
    source: FunctionName,
    o: FunctionOptions,
    dependsOn: pulumi.Resource[] = [],
  ) =>
    new gcp.cloudrunv2.Service(
      key,
      {
        project,
        location: o.region,
        name: o.name,
        ingress: o.internal ? 'INGRESS_TRAFFIC_INTERNAL_ONLY' : 'INGRESS_TRAFFIC_ALL',
        // One constant is the service's audience, its KUBEFN_AUTH_AUDIENCE and every token's aud.
        customAudiences: [o.audience],
        invokerIamDisabled: o.public === true,
        deletionProtection: spec.deletionProtection,
        template: {
          serviceAccount: o.account.email,
          timeout: o.timeout,
          scaling: {
            minInstanceCount: o.minInstances ?? 0,
            maxInstanceCount: o.maxInstances ?? 10,
          },
          ...(o.concurrency ? { maxInstanceRequestConcurrency: o.concurrency } : {}),
          containers: [
            {
              ...artifacts.sourceContainer(source, sources[source], o.region),
              envs: envList({ ...tracingEnv(ctx), ...o.env }),
              resources: {
                limits: { cpu: '1', memory: '512Mi' },
                cpuIdle: true,
                startupCpuBoost: true,
              },
            },
          ],
        },
      },
      { ...ctx.afterApis, dependsOn: [...ctx.enabled, ...dependsOn] },
    );

  const cells: Record<string, CellServices> = {};
  for (const cell of spec.cells) {
    const own = accounts.cell(cell.name);
    const at = (name: CellFunction) => ({
      name: cellServiceName(cell.name, name),
      region: cell.region,
      account: own[name],
      audience: ctx.cellAudience(cell.name, name),
    });
    cells[cell.name] = {
      provision: functionService(`${cell.name}-provision`, 'provision', {
        ...at('provision'),
        env: provisionEnv(ctx, accounts, cell),
        internal: false, // placement calls it, Cloud Run to Cloud Run
        minInstances: spec.provisionMinInstances,
        ...provisionCapacity,
        timeout: '600s', // a resync of every tenant of the cell
      }),
      label: functionService(`${cell.name}-label`, 'label', {
        ...at('label'),
        env: labelEnv(ctx, accounts, cell),
        // Pushes only, unless HTTP callers are configured: they may call from anywhere.
        internal: spec.labelCallers.length === 0,
        timeout: '300s',
      }),
      'ingress-timeout': functionService(`${cell.name}-ingress-timeout`, 'ingress-timeout', {
        ...at('ingress-timeout'),
        env: ingressTimeoutEnv(ctx, accounts, cell),
        internal: spec.ingressTimeoutCallers.length === 0,
        timeout: '600s', // a resync of every annotated Ingress of the cell
      }),
    };
  }

  const global = (name: GlobalFunction) => ({
    name: globalServiceName(name),
    region: ctx.region,
    account: (name === 'console' ? accounts.console : accounts[name]) as gcp.serviceaccount.Account,
    audience: ctx.audience(name),
  });
  const placement = functionService(
    'placement',
    'placement',
    {
      ...global('placement'),
      env: placementEnv(
        ctx,
        accounts,
        Object.fromEntries(
          spec.cells.map((c) => [c.name, (cells[c.name] as CellServices).provision.uri]),
        ),
      ),
      internal: false, // the signup backend calls it
      minInstances: spec.provisionMinInstances,
      ...placementCapacity,
      // A sign-up waits for its cell's provision; a tenant request's push, longer than its ack deadline.
      timeout: '300s',
    },
    [store],
  );
  const signup = functionService('signup', 'signup', {
    ...global('signup'),
    env: signupEnv(ctx, placement.uri),
    public: true,
    internal: false,
    timeout: '60s',
  });

  // The operator console, when the spec has one: a public page (operators sign in on it; its
  // backend admits only them), acting as its own account on each cell's provision.
  const provisionUrls = Object.fromEntries(
    spec.cells.map((c) => [c.name, (cells[c.name] as CellServices).provision.uri]),
  );
  const operatorConsole = spec.console
    ? functionService('console', 'console', {
        ...global('console'),
        env: consoleEnv(ctx, provisionUrls),
        public: true,
        internal: false,
        // One instance: its live stream's subscriptions are shared by the operators' pages.
        maxInstances: 1,
        // A live stream lasts 5 minutes (functions/console/handler.ts), then the page reopens it.
        timeout: '360s',
      })
    : undefined;

  const callers = (emails: string[]) => emails.map((email) => `serviceAccount:${email}`);
  const grants: gcp.cloudrunv2.ServiceIamMember[] = [];
  const invoke = (
    key: string,
    service: gcp.cloudrunv2.Service,
    region: string,
    members: pulumi.Input<string>[],
  ) =>
    members.forEach((m, i) => {
      grants.push(
        new gcp.cloudrunv2.ServiceIamMember(
          `invoker-${key}-${i}`,
          { project, location: region, name: service.name, role: 'roles/run.invoker', member: m },
          opts,
        ),
      );
    });
  // The signup backend's calls, and the tenant requests' pushes (/pubsub/tenants).
  // Operators' moves and drains, and Cloud Scheduler's drain rounds.
  invoke('placement', placement, ctx.region, [
    member(accounts.signup),
    member(accounts.push),
    member(accounts.scheduler),
    ...callers(spec.operators),
  ]);
  // The console reads each cell's tenants and held deletions, and decides on them.
  const consoleCaller = accounts.console ? [member(accounts.console)] : [];
  for (const cell of spec.cells) {
    const s = cells[cell.name] as CellServices;
    invoke(`${cell.name}-provision`, s.provision, cell.region, [
      member(accounts.placement),
      member(accounts.scheduler),
      member(accounts.push),
      ...callers(spec.operators),
      ...consoleCaller,
    ]);
    invoke(`${cell.name}-label`, s.label, cell.region, [
      member(accounts.push),
      ...callers(spec.labelCallers),
    ]);
    invoke(`${cell.name}-ingress-timeout`, s['ingress-timeout'], cell.region, [
      member(accounts.push),
      member(accounts.scheduler),
      ...callers(spec.ingressTimeoutCallers),
    ]);
  }
  return {
    global: { signup, placement, ...(operatorConsole ? { console: operatorConsole } : {}) },
    cells,
    invokerGrants: grants,
  };
}
