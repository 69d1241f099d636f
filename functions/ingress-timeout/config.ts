// The ingress-timeout function's settings, from its environment, checked at start:
//   KUBEFN_TIMEOUT_MODE      backendconfig (default: GKE's BackendConfig) or compute (the API)
//   KUBEFN_COMPUTE_PROJECT   compute mode: the project of the load balancer (or GOOGLE_CLOUD_PROJECT)
//   KUBEFN_COMPUTE_REGION    compute mode: the region of internal (gce-internal) load balancers
//   KUBEFN_COMPUTE_URL       the Compute API's base URL (tests point it at a fake)
//   KUBEFN_ALLOW_INGRESS_TIMEOUT  who may ask for one Ingress over HTTP
//   KUBEFN_ALLOW_PUSH        the Pub/Sub push subscription's service account
//   KUBEFN_ALLOW_RESYNC      Cloud Scheduler's service account
//   plus the Kubernetes connection and KUBEFN_AUTH_* (shared/auth/config.ts).
import * as v from 'valibot';
import {
  allowListFromEnv,
  authSettingsFromEnv,
  type CallerRule,
  callerRule,
  trustedIssuers,
} from '../../shared/auth/index.ts';
import { metadataAccessToken } from '../../shared/gcp/access-token.ts';
import { computeClient } from '../../shared/gcp/compute.ts';
import { Cluster } from '../../shared/kube/index.ts';
import type { ReconcileDeps } from './reconcile.ts';

const EnvSchema = v.object({
  KUBEFN_TIMEOUT_MODE: v.optional(v.picklist(['backendconfig', 'compute']), 'backendconfig'),
  KUBEFN_COMPUTE_PROJECT: v.optional(v.pipe(v.string(), v.minLength(1))),
  GOOGLE_CLOUD_PROJECT: v.optional(v.string()),
  KUBEFN_COMPUTE_REGION: v.optional(v.pipe(v.string(), v.minLength(1))),
  KUBEFN_COMPUTE_URL: v.optional(v.pipe(v.string(), v.url())),
});

export type AppDeps = ReconcileDeps & {
  callers: { one: CallerRule; push: CallerRule; resync: CallerRule };
};

export async function depsFromEnv(env: NodeJS.ProcessEnv): Promise<AppDeps> {
  const parsed = v.safeParse(EnvSchema, env);
  if (!parsed.success)
    throw new Error(
      `ingress-timeout configuration: ${parsed.issues.map((i) => `${i.path?.map((p) => String(p.key)).join('.')}: ${i.message}`).join('; ')}`,
    );
  const e = parsed.output;
  const settings = authSettingsFromEnv(env);
  const cluster = await Cluster.connect();
  const issuers = await trustedIssuers(settings, cluster.client);
  const rule = (route: string) => callerRule(settings, issuers, allowListFromEnv(env, route));
  let compute: ReconcileDeps['compute'];
  if (e.KUBEFN_TIMEOUT_MODE === 'compute') {
    const project = e.KUBEFN_COMPUTE_PROJECT ?? e.GOOGLE_CLOUD_PROJECT;
    if (!project)
      throw new Error('ingress-timeout configuration: compute mode needs KUBEFN_COMPUTE_PROJECT');
    compute = {
      client: computeClient({ baseUrl: e.KUBEFN_COMPUTE_URL, token: metadataAccessToken() }),
      project,
      internalRegion: e.KUBEFN_COMPUTE_REGION,
    };
  }
  return {
    cluster,
    mode: e.KUBEFN_TIMEOUT_MODE,
    compute,
    callers: { one: rule('ingress-timeout'), push: rule('push'), resync: rule('resync') },
  };
}
