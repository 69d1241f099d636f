// The CRDs a GKE cluster has and the local stack lacks (BackendConfig), installed before anything
// uses them; waits until the apiserver serves them (condition Established).
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from '../../shared/kube/index.ts';
import { applyManifests } from '../k8s/apply.ts';

export async function installGkeCrds(admin: Cluster): Promise<void> {
  const crds = await applyManifests(
    admin,
    join(import.meta.dirname, '../k8s/crds/backendconfig.yaml'),
  );
  const resource = admin.resource({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
  });
  for (const crd of crds) {
    for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
      const current = await resource.get(crd.metadata?.name ?? '');
      const conditions = (current.status as { conditions?: { type: string; status: string }[] })
        ?.conditions;
      if (conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new Error(`CRD ${crd.metadata?.name} not established within 30 s`);
    }
  }
}
