// The token issuers a deployment trusts, and how each one's keys are found and its tokens name
// their principal.
import { createRemoteJWKSet, customFetch, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { KubeClient } from '../kube/index.ts';
import { AuthError } from './errors.ts';

export type Principal =
  | { kind: 'google'; id: string; email: string }
  | { kind: 'kubernetes'; id: string; namespace: string; serviceAccount: string }
  // A customer signed in with Identity Platform (identity-platform.ts); id is the user id.
  | {
      kind: 'customer';
      id: string;
      email: string | undefined;
      emailVerified: boolean;
      /** The plan the SaaS entitled this user to: the kubefnPlan custom claim. */
      entitlement: string | undefined;
      authTime: number;
      /** How they signed in (`firebase.sign_in_provider`: password, google.com, ...). */
      signInProvider?: string | undefined;
    };

export type TrustedIssuer = {
  /** Accepted `iss` values (Google uses two spellings). */
  names: string[];
  keys: JWTVerifyGetKey;
  algorithms: string[];
  /** Seconds since `iat` after which a token is refused even if it has not expired. */
  maxTokenAgeSeconds: number;
  /** Whether tokens of this issuer may arrive with their signature stripped by Cloud Run. */
  googleSigned: boolean;
  principal(claims: JWTPayload): Principal;
};

const googleCerts = 'https://www.googleapis.com/oauth2/v3/certs';

/**
 * Google-signed OIDC tokens: Pub/Sub push, Cloud Scheduler, and service accounts calling us.
 * `jwksUrl` is Google's public keys unless a test points it at a local fake.
 */
export function googleIssuer(
  options: { jwksUrl?: string; maxTokenAgeSeconds?: number } = {},
): TrustedIssuer {
  return {
    names: ['https://accounts.google.com', 'accounts.google.com'],
    keys: createRemoteJWKSet(new URL(options.jwksUrl ?? googleCerts)),
    algorithms: ['RS256'],
    // Pub/Sub push tokens can be up to an hour old.
    maxTokenAgeSeconds: options.maxTokenAgeSeconds ?? 3600,
    googleSigned: true,
    principal(claims) {
      const { email, email_verified: verified } = claims as {
        email?: unknown;
        email_verified?: unknown;
      };
      if (typeof email !== 'string' || verified !== true) {
        throw new AuthError('bad-claims', 'a Google token needs a verified email');
      }
      return { kind: 'google', id: email, email };
    },
  };
}

/**
 * A Kubernetes service-account issuer. Its discovery document and keys are read through the
 * cluster's own client (its CA and a token), since by default only service accounts may read
 * them. The keys come from the API server's /openid/v1/jwks, which serves them whatever
 * jwks_uri the document advertises (GKE's is a public Google URL with the same keys), so both
 * are fetched at once: one round trip less on a cold start.
 */
export async function kubernetesIssuer(
  client: KubeClient,
  options: { issuer?: string; maxTokenAgeSeconds?: number } = {},
): Promise<TrustedIssuer> {
  const jwksPath = '/openid/v1/jwks';
  const keys = createRemoteJWKSet(new URL(jwksPath, client.server), {
    [customFetch]: async () => {
      const res = await client.raw(jwksPath, {
        accept: 'application/jwk-set+json, application/json',
      });
      return new Response(await res.text(), { status: res.status });
    },
  });
  const [discovery] = await Promise.all([
    client.request<{ issuer: string; id_token_signing_alg_values_supported?: string[] }>(
      '/.well-known/openid-configuration',
    ),
    // Fetched now, while the function is still starting, not on the first request.
    keys.reload().catch(() => {}),
  ]);
  return {
    names: [options.issuer ?? discovery.issuer],
    keys,
    algorithms: discovery.id_token_signing_alg_values_supported ?? ['RS256'],
    // Kubelet refreshes projected tokens after at most 24 hours.
    maxTokenAgeSeconds: options.maxTokenAgeSeconds ?? 24 * 3600,
    googleSigned: false,
    principal(claims) {
      const parts = String(claims.sub ?? '').split(':');
      const [system, kind, namespace, serviceAccount] = parts;
      if (
        parts.length !== 4 ||
        system !== 'system' ||
        kind !== 'serviceaccount' ||
        !namespace ||
        !serviceAccount
      ) {
        throw new AuthError(
          'bad-claims',
          'a Kubernetes token needs sub system:serviceaccount:NS:NAME',
        );
      }
      return { kind: 'kubernetes', id: String(claims.sub), namespace, serviceAccount };
    },
  };
}
