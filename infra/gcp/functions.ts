// The four functions as Cloud Run services (Cloud Run Admin API), each running its own archive
// on the nodejs22 base image with no build (artifacts.ts), and who may invoke each: exactly the
// principals on the function's own allow-lists (env.ts), no one else.
import * as gcp from '@pulumi/gcp';
import type * as pulumi from '@pulumi/pulumi';
import type { Accounts } from './accounts.ts';
import type { Artifacts } from './artifacts.ts';
import type { Context } from './context.ts';
import { type Env, envList, ingressTimeoutEnv, labelEnv, provisionEnv, signupEnv } from './env.ts';
import { type FunctionName, provisionCapacity, type Sources } from './names.ts';

type FunctionOptions = {
  env: Env;
  /** Cloud Run's IAM check off: anyone may call (the public page). */
  public?: boolean;
  /**
   * Who can reach the service at all, before IAM. Same-project Pub/Sub push and Cloud Scheduler
   * count as internal (Cloud Run's ingress docs); browsers, the signup backend (Cloud Run to
   * Cloud Run without VPC egress is not internal) and callers outside Google Cloud do not.
   */
  internal: boolean;
  minInstances?: number;
  /** At most this many instances (default 10), each serving at most `concurrency` requests. */
  maxInstances?: number;
  concurrency?: number;
  /** The request timeout: longer than a push's ack deadline (Pub/Sub's HTTP timeout). */
  timeout: string;
};

export function defineFunctions(
  ctx: Context,
  accounts: Accounts,
  artifacts: Artifacts,
  sources: Sources,
) {
  const { project, region, spec, opts, member } = ctx;

  const functionService = (name: FunctionName, o: FunctionOptions) =>
    new gcp.cloudrunv2.Service(
      name,
      {
        project,
        location: region,
        name: `kubefn-${name}`,
        ingress: o.internal ? 'INGRESS_TRAFFIC_INTERNAL_ONLY' : 'INGRESS_TRAFFIC_ALL',
        // One constant is the service's audience, its KUBEFN_AUTH_AUDIENCE and every token's aud.
        customAudiences: [ctx.audience(name)],
        invokerIamDisabled: o.public === true,
        deletionProtection: spec.deletionProtection,
        template: {
          serviceAccount: accounts[name].email,
          timeout: o.timeout,
          scaling: {
            minInstanceCount: o.minInstances ?? 0,
            maxInstanceCount: o.maxInstances ?? 10,
          },
          ...(o.concurrency ? { maxInstanceRequestConcurrency: o.concurrency } : {}),
          containers: [
            {
              ...artifacts.sourceContainer(name, sources[name]),
              envs: envList(o.env),
              resources: {
                limits: { cpu: '1', memory: '512Mi' },
                cpuIdle: true,
                startupCpuBoost: true,
              },
            },
          ],
        },
      },
      ctx.afterApis,
    );

  const provision = functionService('provision', {
    env: provisionEnv(ctx, accounts),
    internal: false, // the signup backend calls it
    minInstances: spec.provisionMinInstances,
    ...provisionCapacity,
    timeout: '600s', // a resync of every tenant
  });
  const services = {
    provision,
    label: functionService('label', {
      env: labelEnv(ctx, accounts),
      // Pushes only, unless HTTP callers are configured: they may call from anywhere.
      internal: spec.labelCallers.length === 0,
      timeout: '300s',
    }),
    'ingress-timeout': functionService('ingress-timeout', {
      env: ingressTimeoutEnv(ctx, accounts),
      internal: spec.ingressTimeoutCallers.length === 0,
      timeout: '600s', // a resync of every annotated Ingress
    }),
    signup: functionService('signup', {
      env: signupEnv(ctx, provision.uri),
      public: true,
      internal: false,
      timeout: '60s',
    }),
  };

  const callers = (emails: string[]) => emails.map((email) => `serviceAccount:${email}`);
  const invokers: Record<Exclude<FunctionName, 'signup'>, pulumi.Input<string>[]> = {
    provision: [member(accounts.signup), member(accounts.scheduler), member(accounts.push)],
    label: [member(accounts.push), ...callers(spec.labelCallers)],
    'ingress-timeout': [
      member(accounts.push),
      member(accounts.scheduler),
      ...callers(spec.ingressTimeoutCallers),
    ],
  };
  const invokerGrants = Object.entries(invokers).flatMap(([name, members]) =>
    members.map(
      (m, i) =>
        new gcp.cloudrunv2.ServiceIamMember(
          `invoker-${name}-${i}`,
          {
            project,
            location: region,
            name: services[name as FunctionName].name,
            role: 'roles/run.invoker',
            member: m,
          },
          opts,
        ),
    ),
  );
  return { services, invokerGrants };
}
