// Mode "compute": set timeoutSec on the load balancer's backend service directly
// through the Compute API. GKE does not enforce timeoutSec unless a BackendConfig sets it, so a
// patched value survives normal syncs, but not a re-created backend service: the resync job
// puts it back. Each backend service is read, patched with the fingerprint it was read with (a
// stale one gets 412: read again, bounded), and the Operation waited for.
import type { ComputeClient } from '../../shared/gcp/compute.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { retryOnConflict } from '../../shared/retry/conflict.ts';
import {
  gceBackendName,
  type IngressBackend,
  noPort,
  noService,
  type Service,
  servicePort,
} from './backends.ts';
import type { BackendResult } from './outcomes.ts';

export type ComputeTarget = { client: ComputeClient; project: string; region?: string | undefined };

export async function applyWithCompute(
  cluster: Cluster,
  namespace: string,
  backend: IngressBackend,
  synced: string[],
  timeoutSec: number,
  target: ComputeTarget,
): Promise<BackendResult> {
  const result = { service: backend.service, port: backend.port.name ?? backend.port.number };
  const service = await cluster
    .resource<Service>({ apiVersion: 'v1', kind: 'Service' })
    .find(backend.service, { namespace });
  if (!service) return { ...result, outcome: 'failed', code: 'no-service', detail: noService };
  const port = servicePort(service, backend.port);
  if (!port) return { ...result, outcome: 'failed', code: 'no-port', detail: noPort };
  const name = gceBackendName(service, port, synced);
  // Not among the synced backends yet: GKE writes them later, and that change comes back here.
  if (!name) return { ...result, outcome: 'waiting', detail: 'no synced backend service yet' };

  const ref = { project: target.project, region: target.region, name };
  // A stale fingerprint (412, code 'conflict': someone else changed it since we read it) reads
  // again. A lost answer is resent by the client with the same requestId, applied at most once.
  return retryOnConflict(async (attempt): Promise<BackendResult> => {
    const current = await target.client.getBackendService(ref);
    if (current.timeoutSec === timeoutSec)
      return { ...result, backendService: name, outcome: attempt === 1 ? 'unchanged' : 'updated' };
    const patch = { timeoutSec, fingerprint: current.fingerprint };
    const operation = await target.client.patchBackendService(ref, patch);
    await target.client.waitForOperation(ref, operation);
    return { ...result, backendService: name, outcome: 'updated' };
  });
}
