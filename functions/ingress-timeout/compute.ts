// Mode "compute", the second talk's way: set timeoutSec on the load balancer's backend service
// through the Compute API. GKE does not enforce timeoutSec unless a BackendConfig sets it, so a
// patched value survives normal syncs, but not a re-created backend service: the resync job
// puts it back. Each backend service is read, patched with the fingerprint it was read with (a
// stale one gets 412: read again, bounded), and the Operation waited for.
import { randomUUID } from 'node:crypto';
import { type ComputeClient, ComputeError } from '../../shared/gcp/compute.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { gceBackendName, type IngressBackend, type Service, servicePort } from './backends.ts';
import type { BackendResult } from './reconcile.ts';

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
    .get(backend.service, { namespace });
  const port = servicePort(service, backend.port);
  if (!port) return { ...result, outcome: 'failed', detail: 'the Service has no such port' };
  const name = gceBackendName(service, port, synced);
  // Not among the synced backends yet: GKE writes them later, and that change comes back here.
  if (!name) return { ...result, outcome: 'waiting', detail: 'no synced backend service yet' };

  const ref = { project: target.project, region: target.region, name };
  for (let attempt = 1; ; attempt++) {
    const current = await target.client.getBackendService(ref);
    if (current.timeoutSec === timeoutSec)
      return { ...result, backendService: name, outcome: attempt === 1 ? 'unchanged' : 'updated' };
    try {
      const patch = { timeoutSec, fingerprint: current.fingerprint };
      const operation = await patchOnce(target.client, ref, patch);
      await target.client.waitForOperation(ref, operation);
      return { ...result, backendService: name, outcome: 'updated' };
    } catch (error) {
      // Someone else changed it since we read it: read again.
      if (error instanceof ComputeError && error.code === 'conflict' && attempt < 5) continue;
      throw error;
    }
  }
}

/**
 * One logical PATCH: when the answer is lost (network, 5xx), it is sent again with the same
 * requestId, which Compute applies at most once.
 */
async function patchOnce(
  client: ComputeClient,
  ref: Parameters<ComputeClient['patchBackendService']>[0],
  patch: { timeoutSec: number; fingerprint: string },
) {
  const requestId = randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.patchBackendService(ref, patch, requestId);
    } catch (error) {
      if (!(error instanceof ComputeError && error.retryable) || attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}
