// For tests: a Google-like issuer over a key set the test holds, and the key that signs for it.
import { exportJWK, generateKeyPair, type JWK, type JWTVerifyGetKey } from 'jose';
import type { TrustedIssuer } from './issuers.ts';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** An RS256 key pair; `jwk` is its public half as a key set publishes it (kid k1). */
export async function signingKey(): Promise<{ jwk: JWK; privateKey: PrivateKey }> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  return { jwk: { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }, privateKey };
}

/** Google's issuer, as shared/auth trusts it, with `keys` for its key set. */
export function googleIssuer(keys: JWTVerifyGetKey): TrustedIssuer {
  return {
    names: ['https://accounts.google.com'],
    keys,
    algorithms: ['RS256'],
    maxTokenAgeSeconds: 3600,
    googleSigned: true,
    principal: (claims) => ({
      kind: 'google',
      id: String(claims.email),
      email: String(claims.email),
    }),
  };
}
