// The environment the deployment gives each deployable, keyed by the names its own settings
// schema reads (functions/*/config.ts): a misspelt or removed variable fails `npm run typecheck`,
// and env.test.ts runs each deployable's settings reader on what is written here.
//
// Cells: a cell's deployables get their own cell's cluster (server, CA) and name, and nothing of
// any other cell; placement alone knows every cell, as the list of their provision functions.
import * as pulumi from '@pulumi/pulumi';
import type { ConsoleSettings } from '../../functions/console/config.ts';
import type { IngressTimeoutSettings } from '../../functions/ingress-timeout/config.ts';
import type { LabelSettings } from '../../functions/label/config.ts';
import type { PlacementSettings } from '../../functions/placement/config.ts';
import type { ProvisionSettings } from '../../functions/provision/config.ts';
import type { SignupSettings } from '../../functions/signup/config.ts';
import type { WatcherEnv } from '../../functions/watcher/config.ts';
import type { AuthSettings } from '../../shared/auth/index.ts';
import type { Cell } from '../../shared/cells.ts';
import type { ClusterSettings } from '../../shared/kube/index.ts';
import type { Accounts } from './accounts.ts';
import type { Context } from './context.ts';
import { type CellFunction, type GlobalFunction, topicNames } from './names.ts';
import type { CellSpec } from './spec.ts';

type EnvOf<Settings> = { [K in keyof Settings & string]?: pulumi.Input<string> };
export type Env = Record<string, pulumi.Input<string> | undefined>;

/** A cell's deployables reach its cluster, and only it: the DNS endpoint, a metadata token. */
function clusterEnv(cell: CellSpec): EnvOf<ClusterSettings> {
  return {
    KUBEFN_CLUSTER_SERVER: cell.endpoint,
    ...(cell.caCertificate ? { KUBEFN_CLUSTER_CA: cell.caCertificate } : {}),
  };
}

/**
 * The cell's name: in the watcher's messages and provision's outcome events. Label and
 * ingress-timeout do not read it yet; it is there for their logs and for whoever reads the
 * service (`gcloud run services describe`).
 */
const cellEnv = (cell: CellSpec) => ({ KUBEFN_CELL: cell.name });

// Behind Cloud Run's IAM check the platform has verified the token (and removed its signature);
// kubefn still checks its audience, issuer and the route's allow-list.
function authEnv(audience: string): EnvOf<AuthSettings> {
  return {
    KUBEFN_AUTH_AUDIENCE: audience,
    KUBEFN_AUTH_PLATFORM_VERIFIED: 'true',
    KUBEFN_AUTH_GOOGLE: 'true',
    KUBEFN_AUTH_KUBERNETES: 'false',
  };
}
const cellAuth = (ctx: Context, cell: CellSpec, name: CellFunction) =>
  authEnv(ctx.cellAudience(cell.name, name));
const globalAuth = (ctx: Context, name: GlobalFunction) => authEnv(ctx.audience(name));

export function provisionEnv(
  ctx: Context,
  accounts: Accounts,
  cell: CellSpec,
): EnvOf<ProvisionSettings> {
  return {
    ...cellAuth(ctx, cell, 'provision'),
    ...clusterEnv(cell),
    ...cellEnv(cell),
    // Tenant requests come from placement only, over HTTP or forwarded from its /pubsub/tenants.
    KUBEFN_ALLOW_PROVISION: accounts.placement.email,
    KUBEFN_ALLOW_RESYNC: accounts.scheduler.email,
    // Who decides on held deletions (deletion budget); none unless the spec names operators;
    // and the operator console's account, when there is one.
    KUBEFN_ALLOW_OPERATOR: accounts.console
      ? pulumi.interpolate`${[...ctx.spec.operators, ''].join(',')}${accounts.console.email}`
      : ctx.spec.operators.join(','),
    // Pub/Sub's pushes (changes, resync batches), and placement forwarding a tenant request's
    // push to /pubsub/tenants.
    KUBEFN_ALLOW_PUSH: pulumi.interpolate`${accounts.push.email},${accounts.placement.email}`,
    // Placement moves tenants into and out of the cell (/moves).
    KUBEFN_ALLOW_MOVES: accounts.placement.email,
    // More tenants than a batch: the scheduled check fans out through this topic.
    KUBEFN_RESYNC_TOPIC: topicNames.resyncBatches,
    // Each tenant request's outcome, CloudEvents whose source names the cell (KUBEFN_CELL): the
    // billing or CRM system subscribes (pubsub.ts grants it).
    KUBEFN_OUTCOMES_TOPIC: topicNames.tenantOutcomes,
    GOOGLE_CLOUD_PROJECT: ctx.project,
    // Tenant RoleBindings name GKE Users: this cell's own Google service accounts.
    KUBEFN_RBAC_SUBJECTS: `google:${ctx.project}/${cell.name}`,
    // A backstop behind placement's choice, which counts the same capacity.
    KUBEFN_MAX_TENANTS: String(cell.capacity),
  };
}

export function labelEnv(ctx: Context, accounts: Accounts, cell: CellSpec): EnvOf<LabelSettings> {
  return {
    ...cellAuth(ctx, cell, 'label'),
    ...clusterEnv(cell),
    ...cellEnv(cell),
    KUBEFN_ALLOW_PUSH: accounts.push.email,
    KUBEFN_ALLOW_LABEL: ctx.spec.labelCallers.join(','),
  };
}

