// For the functions' app tests: a caller rule satisfied in-process (a local key set), and tokens.
import { createLocalJWKSet, SignJWT } from 'jose';
import type { CallerRule } from '../shared/auth/index.ts';
import { googleIssuer, signingKey } from '../shared/auth/issuer.fixture.ts';

export const audience = 'https://fn.example';
export const allowed = 'caller@p.iam.gserviceaccount.com';

export async function localCaller(): Promise<{
  rule: CallerRule;
  token: (email?: string) => Promise<string>;
}> {
  const { jwk, privateKey } = await signingKey();
  const issuer = googleIssuer(createLocalJWKSet({ keys: [jwk] }));
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
