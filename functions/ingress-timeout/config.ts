// The ingress-timeout function's settings, from its environment, checked when the module loads:
//   KUBEFN_TIMEOUT_MODE      backendconfig (default: GKE's BackendConfig) or compute (the API)
//   KUBEFN_COMPUTE_PROJECT   compute mode: the project of the load balancer (or GOOGLE_CLOUD_PROJECT)
//   KUBEFN_COMPUTE_REGION    compute mode: the region of internal (gce-internal) load balancers
//   KUBEFN_COMPUTE_URL       the Compute API's base URL (tests point it at a fake)
//   KUBEFN_ALLOW_INGRESS_TIMEOUT  who may ask for one Ingress over HTTP
//   KUBEFN_ALLOW_PUSH        the Pub/Sub push subscription's service account
//   KUBEFN_ALLOW_RESYNC      Cloud Scheduler's service account
//   plus the Kubernetes connection (shared/kube/connection.ts) and KUBEFN_AUTH_* (shared/auth/config.ts).
import * as v from 'valibot';
import {
  allowList,
  authEnvEntries,
  type CallerRule,
  callerRule,
  trustedIssuers,
} from '../../shared/auth/index.ts';
import { cellEnvEntries } from '../../shared/cells.ts';
import { envProblem, readEnv } from '../../shared/env.ts';
import { metadataAccessToken } from '../../shared/gcp/access-token.ts';
import { computeClient } from '../../shared/gcp/compute.ts';
import {
  checkClusterSettings,
  clusterEnvEntries,
  connectCluster,
} from '../../shared/kube/index.ts';
import { timeoutModes } from './outcomes.ts';
import type { ReconcileDeps } from './reconcile.ts';

const EnvSchema = v.object({
  ...authEnvEntries,
  ...clusterEnvEntries,
  ...cellEnvEntries,
  KUBEFN_ALLOW_INGRESS_TIMEOUT: allowList,
  KUBEFN_ALLOW_PUSH: allowList,
  KUBEFN_ALLOW_RESYNC: allowList,
  KUBEFN_TIMEOUT_MODE: v.optional(v.picklist(timeoutModes), 'backendconfig'),
  KUBEFN_COMPUTE_PROJECT: v.optional(v.pipe(v.string(), v.minLength(1))),
  GOOGLE_CLOUD_PROJECT: v.optional(v.string()),
  KUBEFN_COMPUTE_REGION: v.optional(v.pipe(v.string(), v.minLength(1))),
  KUBEFN_COMPUTE_URL: v.optional(v.pipe(v.string(), v.url())),
});

export type IngressTimeoutSettings = v.InferOutput<typeof EnvSchema> & {
  /** Compute mode's project (KUBEFN_COMPUTE_PROJECT or GOOGLE_CLOUD_PROJECT). */
  computeProject: string | undefined;
};

export type AppDeps = ReconcileDeps & {
  /** KUBEFN_CELL: pushes about another cell's Ingresses are not ours (shared/pubsub/push.ts). */
  cell: string;
  callers: { one: CallerRule; push: CallerRule; resync: CallerRule };
};

/** Throws an EnvError naming each bad variable, synchronously: the deploy fails. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): IngressTimeoutSettings {
  const e = readEnv('ingress-timeout', EnvSchema, env);
  checkClusterSettings('ingress-timeout', e);
  const computeProject = e.KUBEFN_COMPUTE_PROJECT ?? e.GOOGLE_CLOUD_PROJECT;
  if (e.KUBEFN_TIMEOUT_MODE === 'compute' && !computeProject)
    throw envProblem('ingress-timeout', 'KUBEFN_COMPUTE_PROJECT', 'required in compute mode');
  return { ...e, computeProject };
}

/** The settings now; the network work (cluster, issuers' keys) as a promise. */
export function depsFromEnv(env: NodeJS.ProcessEnv): Promise<AppDeps> {
  return connect(settingsFromEnv(env));
}

async function connect(e: IngressTimeoutSettings): Promise<AppDeps> {
  const cluster = await connectCluster(e);
  const issuers = await trustedIssuers(e, cluster.client);
  let compute: ReconcileDeps['compute'];
  if (e.KUBEFN_TIMEOUT_MODE === 'compute' && e.computeProject) {
    compute = {
      client: computeClient({ baseUrl: e.KUBEFN_COMPUTE_URL, token: metadataAccessToken() }),
      project: e.computeProject,
      internalRegion: e.KUBEFN_COMPUTE_REGION,
    };
  }
  return {
    cluster,
    cell: e.KUBEFN_CELL,
    mode: e.KUBEFN_TIMEOUT_MODE,
    compute,
    callers: {
      one: callerRule(e, issuers, e.KUBEFN_ALLOW_INGRESS_TIMEOUT),
      push: callerRule(e, issuers, e.KUBEFN_ALLOW_PUSH),
      resync: callerRule(e, issuers, e.KUBEFN_ALLOW_RESYNC),
    },
  };
}
