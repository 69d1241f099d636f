// The environment the deployment gives each deployable, keyed by the names its own settings
// schema reads (functions/*/config.ts): a misspelt or removed variable fails `npm run typecheck`,
// and env.test.ts runs each deployable's settings reader on what is written here.
import type * as pulumi from '@pulumi/pulumi';
import type { IngressTimeoutSettings } from '../../functions/ingress-timeout/config.ts';
import type { LabelSettings } from '../../functions/label/config.ts';
import type { ProvisionSettings } from '../../functions/provision/config.ts';
import type { SignupSettings } from '../../functions/signup/config.ts';
import type { WatcherEnv } from '../../functions/watcher/config.ts';
import type { AuthSettings } from '../../shared/auth/index.ts';
import type { ClusterSettings } from '../../shared/kube/index.ts';
import type { Accounts } from './accounts.ts';
import type { Context } from './context.ts';
import { type FunctionName, topicNames } from './names.ts';

type EnvOf<Settings> = { [K in keyof Settings & string]?: pulumi.Input<string> };
export type Env = Record<string, pulumi.Input<string> | undefined>;

/** Every deployable reaches the cluster the same way: the DNS endpoint, a metadata token. */
function clusterEnv({ spec }: Context): EnvOf<ClusterSettings> {
  return {
    KUBEFN_CLUSTER_SERVER: spec.cluster.endpoint,
    ...(spec.cluster.caCertificate ? { KUBEFN_CLUSTER_CA: spec.cluster.caCertificate } : {}),
  };
}

// Behind Cloud Run's IAM check the platform has verified the token (and removed its signature);
// kubefn still checks its audience, issuer and the route's allow-list.
function authEnv(ctx: Context, name: FunctionName): EnvOf<AuthSettings> {
  return {
    KUBEFN_AUTH_AUDIENCE: ctx.audience(name),
    KUBEFN_AUTH_PLATFORM_VERIFIED: 'true',
    KUBEFN_AUTH_GOOGLE: 'true',
    KUBEFN_AUTH_KUBERNETES: 'false',
  };
}

export function provisionEnv(ctx: Context, accounts: Accounts): EnvOf<ProvisionSettings> {
  return {
    ...authEnv(ctx, 'provision'),
    ...clusterEnv(ctx),
    KUBEFN_ALLOW_PROVISION: accounts.signup.email,
    KUBEFN_ALLOW_RESYNC: accounts.scheduler.email,
    // More tenants than a batch: the scheduled check fans out through this topic.
    KUBEFN_ALLOW_PUSH: accounts.push.email,
    KUBEFN_RESYNC_TOPIC: topicNames.resyncBatches,
    GOOGLE_CLOUD_PROJECT: ctx.project,
    // Tenant RoleBindings name GKE Users: the deployables' Google service-account emails.
    KUBEFN_RBAC_SUBJECTS: `google:${ctx.project}`,
    KUBEFN_MAX_TENANTS: String(ctx.spec.maxTenants),
  };
}

export function labelEnv(ctx: Context, accounts: Accounts): EnvOf<LabelSettings> {
  return {
    ...authEnv(ctx, 'label'),
    ...clusterEnv(ctx),
    KUBEFN_ALLOW_PUSH: accounts.push.email,
    KUBEFN_ALLOW_LABEL: ctx.spec.labelCallers.join(','),
  };
}

export function ingressTimeoutEnv(ctx: Context, accounts: Accounts): EnvOf<IngressTimeoutSettings> {
  const { spec } = ctx;
  const compute = spec.timeoutMode === 'compute';
  return {
    ...authEnv(ctx, 'ingress-timeout'),
    ...clusterEnv(ctx),
    KUBEFN_ALLOW_PUSH: accounts.push.email,
    KUBEFN_ALLOW_RESYNC: accounts.scheduler.email,
    KUBEFN_ALLOW_INGRESS_TIMEOUT: spec.ingressTimeoutCallers.join(','),
    KUBEFN_TIMEOUT_MODE: spec.timeoutMode,
    ...(compute ? { KUBEFN_COMPUTE_PROJECT: ctx.project } : {}),
    ...(compute && spec.computeRegion ? { KUBEFN_COMPUTE_REGION: spec.computeRegion } : {}),
  };
}

export function signupEnv(ctx: Context, provisionUrl: pulumi.Input<string>): EnvOf<SignupSettings> {
  return {
    KUBEFN_PROVISION_URL: provisionUrl,
    KUBEFN_PROVISION_AUDIENCE: ctx.audience('provision'),
    // Customers' ID tokens: signed by Identity Platform for this project (never the emulator).
    KUBEFN_CUSTOMER_PROJECT: ctx.spec.customerSignIn.project ?? ctx.project,
    KUBEFN_CUSTOMER_API_KEY: ctx.spec.customerSignIn.apiKey,
  };
}

export function watcherEnv(ctx: Context, topic: pulumi.Input<string>): EnvOf<WatcherEnv> {
  return {
    ...clusterEnv(ctx),
    KUBEFN_TOPIC: topic,
    // Cloud Run does not put the project in the environment. (Nor may a revision set PORT:
    // Cloud Run sets it.)
    PUBSUB_PROJECT_ID: ctx.project,
    KUBEFN_CELL: ctx.spec.cluster.name,
  };
}

/** As a Cloud Run container's `envs`. */
export function envList(env: Env) {
  return Object.entries(env)
    .filter((entry): entry is [string, pulumi.Input<string>] => entry[1] !== undefined)
    .map(([name, value]) => ({ name, value }));
}
