// For the functions' app tests: a caller rule satisfied in-process (a local key set), and tokens.
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CallerRule, TrustedIssuer } from '../shared/auth/index.ts';

export const audience = 'https://fn.example';
export const allowed = 'caller@p.iam.gserviceaccount.com';

export async function localCaller(): Promise<{
  rule: CallerRule;
  token: (email?: string) => Promise<string>;
}> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
  const issuer: TrustedIssuer = {
    names: ['https://accounts.google.com'],
    keys: createLocalJWKSet({ keys: [jwk] }),
    algorithms: ['RS256'],
    maxTokenAgeSeconds: 3600,
    googleSigned: true,
    principal: (claims) => ({
      kind: 'google',
      id: String(claims.email),
      email: String(claims.email),
    }),
  };
  const now = Math.floor(Date.now() / 1000);
  return {
    rule: { audience, issuers: [issuer], allow: [allowed], log: () => {} },
    token: (email = allowed) =>
      new SignJWT({
        iss: 'https://accounts.google.com',
        aud: audience,
        email,
        iat: now,
        exp: now + 600,
      })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .sign(privateKey),
  };
}
