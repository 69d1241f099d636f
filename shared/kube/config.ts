// Where the cluster is and how to prove who we are: from a kubeconfig, from inside a pod, or
// given explicitly (server, CA, token provider: a Google access token plugs in here).
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { cachedToken, type RefreshingProvider } from '../transport/cached-token.ts';
import type { Endpoint } from '../transport/https-client.ts';
import { KubeError } from './errors.ts';

/** Returns a bearer token; called before every request, so it must cache what it fetches. */
export type TokenProvider = NonNullable<Endpoint['token']>;

/** The API server, its CA, and our credentials (client certificate or token). */
export type ClusterConfig = Endpoint;

export type KubeconfigOptions = {
  /** Defaults to $KUBECONFIG (first entry), then ~/.kube/config. */
  path?: string;
  /** Defaults to the file's current-context. */
  context?: string;
  /** A kubeconfig that turns off TLS verification is refused unless this is true. */
  allowInsecure?: boolean;
};

const fail = (message: string) => new KubeError('config', message);

/** Reads a kubeconfig file (YAML or JSON). */
export async function fromKubeconfig(options: KubeconfigOptions = {}): Promise<ClusterConfig> {
  const path =
    options.path ??
    process.env.KUBECONFIG?.split(':').find(Boolean) ??
    join(homedir(), '.kube', 'config');
  const text = readText(path, () => fail(`cannot read kubeconfig ${path}`));
  // JSON (which tools and kubefn itself write) is parsed natively; YAML by the `yaml` package,
  // loaded only then: in-cluster code and JSON kubeconfigs never pay for it (~25 ms).
  const doc = (
    text.trimStart().startsWith('{') ? JSON.parse(text) : ((await import('yaml')).parse(text) ?? {})
  ) as Kubeconfig;
  const contextName = options.context ?? doc['current-context'];
  if (!contextName) throw fail(`kubeconfig ${path} has no current-context; name one`);
  const context = named(doc.contexts, contextName, 'context', path).context;
  const cluster = named(doc.clusters, context?.cluster, 'cluster', path).cluster ?? {};
  const user = context?.user ? (named(doc.users, context.user, 'user', path).user ?? {}) : {};
  const base = dirname(path);
  const file = (p: string) => readText(isAbsolute(p) ? p : join(base, p));
  const data = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

  if (!cluster.server) throw fail(`cluster of context ${contextName} has no server`);
  if (cluster['insecure-skip-tls-verify'] && !options.allowInsecure) {
    throw fail(
      `context ${contextName} turns off TLS verification; pass allowInsecure to accept it`,
    );
  }
  const config: ClusterConfig = { server: cluster.server.replace(/\/+$/, '') };
  if (cluster['insecure-skip-tls-verify']) config.insecureSkipTlsVerify = true;
  if (cluster['certificate-authority-data'])
    config.ca = data(cluster['certificate-authority-data']);
  else if (cluster['certificate-authority']) config.ca = file(cluster['certificate-authority']);
  if (user['client-certificate-data']) config.cert = data(user['client-certificate-data']);
  else if (user['client-certificate']) config.cert = file(user['client-certificate']);
  if (user['client-key-data']) config.key = data(user['client-key-data']);
  else if (user['client-key']) config.key = file(user['client-key']);
  if (user.token) {
    const token = user.token;
    config.token = () => token;
  } else if (user.tokenFile) {
    const provider = tokenFile(user.tokenFile);
    config.token = provider;
    config.invalidateToken = provider.invalidate;
  } else if (user.exec) {
    const provider = execCredential(user.exec, config.server);
    config.token = provider;
    config.invalidateToken = provider.invalidate;
  }
  return config;
}

export type InClusterOptions = {
  env?: NodeJS.ProcessEnv;
  /** Defaults to the projected service-account volume. */
  directory?: string;
};

