// The four functions as Cloud Run services (Cloud Run Admin API) built from source on nodejs22
// with the Functions Framework target, and who may invoke each: exactly the principals on the
// function's own allow-lists (env.ts), no one else.
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { Accounts } from './accounts.ts';
import type { Artifacts } from './artifacts.ts';
import type { Context } from './context.ts';
import { type Env, envList, ingressTimeoutEnv, labelEnv, provisionEnv, signupEnv } from './env.ts';
import type { FunctionName, Sources } from './names.ts';

type FunctionOptions = {
  env: Env;
  /** Cloud Run's IAM check off: anyone may call (the public page). */
  public?: boolean;
  minInstances?: number;
  /** At most this many instances (default 10), each serving at most `concurrency` requests. */
  maxInstances?: number;
  concurrency?: number;
  /** The request timeout: longer than a push's ack deadline (Pub/Sub's HTTP timeout). */
  timeout: string;
};

/**
 * Provision's own concurrency, capped: at most 3 instances of 10 requests each, so a flood of
 * sign-ups (or of anything else) reaches the cluster 30 at a time at most, the rest answered 429
 * by Cloud Run (Pub/Sub pushes back off and retry). It also bounds how far sign-ups of different
 * customers at the same moment can pass the ceiling on all tenants (KUBEFN_MAX_TENANTS): at most
 * 30 (functions/provision/handler.ts).
 */
export const provisionCapacity = { maxInstances: 3, concurrency: 10 } as const;

export function defineFunctions(
  ctx: Context,
  accounts: Accounts,
  artifacts: Artifacts,
  sources: Sources,
) {
  const { project, region, spec, opts, member } = ctx;
  const { baseImage, repository } = artifacts;

  const functionService = (name: FunctionName, o: FunctionOptions) => {
    const source = sources[name];
    const archive = new pulumi.asset.FileArchive(source.dir);
    const object = artifacts.sourceObject(name, source.sha256, 'zip', archive);
    return new gcp.cloudrunv2.Service(
      name,
      {
        project,
        location: region,
        name: `kubefn-${name}`,
        // Reached from Pub/Sub, Scheduler and browsers, checked by IAM (see the README's open
        // questions on internal ingress).
        ingress: 'INGRESS_TRAFFIC_ALL',
        // One constant is the service's audience, its KUBEFN_AUTH_AUDIENCE and every token's aud.
        customAudiences: [ctx.audience(name)],
        invokerIamDisabled: o.public === true,
        deletionProtection: spec.deletionProtection,
        buildConfig: {
          sourceLocation: pulumi.interpolate`gs://${artifacts.bucket.name}/${object.name}`,
          functionTarget: source.target,
          baseImage,
          imageUri: pulumi.interpolate`${region}-docker.pkg.dev/${project}/${repository.repositoryId}/${name}`,
          serviceAccount: accounts.build.id,
          enableAutomaticUpdates: true,
        },
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
              // Replaced by the image the build makes (see ignoreChanges below).
              image: 'us-docker.pkg.dev/cloudrun/container/hello',
              baseImageUri: baseImage,
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
      {
        ...opts,
        dependsOn: [...ctx.enabled, ...artifacts.buildGrants],
        // The build writes the image it made into the template; the source, not this
        // placeholder, decides what runs.
        ignoreChanges: ['template.containers[0].image'],
      },
    );
  };

  const provision = functionService('provision', {
    env: provisionEnv(ctx, accounts),
    minInstances: spec.provisionMinInstances,
    ...provisionCapacity,
    timeout: '600s', // a resync of every tenant
  });
  const services = {
    provision,
    label: functionService('label', { env: labelEnv(ctx, accounts), timeout: '300s' }),
    'ingress-timeout': functionService('ingress-timeout', {
      env: ingressTimeoutEnv(ctx, accounts),
      timeout: '600s', // a resync of every annotated Ingress
    }),
    signup: functionService('signup', {
      env: signupEnv(ctx, provision.uri),
      public: true,
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
