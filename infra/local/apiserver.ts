// The local stack's kube-apiserver: RBAC, client certificates, service-account tokens signed
// with the stack's key (RS256, as GKE's are), and optionally a TokenReview webhook.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Agent, fetch } from 'undici';
import { binDir } from './binaries.ts';
import type { Pki } from './pki.ts';
import { type Managed, startProcess } from './processes.ts';
import { waitFor } from './wait-for.ts';

export type ApiserverOptions = {
  pki: Pki;
  etcdUrl: string;
  port: number;
  /** Where bearer tokens kube-apiserver does not know itself are reviewed. */
  tokenWebhookUrl?: string | undefined;
  /** host:port of an OTLP gRPC receiver for its spans (tracingConfig below). */
  tracingEndpoint?: string | undefined;
};

/**
 * kube-apiserver's arguments; a TokenReview webhook's kubeconfig is written to `dir`. Computed
 * once: a restart (the fault tests') starts it again with the same ones.
 */
export async function apiserverArgs(dir: string, options: ApiserverOptions): Promise<string[]> {
  const { pki, etcdUrl, port, tokenWebhookUrl, tracingEndpoint } = options;
  return [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${pki.caCert}`,
    '--authorization-mode=RBAC',
    // 65,534 Service addresses: every tenant's bundle has one Service, and the stack is to hold
    // tens of thousands of tenants (a /24 ran out at about 250).
    '--service-cluster-ip-range=10.0.0.0/16',
    `--service-account-issuer=https://127.0.0.1:${port}`,
    `--service-account-key-file=${pki.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    // The "kubernetes" Service's endpoints would point at 127.0.0.1, which Endpoints reject.
    '--endpoint-reconciler-type=none',
    // It taints every new Node not-ready:NoSchedule until the node lifecycle controller lifts the
    // taint, and that controller does not run here: kwok's nodes would never take a pod.
    '--disable-admission-plugins=TaintNodesByCondition',
    '--profiling=false',
    ...(tokenWebhookUrl ? await tokenWebhookArgs(dir, tokenWebhookUrl) : []),
    ...(tracingEndpoint
      ? [`--tracing-config-file=${await tracingConfig(dir, tracingEndpoint)}`]
      : []),
  ];
}

/**
 * kube-apiserver's own spans (APIServerTracing, GA), sent over OTLP gRPC without TLS to
 * `endpoint`. Sampling 0 per million under a parent-based sampler (k8s.io/component-base/tracing):
 * only a request that arrives with a sampled `traceparent` is recorded, as a child of the caller's
 * span, so a traced sign-up shows the API server's work and nothing else is exported. With no
 * receiver listening the exporter drops what it cannot send.
 */
async function tracingConfig(dir: string, endpoint: string): Promise<string> {
  const file = join(dir, 'tracing-config.json');
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'TracingConfiguration',
      endpoint,
      samplingRatePerMillion: 0,
    }),
  );
  return file;
}

export function startApiserver(dir: string, args: string[]): Managed {
  return startProcess(dir, 'kube-apiserver', join(binDir, 'kube-apiserver'), args);
}

export async function waitForApiserver(
  apiserver: Managed,
  server: string,
  admin: Agent,
): Promise<void> {
  await waitFor(apiserver, 90_000, async () => {
    const res = await fetch(`${server}/readyz`, { dispatcher: admin });
    return res.status === 200;
  });
}

async function tokenWebhookArgs(dir: string, url: string): Promise<string[]> {
  const config = join(dir, 'token-webhook.kubeconfig');
  await writeFile(
    config,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'token-webhook', cluster: { server: url } }],
      users: [{ name: 'kube-apiserver', user: {} }],
      contexts: [
        { name: 'webhook', context: { cluster: 'token-webhook', user: 'kube-apiserver' } },
      ],
      'current-context': 'webhook',
    }),
  );
  return [
    `--authentication-token-webhook-config-file=${config}`,
    '--authentication-token-webhook-version=v1',
  ];
}
