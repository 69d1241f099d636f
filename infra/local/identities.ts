// kubefn's identities on the local stack: applies infra/k8s/rbac.yaml as the admin, and gives
// each deployable a kubeconfig that acts as its own ServiceAccount (a real TokenRequest token),
// so that RBAC is enforced on the functions exactly as on a cluster. The bindings also name the
// Google service accounts of the local project, as GKE Users: the tests call as those too,
// through the fake Google's token webhook (test/support/fakes/google-identity.ts).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  accountId,
  type SubjectSource,
  subjectsByIdentity,
  systemNamespace,
} from '../../shared/identities.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { applyRbac } from '../k8s/rbac.ts';
import { pubsubProject } from './stack.ts';

export { systemNamespace };
/** Local stand-ins for Google service accounts that only call functions (no cluster rights):
 * the signup backend, the Pub/Sub push subscription, and Cloud Scheduler. */
export const signupAccount = accountId('signup');
export const pushAccount = accountId('push');
export const schedulerAccount = accountId('scheduler');
/** Placement's identity in each cell's cluster: what it presents to that cell's provision. */
export const placementAccount = accountId('placement');
/** A local operator (a person's Google account in a deployment): moves tenants, drains cells. */
export const operatorAccount = 'kubefn-operator';
/** How a function's allow-list (KUBEFN_ALLOW_*) names one of these accounts' tokens. */
export const principal = (account: string) => `system:serviceaccount:${systemNamespace}:${account}`;

/** Who the local bindings name: the ServiceAccounts, and the local project's Google accounts. */
export const localSubjectSources: SubjectSource[] = [
  { kind: 'serviceaccounts' },
  { kind: 'google', project: pubsubProject },
];
/** The same, as KUBEFN_RBAC_SUBJECTS for the local provisioner. */
export const localSubjectsSetting = `serviceaccounts,google:${pubsubProject}`;
export const localSubjects = subjectsByIdentity(localSubjectSources);

export async function applyIdentities(admin: Cluster): Promise<void> {
  await applyRbac(admin, localSubjectSources);
  const accounts = admin.resource({ apiVersion: 'v1', kind: 'ServiceAccount' });
  for (const name of [
    signupAccount,
    pushAccount,
    schedulerAccount,
    placementAccount,
    operatorAccount,
  ])
    await accounts.apply(
      { metadata: { name, namespace: systemNamespace } },
      { fieldManager: 'kubefn-local', force: true },
    );
}

/** A token for kubefn-system/<account>, from the real TokenRequest API. */
export async function mintToken(
  admin: Cluster,
  account: string,
  options: { audiences?: string[]; expirationSeconds?: number } = {},
): Promise<string> {
  const spec = {
    expirationSeconds: options.expirationSeconds ?? 24 * 3600,
    ...(options.audiences ? { audiences: options.audiences } : {}),
  };
  const res = await admin.client.request<{ status: { token: string } }>(
    `/api/v1/namespaces/${systemNamespace}/serviceaccounts/${account}/token`,
    { method: 'POST', body: { spec } },
  );
  return res.status.token;
}

/** Writes <dir>/<account>.kubeconfig that authenticates as kubefn-system/<account>. */
export async function kubeconfigFor(
  admin: Cluster,
  stack: { dir: string; server: string; caFile: string },
  account: string,
): Promise<string> {
  const tokenFile = join(stack.dir, `${account}.token`);
  await writeFile(tokenFile, await mintToken(admin, account), { mode: 0o600 });
  const path = join(stack.dir, `${account}.kubeconfig`);
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': account,
      clusters: [
        { name: 'local', cluster: { server: stack.server, 'certificate-authority': stack.caFile } },
      ],
      users: [{ name: account, user: { tokenFile } }],
      contexts: [{ name: account, context: { cluster: 'local', user: account } }],
    }),
    { mode: 0o600 },
  );
  return path;
}
