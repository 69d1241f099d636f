// FAKE Google endpoints, for what cannot be reached from here: Google's public OIDC keys and the
// metadata server. They follow the documented contract (a JWKS at /oauth2/v3/certs; the token
// endpoint under /computeMetadata/v1 that answers only with `Metadata-Flavor: Google`), and sign
// Google-style ID tokens with a test RSA key. Everything else in the tests is real.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

export type FakeGoogle = {
  jwksUrl: string;
  /** host:port, for GCE_METADATA_HOST. */
  metadataHost: string;
  publicKeyPem: string;
  /** A Google-style ID token; `header` overrides go into the protected header. */
  idToken(claims: JWTPayload, options?: { kid?: string }): Promise<string>;
  accessToken: { value: string; expiresIn: number; requests: number };
  close(): Promise<void>;
};

export const googleIssuerUrl = 'https://accounts.google.com';

export async function startFakeGoogle(): Promise<FakeGoogle> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = 'fake-google-key-1';
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const accessToken = { value: 'fake-access-token', expiresIn: 3599, requests: 0 };
  const server = createServer((req, res) => {
    if (req.url === '/oauth2/v3/certs') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    if (req.url === '/computeMetadata/v1/instance/service-accounts/default/token') {
      if (req.headers['metadata-flavor'] !== 'Google') {
        res.writeHead(403).end('Missing Metadata-Flavor:Google header.');
        return;
      }
      accessToken.requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          access_token: accessToken.value,
          expires_in: accessToken.expiresIn,
          token_type: 'Bearer',
        }),
      );
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    jwksUrl: `http://${host}/oauth2/v3/certs`,
    metadataHost: host,
    publicKeyPem: await exportSPKI(publicKey),
    accessToken,
    idToken: (claims, options = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? kid, typ: 'JWT' })
        .sign(privateKey),
    close: async () => {
      server.close();
      await once(server, 'close');
    },
  };
}
