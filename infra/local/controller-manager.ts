// The local stack's kube-controller-manager, with the controllers tenants and their workloads need.
import { join } from 'node:path';
import { type Agent, fetch } from 'undici';
import { binDir } from './binaries.ts';
import type { Pki } from './pki.ts';
import { type Managed, startProcess } from './processes.ts';
import { waitFor } from './wait-for.ts';

export function startControllerManager(dir: string, pki: Pki, kubeconfig: string): Managed {
  return startProcess(
    dir,
    'kube-controller-manager',
    join(binDir, 'kube-controller-manager'),
    controllerManagerArgs(pki, kubeconfig),
  );
}

/**
 * Ready when its controllers have acted: the serviceaccount controller made the default
 * ServiceAccount and the root-CA publisher the kube-root-ca.crt ConfigMap.
 */
export async function waitForControllerManager(
  controllerManager: Managed,
  server: string,
  admin: Agent,
): Promise<void> {
  await waitFor(controllerManager, 60_000, async () => {
    const paths = [
      '/api/v1/namespaces/default/serviceaccounts/default',
      '/api/v1/namespaces/default/configmaps/kube-root-ca.crt',
    ];
    const answers = await Promise.all(
      paths.map((p) => fetch(`${server}${p}`, { dispatcher: admin })),
    );
    return answers.every((res) => res.status === 200);
  });
}

function controllerManagerArgs(pki: Pki, kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    '--secure-port=0',
    '--leader-elect=false',
    // What tenants need: namespace finalization, default ServiceAccounts and their tokens,
    // owner-reference cleanup, kube-root-ca.crt, quota status and the aggregated admin/edit/view
    // ClusterRoles; and what runs their workloads on the simulated nodes: Deployments,
    // ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs make pods, EndpointSlices point
    // Services at the Ready ones, and finished or orphaned pods are collected.
    `--controllers=${[
      'namespace-controller',
      'serviceaccount-controller',
      'serviceaccount-token-controller',
      'garbage-collector-controller',
      'root-ca-certificate-publisher-controller',
      'resourcequota-controller',
      'clusterrole-aggregation-controller',
      'deployment-controller',
      'replicaset-controller',
      'statefulset-controller',
      'daemonset-controller',
      'job-controller',
      'cronjob-controller',
      'ttl-after-finished-controller',
      'endpointslice-controller',
      'pod-garbage-collector-controller',
    ].join(',')}`,
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    '--concurrent-namespace-syncs=5',
  ];
}