/** Inside a pod: KUBERNETES_SERVICE_HOST/PORT, the mounted CA and the rotating token. */
export async function inCluster(options: InClusterOptions = {}): Promise<ClusterConfig> {
  const env = options.env ?? process.env;
  const dir = options.directory ?? '/var/run/secrets/kubernetes.io/serviceaccount';
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw fail('not in a pod: KUBERNETES_SERVICE_HOST is not set');
  const ca = readText(join(dir, 'ca.crt'), () =>
    fail(`cannot read the cluster CA at ${join(dir, 'ca.crt')}`),
  );
  const provider = tokenFile(join(dir, 'token'));
  const hostPart = host.includes(':') ? `[${host}]` : host; // IPv6 service addresses
  return {
    server: `https://${hostPart}:${port}`,
    ca,
    token: provider,
    invalidateToken: provider.invalidate,
  };
}

/** In a pod when KUBERNETES_SERVICE_HOST is set, otherwise from the kubeconfig. */
export async function loadConfig(options: KubeconfigOptions = {}): Promise<ClusterConfig> {
  if (!options.path && !process.env.KUBECONFIG && process.env.KUBERNETES_SERVICE_HOST) {
    return inCluster();
  }
  return fromKubeconfig(options);
}

/**
 * A token read from a file and read again when the file changes: kubelet rotates projected
 * service-account tokens in place. One stat per request is cheaper than a stale token.
 */
export function tokenFile(path: string): RefreshingProvider {
  let cached: { token: string; mtimeMs: number } | undefined;
  const provider = async () => {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
      if (cached?.mtimeMs !== mtimeMs) cached = { token: readText(path).trim(), mtimeMs };
    } catch {
      throw fail(`cannot read token file ${path}`);
    }
    return cached.token;
  };
  return Object.assign(provider, {
    invalidate: () => {
      cached = undefined;
    },
  });
}

type ExecConfig = {
  command: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  apiVersion?: string;
};

/**
 * A client-go exec credential plugin (gke-gcloud-auth-plugin, aws-iam-authenticator, ...): runs
 * the command, reads ExecCredential.status.token and reuses it until shortly before it expires.
 */
export function execCredential(exec: ExecConfig, server: string): RefreshingProvider {
  return cachedToken(async () => {
    const apiVersion = exec.apiVersion ?? 'client.authentication.k8s.io/v1';
    const info = {
      apiVersion,
      kind: 'ExecCredential',
      spec: { interactive: false, cluster: { server } },
    };
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
    for (const { name, value } of exec.env ?? []) env[name] = value;
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(exec.command, exec.args ?? [], { env, timeout: 60_000 }, (error, out) =>
        error
          ? reject(
              fail(`exec credential plugin ${exec.command} failed (${error.code ?? 'signal'})`),
            )
          : resolve(out),
      );
    });
    let status: { token?: string; expirationTimestamp?: string } | undefined;
    try {
      status = (JSON.parse(stdout) as { status?: typeof status }).status;
    } catch {
      throw fail(`exec credential plugin ${exec.command} printed no ExecCredential`);
    }
    if (!status?.token) throw fail(`exec credential plugin ${exec.command} returned no token`);
    const expiry = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Infinity;
    return { token: status.token, refreshAt: expiry - 60_000 };
  });
}

type Kubeconfig = {
  'current-context'?: string;
  contexts?: { name: string; context?: { cluster?: string; user?: string; namespace?: string } }[];
  clusters?: {
    name: string;
    cluster?: {
      server?: string;
      'certificate-authority'?: string;
      'certificate-authority-data'?: string;
      'insecure-skip-tls-verify'?: boolean;
    };
  }[];
  users?: {
    name: string;
    user?: {
      token?: string;
      tokenFile?: string;
      'client-certificate'?: string;
      'client-certificate-data'?: string;
      'client-key'?: string;
      'client-key-data'?: string;
      exec?: ExecConfig;
    };
  }[];
};

function named<T extends { name: string }>(
  list: T[] | undefined,
  name: string | undefined,
  what: string,
  path: string,
): T {
  const found = list?.find((entry) => entry.name === name);
  if (!found) throw fail(`kubeconfig ${path} has no ${what} named ${name ?? '(none)'}`);
  return found;
}

/**
 * Kubeconfig, CA, key and token files are small and local, so they are read synchronously: on a
 * cold start each asynchronous read is several thread-pool round trips, and each waits for a
 * main thread that is busy starting the framework (connecting took 38 ms that way).
 */
function readText(path: string, error?: () => KubeError): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw error ? error() : cause;
  }
}
