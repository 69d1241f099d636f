import { mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { execCredential, fromKubeconfig, inCluster, tokenFile } from './config.ts';
import { KubeError } from './errors.ts';

let dir: string;
const b64 = (text: string) => Buffer.from(text).toString('base64');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubefn-config-'));
  await writeFile(join(dir, 'ca.pem'), 'CA FROM FILE');
  await writeFile(join(dir, 'token'), 'file-token\n');
  await writeFile(
    join(dir, 'kubeconfig'),
    `apiVersion: v1
kind: Config
current-context: files
contexts:
- name: files
  context: {cluster: one, user: certs}
- name: inline
  context: {cluster: two, user: bearer}
- name: insecure
  context: {cluster: three, user: bearer}
- name: from-file
  context: {cluster: two, user: token-file}
clusters:
- name: one
  cluster: {server: "https://one.example:6443/", certificate-authority: ca.pem}
- name: two
  cluster: {server: "https://two.example", certificate-authority-data: ${b64('CA INLINE')}}
- name: three
  cluster: {server: "https://three.example", insecure-skip-tls-verify: true}
users:
- name: certs
  user: {client-certificate-data: ${b64('CERT')}, client-key-data: ${b64('KEY')}}
- name: bearer
  user: {token: inline-token}
- name: token-file
  user: {tokenFile: ${join(dir, 'token')}}
`,
  );
});

describe('fromKubeconfig', () => {
  test('the current context, a CA file relative to the kubeconfig, client certificate data', async () => {
    const config = await fromKubeconfig({ path: join(dir, 'kubeconfig') });
    expect(config).toMatchObject({
      server: 'https://one.example:6443',
      ca: 'CA FROM FILE',
      cert: 'CERT',
      key: 'KEY',
    });
    expect(config.token).toBeUndefined();
  });

  test('a named context with inline CA data and a bearer token', async () => {
    const config = await fromKubeconfig({ path: join(dir, 'kubeconfig'), context: 'inline' });
    expect(config.ca).toBe('CA INLINE');
    expect(await config.token?.()).toBe('inline-token');
  });

  test('a tokenFile user', async () => {
    const config = await fromKubeconfig({ path: join(dir, 'kubeconfig'), context: 'from-file' });
    expect(await config.token?.()).toBe('file-token');
  });

  test('insecure TLS is refused unless explicitly allowed', async () => {
    const path = join(dir, 'kubeconfig');
    const refused = await fromKubeconfig({ path, context: 'insecure' }).catch((e: unknown) => e);
    expect((refused as KubeError).code).toBe('config');
    const allowed = await fromKubeconfig({ path, context: 'insecure', allowInsecure: true });
    expect(allowed.insecureSkipTlsVerify).toBe(true);
  });

  test.each([
    [{ context: 'absent' }, 'no context named absent'],
    [{ path: '/nonexistent/kubeconfig' }, 'cannot read kubeconfig'],
  ])('%o is a clear config error', async (options, message) => {
    const error = await fromKubeconfig({ path: join(dir, 'kubeconfig'), ...options }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KubeError);
    expect((error as KubeError).message).toContain(message);
  });
});

test('tokenFile re-reads the token when the file changes (kubelet rotation)', async () => {
  const path = join(dir, 'rotating');
  await writeFile(path, 'first');
  const provider = tokenFile(path);
  expect(await provider()).toBe('first');
  await writeFile(path, 'second');
  await utimes(path, new Date(), new Date(Date.now() + 5_000));
  expect(await provider()).toBe('second');
});

test('inCluster: service host and port, mounted CA and token', async () => {
  const sa = await mkdtemp(join(tmpdir(), 'kubefn-sa-'));
  await writeFile(join(sa, 'ca.crt'), 'POD CA');
  await writeFile(join(sa, 'token'), 'pod-token');
  const config = await inCluster({
    env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' },
    directory: sa,
  });
  expect(config).toMatchObject({ server: 'https://10.0.0.1:443', ca: 'POD CA' });
  expect(await config.token?.()).toBe('pod-token');
  const ipv6 = await inCluster({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1' }, directory: sa });
  expect(ipv6.server).toBe('https://[fd00::1]:443');
  const outside = await inCluster({ env: {}, directory: sa }).catch((e: unknown) => e);
  expect((outside as KubeError).code).toBe('config');
});

test('an exec credential plugin runs once and its token is reused until it nears expiry', async () => {
  const counter = join(dir, 'exec-count');
  const plugin = join(dir, 'plugin.mjs');
  await writeFile(
    plugin,
    `import { appendFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(counter)}, 'x');
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
console.log(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential',
  status: { token: 'exec-' + process.env.EXTRA, expirationTimestamp: new Date(Date.now() + 3600e3).toISOString() } }));`,
  );
  const provider = execCredential(
    { command: process.execPath, args: [plugin], env: [{ name: 'EXTRA', value: 'token' }] },
    'https://x',
  );
  expect(await Promise.all([provider(), provider()])).toEqual(['exec-token', 'exec-token']);
  expect(await provider()).toBe('exec-token');
  const { readFile } = await import('node:fs/promises');
  expect(await readFile(counter, 'utf8')).toBe('x');
  const broken = execCredential(
    { command: process.execPath, args: ['-e', 'process.exit(3)'] },
    'https://x',
  );
  expect(((await Promise.resolve(broken()).catch((e: unknown) => e)) as KubeError).code).toBe(
    'config',
  );
});