export function ingressTimeoutEnv(
  ctx: Context,
  accounts: Accounts,
  cell: CellSpec,
): EnvOf<IngressTimeoutSettings> {
  const { spec } = ctx;
  const compute = spec.timeoutMode === 'compute';
  return {
    ...cellAuth(ctx, cell, 'ingress-timeout'),
    ...clusterEnv(cell),
    ...cellEnv(cell),
    KUBEFN_ALLOW_PUSH: accounts.push.email,
    KUBEFN_ALLOW_RESYNC: accounts.scheduler.email,
    KUBEFN_ALLOW_INGRESS_TIMEOUT: spec.ingressTimeoutCallers.join(','),
    KUBEFN_TIMEOUT_MODE: spec.timeoutMode,
    ...(compute ? { KUBEFN_COMPUTE_PROJECT: ctx.project } : {}),
    ...(compute && spec.computeRegion ? { KUBEFN_COMPUTE_REGION: spec.computeRegion } : {}),
  };
}

export function watcherEnv(
  ctx: Context,
  cell: CellSpec,
  topic: pulumi.Input<string>,
): EnvOf<WatcherEnv> {
  return {
    ...clusterEnv(cell),
    KUBEFN_TOPIC: topic,
    // Cloud Run does not put the project in the environment. (Nor may a revision set PORT:
    // Cloud Run sets it.)
    PUBSUB_PROJECT_ID: ctx.project,
    KUBEFN_CELL: cell.name,
  };
}

/** The sign-up backend calls placement, with the same tenant API provision serves. */
export function signupEnv(ctx: Context, placementUrl: pulumi.Input<string>): EnvOf<SignupSettings> {
  return {
    KUBEFN_PROVISION_URL: placementUrl,
    KUBEFN_PROVISION_AUDIENCE: ctx.audience('placement'),
    // Customers' ID tokens: signed by Identity Platform for this project (never the emulator).
    KUBEFN_CUSTOMER_PROJECT: ctx.spec.customerSignIn.project ?? ctx.project,
    KUBEFN_CUSTOMER_API_KEY: ctx.spec.customerSignIn.apiKey,
  };
}

/**
 * Placement: every cell, as shared/cells.ts's `Cell` (its provision's URL and audience, its
 * capacity), and nothing else of them: no cluster, no account. It mints an ID token per cell
 * audience from the metadata server.
 */
export function placementEnv(
  ctx: Context,
  accounts: Accounts,
  provisionUrls: Record<string, pulumi.Input<string>>,
): EnvOf<PlacementSettings> {
  return {
    ...globalAuth(ctx, 'placement'),
    KUBEFN_CELLS: cellsJson(ctx, provisionUrls),
    KUBEFN_ALLOW_TENANTS: accounts.signup.email,
    KUBEFN_ALLOW_PUSH: accounts.push.email,
    // Operators move tenants and drain cells; Cloud Scheduler runs placement's round (/resync).
    KUBEFN_ALLOW_OPERATOR: ctx.spec.operators.join(','),
    KUBEFN_ALLOW_RESYNC: accounts.scheduler.email,
    // Moves' outcome events, on the topic the billing or CRM system hears (pubsub.ts grants).
    KUBEFN_OUTCOMES_TOPIC: topicNames.tenantOutcomes,
    GOOGLE_CLOUD_PROJECT: ctx.project,
    KUBEFN_FIRESTORE_DATABASE: ctx.spec.placement.database,
  };
}

/** KUBEFN_CELLS: every cell as shared/cells.ts's `Cell`, its provision's URL and audience. */
function cellsJson(ctx: Context, provisionUrls: Record<string, pulumi.Input<string>>) {
  return pulumi
    .all(
      ctx.spec.cells.map((cell) =>
        pulumi.output(provisionUrls[cell.name] as pulumi.Input<string>).apply(
          (provisionUrl): Cell => ({
            name: cell.name,
            region: cell.region,
            provisionUrl,
            audience: ctx.cellAudience(cell.name, 'provision'),
            capacity: cell.capacity,
          }),
        ),
      ),
    )
    .apply((list) => JSON.stringify(list));
}

/**
 * The operator console: every cell as placement knows them (it calls each cell's provision
 * itself, as its own account), who may use it, and where operators sign in.
 */
export function consoleEnv(
  ctx: Context,
  provisionUrls: Record<string, pulumi.Input<string>>,
): EnvOf<ConsoleSettings> {
  const console = ctx.spec.console;
  if (!console) throw new Error('no console in the spec');
  return {
    KUBEFN_CELLS: cellsJson(ctx, provisionUrls),
    KUBEFN_CONSOLE_OPERATORS: console.operators.join(','),
    KUBEFN_OPERATOR_PROJECT: console.project ?? ctx.project,
    KUBEFN_OPERATOR_API_KEY: console.apiKey,
    KUBEFN_OPERATOR_GOOGLE_CLIENT_ID: console.googleClientId,
    // Its stream's and the dead letters' subscriptions (console.ts names them as the defaults).
    PUBSUB_PROJECT_ID: ctx.project,
  };
}

/** As a Cloud Run container's `envs`. */
export function envList(env: Env) {
  return Object.entries(env)
    .filter((entry): entry is [string, pulumi.Input<string>] => entry[1] !== undefined)
    .map(([name, value]) => ({ name, value }));
}
