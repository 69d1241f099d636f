// Acting as a deployable's Google service account on the local stack, as on GKE: a metadata
// server of the fake Google (started by global-setup.ts) issues the account's access token, and
// kube-apiserver's token webhook maps it to the RBAC User named by the account's email.
import { readFileSync } from 'node:fs';
import { pubsubProject } from '../../infra/local/stack.ts';
import { metadataAccessToken } from '../../shared/gcp/access-token.ts';
import { googleAccountEmail, type Identity } from '../../shared/identities.ts';
import { Cluster } from '../../shared/kube/index.ts';
import { googleIdentity, stack } from './stack.ts';

/** The email of `identity`'s Google service account in the local project (kubefn-local). */
export const localGoogleEmail = (identity: Identity) => googleAccountEmail(identity, pubsubProject);

/** host:port of a metadata server whose default account is `email`: for GCE_METADATA_HOST. */
export async function metadataHostFor(email: string): Promise<string> {
  const answer = await fetch(`${googleIdentity}/fake/instances`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email }),
  });
  if (answer.status !== 200)
    throw new Error(`fake Google: ${answer.status} ${await answer.text()}`);
  return ((await answer.json()) as { metadataHost: string }).metadataHost;
}

/**
 * A client that reaches the stack the way a Cloud Run function reaches GKE: the server, its CA
 * and the metadata server's access token of `identity`'s Google service account.
 */
export async function googleIdentityCluster(identity: Identity): Promise<Cluster> {
  const host = await metadataHostFor(localGoogleEmail(identity));
  const token = metadataAccessToken({ host });
  return new Cluster({
    server: stack.server,
    ca: readFileSync(stack.caFile, 'utf8'),
    token,
    invalidateToken: token.invalidate,
  });
}
