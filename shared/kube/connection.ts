// How a deployable reaches its cluster, chosen by configuration:
//   KUBEFN_CLUSTER_SERVER   https URL of the API server: on Cloud Run, GKE's DNS-based
//                           control-plane endpoint (https://gke-<id>.<region>.gke.goog) or an IP
//                           endpoint. Set: the deployable presents its Google service account's
//                           access token from the metadata server, and GKE's RBAC sees the User
//                           named by that account's email. Unset: the kubeconfig ($KUBECONFIG,
//                           ~/.kube/config) or, inside a pod, the pod's ServiceAccount.
//   KUBEFN_CLUSTER_CA       the server's CA, PEM or base64 PEM (GKE's clusterCaCertificate), only
//                           with KUBEFN_CLUSTER_SERVER; absent: the system's roots
//   GCE_METADATA_HOST       redirects the metadata server (tests); Google's libraries read it too
// Nothing secret is configured: the token is fetched, cached and refreshed at run time.
import { X509Certificate } from 'node:crypto';
import * as v from 'valibot';
import { envProblem } from '../env.ts';
import { metadataAccessToken } from '../gcp/access-token.ts';
import type { ClientOptions } from './client.ts';
import { Cluster } from './cluster.ts';
import { type ClusterConfig, loadConfig } from './config.ts';

const pemOrBase64 = (text: string) =>
  text.includes('-----BEGIN') ? text : Buffer.from(text, 'base64').toString('utf8');

const isCertificate = (pem: string) => {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
};

/** The connection's entries, for a deployable's own env schema (shared/env.ts) to include. */
export const clusterEnvEntries = {
  KUBEFN_CLUSTER_SERVER: v.optional(
    v.pipe(
      v.string(),
      v.url('an https URL'),
      v.startsWith('https://', 'an https URL'),
      v.transform((url) => url.replace(/\/+$/, '')),
    ),
  ),
  KUBEFN_CLUSTER_CA: v.optional(
    v.pipe(
      v.string(),
      v.transform(pemOrBase64),
      v.check(isCertificate, 'a PEM certificate, or its base64'),
    ),
  ),
};

export type ClusterSettings = {
  KUBEFN_CLUSTER_SERVER?: string | undefined;
  KUBEFN_CLUSTER_CA?: string | undefined;
};

/** Throws an EnvError when the CA is given without a server (it would be silently unused). */
export function checkClusterSettings(deployable: string, settings: ClusterSettings): void {
  if (settings.KUBEFN_CLUSTER_CA !== undefined && settings.KUBEFN_CLUSTER_SERVER === undefined)
    throw envProblem(deployable, 'KUBEFN_CLUSTER_CA', 'only with KUBEFN_CLUSTER_SERVER');
}

/** The server and a metadata-server token when KUBEFN_CLUSTER_SERVER is set, else loadConfig(). */
export async function clusterConfig(settings: ClusterSettings): Promise<ClusterConfig> {
  const server = settings.KUBEFN_CLUSTER_SERVER;
  if (server === undefined) return loadConfig();
  const token = metadataAccessToken();
  return {
    server,
    ...(settings.KUBEFN_CLUSTER_CA ? { ca: settings.KUBEFN_CLUSTER_CA } : {}),
    token,
    invalidateToken: token.invalidate,
  };
}

export async function connectCluster(
  settings: ClusterSettings,
  options: ClientOptions = {},
): Promise<Cluster> {
  return new Cluster(await clusterConfig(settings), options);
}
