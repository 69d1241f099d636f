// FAKE: the Google side of GKE's identity path, which cannot run here. On GKE a Cloud Run
// function presents its service account's access token (from the instance's metadata server);
// GKE asks Google whose token it is and RBAC sees the User named by the account's email. Here:
// - a metadata server per instance (one port per service-account email), answering the
//   documented token endpoint (only with `Metadata-Flavor: Google`) with an opaque access token;
// - a TokenReview webhook (authentication.k8s.io/v1) that the real kube-apiserver calls for
//   bearer tokens it does not know (--authentication-token-webhook-config-file): a token this
//   fake issued and that has not expired authenticates as its email, anything else does not.
// Started once per test run by global-setup.ts, before the stack, so kube-apiserver can point at
// it; test workers ask it for an instance over a small control route (POST /fake/instances).
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeGoogleIdentity = {
  /** What kube-apiserver's webhook kubeconfig points at. */
  tokenReviewUrl: string;
  /** Base URL of the control route, for test workers (see test/support/google-identity.ts). */
  controlUrl: string;
  /** host:port of a metadata server whose default account is `email` (GCE_METADATA_HOST). */
  metadataServerFor(email: string): Promise<string>;
  close(): Promise<void>;
};

const tokenLifetimeSeconds = 3599;

export async function startFakeGoogleIdentity(): Promise<FakeGoogleIdentity> {
  const issued = new Map<string, { email: string; expiresAt: number }>();
  const instances = new Map<string, { server: Server; host: string }>();

  const metadataServerFor = async (email: string): Promise<string> => {
    const existing = instances.get(email);
    if (existing) return existing.host;
    const server = createServer((req, res) => {
      if (req.url !== '/computeMetadata/v1/instance/service-accounts/default/token') {
        res.writeHead(404).end();
        return;
      }
      if (req.headers['metadata-flavor'] !== 'Google') {
        res.writeHead(403).end('Missing Metadata-Flavor:Google header.');
        return;
      }
      const token = `ya29.fake-${randomBytes(24).toString('base64url')}`;
      issued.set(token, { email, expiresAt: Date.now() + tokenLifetimeSeconds * 1000 });
      json(res, 200, {
        access_token: token,
        expires_in: tokenLifetimeSeconds,
        token_type: 'Bearer',
      });
    });
    const host = await listen(server);
    instances.set(email, { server, host });
    return host;
  };

  const main = createServer(async (req, res) => {
    try {
      const path = new URL(req.url ?? '/', 'http://fake').pathname; // kube-apiserver adds ?timeout=
      if (req.method === 'POST' && path === '/tokenreview') {
        const review = JSON.parse(await body(req)) as {
          spec?: { token?: string; audiences?: string[] };
        };
        const found = issued.get(review.spec?.token ?? '');
        const valid = found !== undefined && found.expiresAt > Date.now();
        json(res, 200, {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          status: valid
            ? {
                authenticated: true,
                user: { username: found.email, uid: found.email, groups: [] },
                // Google access tokens are not audience-bound: valid for the API server itself.
                ...(review.spec?.audiences ? { audiences: review.spec.audiences } : {}),
              }
            : { authenticated: false },
        });
        return;
      }
      if (req.method === 'POST' && path === '/fake/instances') {
        const { email } = JSON.parse(await body(req)) as { email?: string };
        if (!email) return json(res, 400, { error: 'email required' });
        return json(res, 200, { metadataHost: await metadataServerFor(email) });
      }
      res.writeHead(404).end();
    } catch (error) {
      json(res, 500, { error: (error as Error).message });
    }
  });
  const host = await listen(main);
  return {
    tokenReviewUrl: `http://${host}/tokenreview`,
    controlUrl: `http://${host}`,
    metadataServerFor,
    close: async () => {
      for (const server of [main, ...[...instances.values()].map((i) => i.server)]) {
        server.close();
        server.closeAllConnections();
        await once(server, 'close');
      }
    },
  };
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}
