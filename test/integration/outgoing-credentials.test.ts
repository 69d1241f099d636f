// Outgoing credentials: a Google access token from the metadata server (the fake one: the real
// one exists only on Google Cloud), cached and shared, plugged into shared/kube as its token
// provider the way a Cloud Run function reaches GKE; and a Kubernetes token file re-read on
// rotation, against the real kube-apiserver.

import { readFileSync } from 'node:fs';
import { mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { metadataAccessToken } from '../../shared/gcp/access-token.ts';
import { Cluster, type KubeError, tokenFile } from '../../shared/kube/index.ts';
import {
  closeTestNamespace,
  openTestNamespace,
  serviceAccountToken,
  stack,
} from '../support/cluster.ts';
import { type FakeGoogle, startFakeGoogle } from '../support/fakes/google.ts';

let admin: Cluster;
let ns: string;
let google: FakeGoogle;
const ca = readFileSync(stack.caFile, 'utf8');

beforeAll(async () => {
  ({ cluster: admin, ns } = await openTestNamespace('creds'));
  google = await startFakeGoogle();
  const accounts = admin.resource({ apiVersion: 'v1', kind: 'ServiceAccount' });
  for (const name of ['first', 'second'])
    await accounts.create({ metadata: { name, namespace: ns } });
});
afterAll(async () => {
  await google.close();
  await closeTestNamespace(admin, ns);
});

const whoami = async (cluster: Cluster) =>
  (
    await cluster.client.request<{ status: { userInfo: { username: string } } }>(
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      {
        method: 'POST',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      },
    )
  ).status.userInfo.username;

test('the metadata access token is fetched once, shared, and used by shared/kube', async () => {
  google.accessToken.value = await serviceAccountToken(admin, ns, 'first');
  google.accessToken.requests = 0;
  const token = metadataAccessToken({ host: google.metadataHost });
  const cluster = new Cluster({ server: stack.server, ca, token });
  const answers = await Promise.all([whoami(cluster), whoami(cluster), whoami(cluster)]);
  expect(answers).toEqual(Array(3).fill(`system:serviceaccount:${ns}:first`));
  expect(google.accessToken.requests).toBe(1);
  await cluster.close();
});

test('a token about to expire is refreshed first', async () => {
  google.accessToken.value = 'short-lived';
  google.accessToken.expiresIn = 60; // inside the five-minute refresh margin
  google.accessToken.requests = 0;
  const token = metadataAccessToken({ host: google.metadataHost });
  token.invalidate(); // the provider is shared: drop the previous test's token
  await token();
  await token();
  expect(google.accessToken.requests).toBe(2);
  google.accessToken.expiresIn = 3599;
});

test('a metadata server that is not there is a clear error', async () => {
  const token = metadataAccessToken({ host: '127.0.0.1:1', timeoutMs: 1_000 });
  await expect(token()).rejects.toThrow(/cannot reach the metadata server/);
});

test('a rotated service-account token file is read again, and a 401 triggers the re-read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubefn-token-'));
  const path = join(dir, 'token');
  await writeFile(path, await serviceAccountToken(admin, ns, 'first'));
  const provider = tokenFile(path);
  const cluster = new Cluster({
    server: stack.server,
    ca,
    token: provider,
    invalidateToken: provider.invalidate,
  });
  expect(await whoami(cluster)).toBe(`system:serviceaccount:${ns}:first`);

  await writeFile(path, await serviceAccountToken(admin, ns, 'second'));
  await utimes(path, new Date(), new Date(Date.now() + 5_000));
  expect(await whoami(cluster)).toBe(`system:serviceaccount:${ns}:second`);

  await writeFile(path, 'not-a-valid-token');
  await utimes(path, new Date(), new Date(Date.now() + 10_000));
  const failure = await whoami(cluster).catch((e: KubeError) => e);
  expect((failure as KubeError).code).toBe('unauthorized');
  await cluster.close();
});
