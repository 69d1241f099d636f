// How clients reach the local stack's kube-apiserver: kubeconfig files, and the stack's own
// admin connection (the admin client certificate, for its readiness checks and Node objects).
import { readFile, writeFile } from 'node:fs/promises';
import { Agent } from 'undici';
import type { Pki } from './pki.ts';

export type KubeconfigUser = { cert: string; key: string; name?: string };

/** Writes a kubeconfig for `user` (the admin when no name is given), readable by its owner only. */
export async function writeKubeconfig(
  file: string,
  server: string,
  caCert: string,
  user: KubeconfigUser,
): Promise<void> {
  await writeFile(file, kubeconfigYaml(server, caCert, user), { mode: 0o600 });
}

export async function adminAgent(pki: Pki): Promise<Agent> {
  const [ca, cert, key] = await Promise.all(
    [pki.caCert, pki.adminCert, pki.adminKey].map((file) => readFile(file, 'utf8')),
  );
  return new Agent({ connect: { ca, cert, key } });
}

function kubeconfigYaml(server: string, caCert: string, user: KubeconfigUser): string {
  const name = user.name ?? 'kubefn-admin';
  // Paths rather than inline data keep the credentials out of anything that prints the config.
  return `apiVersion: v1
kind: Config
clusters:
- name: kubefn-local
  cluster:
    server: ${server}
    certificate-authority: ${caCert}
users:
- name: ${name}
  user:
    client-certificate: ${user.cert}
    client-key: ${user.key}
contexts:
- name: kubefn-local
  context:
    cluster: kubefn-local
    user: ${name}
current-context: kubefn-local
`;
}
