import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type FakeGoogle, startFakeGoogle } from '../../test/support/fakes/google.ts';
import { selfSignedPem } from '../../test/support/self-signed.ts';
import { EnvError, readEnv } from '../env.ts';
import { metadataAccessToken } from '../gcp/access-token.ts';
import { checkClusterSettings, clusterConfig, clusterEnvEntries } from './connection.ts';

const schema = v.object(clusterEnvEntries);
const read = (env: Record<string, string>) => {
  const settings = readEnv('test', schema, env);
  checkClusterSettings('test', settings);
  return settings;
};

const pem: string | undefined = selfSignedPem('kubefn-test');

describe('cluster connection settings', () => {
  test.each([
    ['nothing: the kubeconfig or the pod', {}, {}],
    [
      'a DNS endpoint, trailing slash dropped',
      { KUBEFN_CLUSTER_SERVER: 'https://gke-0123.europe-west1.gke.goog/' },
      { KUBEFN_CLUSTER_SERVER: 'https://gke-0123.europe-west1.gke.goog' },
    ],
    [
      'an IP endpoint',
      { KUBEFN_CLUSTER_SERVER: 'https://10.0.0.2:443' },
      { KUBEFN_CLUSTER_SERVER: 'https://10.0.0.2:443' },
    ],
  ])('%s', (_what, env, expected) => {
    expect(read(env)).toEqual(expected);
  });

  test('a CA as PEM or as base64 PEM reads as the same PEM', () => {
    expect(pem).toBeDefined();
    const server = 'https://10.0.0.2';
    const base64 = Buffer.from(pem ?? '').toString('base64');
    expect(read({ KUBEFN_CLUSTER_SERVER: server, KUBEFN_CLUSTER_CA: pem ?? '' })).toEqual({
      KUBEFN_CLUSTER_SERVER: server,
      KUBEFN_CLUSTER_CA: pem,
    });
    expect(read({ KUBEFN_CLUSTER_SERVER: server, KUBEFN_CLUSTER_CA: base64 })).toEqual({
      KUBEFN_CLUSTER_SERVER: server,
      KUBEFN_CLUSTER_CA: pem,
    });
  });

  test.each([
    ['plain http', { KUBEFN_CLUSTER_SERVER: 'http://10.0.0.2' }, 'KUBEFN_CLUSTER_SERVER'],
    ['not a URL', { KUBEFN_CLUSTER_SERVER: 'gke.goog' }, 'KUBEFN_CLUSTER_SERVER'],
    [
      'a CA that is not a certificate',
      { KUBEFN_CLUSTER_SERVER: 'https://10.0.0.2', KUBEFN_CLUSTER_CA: 'bm90IGEgY2VydA==' },
      'KUBEFN_CLUSTER_CA',
    ],
    [
      'a CA without a server (it would be silently unused)',
      { KUBEFN_CLUSTER_CA: 'placeholder' },
      'KUBEFN_CLUSTER_CA',
    ],
  ])('refuses %s, naming the variable and not the value', (_what, env, variable) => {
    const given: Record<string, string> = { ...env };
    if (given.KUBEFN_CLUSTER_CA === 'placeholder') given.KUBEFN_CLUSTER_CA = pem ?? '';
    let error: unknown;
    try {
      read(given);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(EnvError);
    expect((error as EnvError).problems.map((p) => p.variable)).toEqual([variable]);
    for (const value of Object.values(given)) expect((error as Error).message).not.toContain(value);
  });
});

describe('a server with a metadata-server token (Cloud Run)', () => {
  let google: FakeGoogle;
  let previousHost: string | undefined;
  beforeAll(async () => {
    google = await startFakeGoogle();
    previousHost = process.env.GCE_METADATA_HOST;
    process.env.GCE_METADATA_HOST = google.metadataHost;
  });
  afterAll(async () => {
    if (previousHost === undefined) delete process.env.GCE_METADATA_HOST;
    else process.env.GCE_METADATA_HOST = previousHost;
    await google.close();
  });

  test('presents the access token, fetched once for concurrent callers and reused', async () => {
    const config = await clusterConfig({
      KUBEFN_CLUSTER_SERVER: 'https://10.0.0.2',
      KUBEFN_CLUSTER_CA: pem,
    });
    expect(config).toMatchObject({ server: 'https://10.0.0.2', ca: pem });
    expect(config.cert).toBeUndefined();
    const before = google.accessToken.requests;
    const tokens = await Promise.all(Array.from({ length: 5 }, () => config.token?.()));
    expect(new Set(tokens)).toEqual(new Set([google.accessToken.value]));
    expect(google.accessToken.requests - before).toBe(1);
    await config.token?.();
    expect(google.accessToken.requests - before).toBe(1);
    // A 401 from the API server drops the cached token: the next request fetches a new one.
    config.invalidateToken?.();
    await config.token?.();
    expect(google.accessToken.requests - before).toBe(2);
  });

  test('the Kubernetes and Compute paths share one token provider', async () => {
    const config = await clusterConfig({ KUBEFN_CLUSTER_SERVER: 'https://10.0.0.2' });
    expect(config.ca).toBeUndefined(); // the system's roots
    expect(config.token).toBe(metadataAccessToken());
  });
});
