// The local stack's kube-scheduler, as system:kube-scheduler (what Kubernetes' bootstrap RBAC
// grants a scheduler), serving no port.
import { join } from 'node:path';
import { type Agent, fetch } from 'undici';
import { binDir } from './binaries.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import type { Pki } from './pki.ts';
import { type Managed, startProcess } from './processes.ts';
import { waitFor } from './wait-for.ts';

export async function startScheduler(dir: string, server: string, pki: Pki): Promise<Managed> {
  const kubeconfig = join(dir, 'kube-scheduler.kubeconfig');
  await writeKubeconfig(kubeconfig, server, pki.caCert, {
    cert: pki.schedulerCert,
    key: pki.schedulerKey,
    name: 'kube-scheduler',
  });
  return startProcess(dir, 'kube-scheduler', join(binDir, 'kube-scheduler'), [
    `--kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--secure-port=0',
  ]);
}

/**
 * kube-scheduler serves no port here (--secure-port=0): it is ready when it has acted on a pod.
 * A probe pod in `default` is scheduled (bound to a node, or marked Unschedulable when there is
 * none) and then deleted at once, its container never run.
 */
export async function waitForScheduler(scheduler: Managed, server: string, admin: Agent) {
  const pods = `${server}/api/v1/namespaces/default/pods`;
  const name = 'kubefn-scheduler-probe';
  const probe = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      containers: [{ name: 'probe', image: 'kubefn.local/probe' }],
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
    },
  };
  const created = await fetch(pods, {
    method: 'POST',
    dispatcher: admin,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(probe),
  });
  if (created.status !== 201)
    throw new Error(`could not create the scheduler's probe pod: ${await created.text()}`);
  try {
    await waitFor(scheduler, 60_000, async () => {
      const pod = (await (await fetch(`${pods}/${name}`, { dispatcher: admin })).json()) as {
        spec?: { nodeName?: string };
        status?: { conditions?: { type: string }[] };
      };
      return Boolean(
        pod.spec?.nodeName || pod.status?.conditions?.some((c) => c.type === 'PodScheduled'),
      );
    });
  } finally {
    await fetch(`${pods}/${name}?gracePeriodSeconds=0`, { method: 'DELETE', dispatcher: admin })
      .then((res) => res.body?.cancel())
      .catch(() => {});
  }
}
