// Mode "backendconfig", GKE's own way: the timeout lives in a BackendConfig (cloud.google.com/v1)
// that each backing Service names in its `cloud.google.com/backend-config` annotation, so
// ingress-gce applies it and keeps it applied. A Service that already names a BackendConfig for
// the port keeps it: only its timeoutSec changes (server-side apply owns that one field, so any
// other settings stay as they are). Otherwise kubefn creates `kubefn-<service>-<port>` and adds
// that port to the Service's annotation, keeping the annotation's other entries.
import type { Cluster } from '../../shared/kube/index.ts';
import { retryOnConflict } from '../../shared/retry/conflict.ts';
import {
  type IngressBackend,
  noPort,
  noService,
  type Service,
  type ServicePort,
  servicePort,
} from './backends.ts';
import { type BackendResult, fieldManager } from './outcomes.ts';

const annotation = 'cloud.google.com/backend-config';
const betaAnnotation = 'beta.cloud.google.com/backend-config';
type Reference = { default?: string; ports?: Record<string, string> };
type BackendConfig = { spec?: { timeoutSec?: number } };

export async function applyWithBackendConfig(
  cluster: Cluster,
  namespace: string,
  backend: IngressBackend,
  timeoutSec: number,
): Promise<BackendResult> {
  const services = cluster.resource<Service>({ apiVersion: 'v1', kind: 'Service' });
  const configs = cluster.resource({ apiVersion: 'cloud.google.com/v1', kind: 'BackendConfig' });
  const result = { service: backend.service, port: backend.port.name ?? backend.port.number };
  // The Service's annotation is written guarded by the resourceVersion read: on a conflict the
  // Service is read again.
  return retryOnConflict(async (): Promise<BackendResult> => {
    const service = await services.find(backend.service, { namespace });
    if (!service)
      return { ...result, outcome: 'failed', code: 'no-service', detail: noService } as const;
    const port = servicePort(service, backend.port);
    if (!port) return { ...result, outcome: 'failed', code: 'no-port', detail: noPort } as const;
    const reference = readReference(service);
    const { name, named } = backendConfigName(service, backend, port);

    let changed = false;
    const current = (await configs.find(name, { namespace })) as BackendConfig | undefined;
    if (current?.spec?.timeoutSec !== timeoutSec) {
      await configs.apply(
        {
          apiVersion: 'cloud.google.com/v1',
          kind: 'BackendConfig',
          metadata: { name, namespace },
          spec: { timeoutSec },
        } as never,
        { fieldManager, force: true },
      );
      changed = true;
    }
    if (!named) {
      const ports = { ...reference.ports, [port.name ?? String(port.port)]: name };
      await services.patch(
        backend.service,
        {
          metadata: {
            resourceVersion: service.metadata?.resourceVersion,
            annotations: { [annotation]: JSON.stringify({ ...reference, ports }) },
          },
        },
        { namespace, fieldManager },
      );
      changed = true;
    }
    return { ...result, backendConfig: name, outcome: changed ? 'updated' : 'unchanged' } as const;
  });
}

/**
 * The BackendConfig that sets this Service port's timeout: the one the Service names for the
 * port (by name, then number, then `default`), else kubefn's own (`named` false: the Service's
 * annotation must be added).
 */
export function backendConfigName(
  service: Service,
  backend: IngressBackend,
  port: ServicePort,
): { name: string; named: boolean } {
  const reference = readReference(service);
  const named =
    (port.name ? reference.ports?.[port.name] : undefined) ??
    reference.ports?.[String(port.port)] ??
    reference.default;
  return {
    name: named ?? `kubefn-${backend.service}-${port.name ?? port.port}`.slice(0, 253),
    named: named !== undefined,
  };
}

function readReference(service: Service): Reference {
  const annotations = service.metadata?.annotations ?? {};
  const raw = annotations[annotation] ?? annotations[betaAnnotation];
  if (!raw) return {};
  try {
    return JSON.parse(raw) as Reference;
  } catch {
    return {}; // GKE ignores an unparsable reference too; ours replaces it
  }
}
