// The Services an Ingress sends traffic to (its default backend and every path's backend), each
// with the Service port it names, and how GKE names the load balancer's backend service for it.
import type { KubeObject } from '../../shared/kube/index.ts';

export type PortRef = { name?: string; number?: number };
export type IngressBackend = { service: string; port: PortRef };

type ServiceBackend = { service?: { name?: string; port?: PortRef } };
export type Ingress = KubeObject & {
  spec?: {
    ingressClassName?: string;
    defaultBackend?: ServiceBackend;
    rules?: { http?: { paths?: { backend?: ServiceBackend }[] } }[];
  };
};
export type ServicePort = { name?: string; port: number; nodePort?: number };
export type Service = KubeObject & { spec?: { ports?: ServicePort[] } };

export function ingressBackends(ingress: Ingress): IngressBackend[] {
  const all = [
    ingress.spec?.defaultBackend,
    ...(ingress.spec?.rules ?? []).flatMap((rule) =>
      (rule.http?.paths ?? []).map((path) => path.backend),
    ),
  ];
  const unique = new Map<string, IngressBackend>();
  for (const backend of all) {
    const service = backend?.service;
    if (!service?.name) continue;
    const port = service.port ?? {};
    unique.set(`${service.name}:${port.name ?? port.number}`, { service: service.name, port });
  }
  return [...unique.values()];
}

export const noService = 'the Service the Ingress names does not exist';
export const noPort = 'the Service has no such port';

/** The Service's port an Ingress backend refers to (by name or by number). */
export function servicePort(service: Service, port: PortRef): ServicePort | undefined {
  return service.spec?.ports?.find((p) =>
    port.name !== undefined ? p.name === port.name : p.port === port.number,
  );
}

/**
 * The backend service GKE made for this Service port, among the Ingress's synced backends
 * (`ingress.kubernetes.io/backends`): exactly the NEG named in the Service's
 * `cloud.google.com/neg-status` when it uses NEGs, else the instance-group backend of its
 * NodePort (`k8s-be-<nodePort>--<cluster uid>`). The default backend is never among them.
 */
export function gceBackendName(
  service: Service,
  port: ServicePort,
  synced: string[],
): string | undefined {
  const negStatus = service.metadata?.annotations?.['cloud.google.com/neg-status'];
  if (negStatus) {
    try {
      const groups = (JSON.parse(negStatus) as { network_endpoint_groups?: Record<string, string> })
        .network_endpoint_groups;
      const neg = groups?.[String(port.port)];
      if (neg) return synced.includes(neg) ? neg : undefined;
    } catch {
      // Not JSON: fall back to the NodePort name.
    }
  }
  if (port.nodePort === undefined) return undefined;
  return synced.find((name) => name.startsWith(`k8s-be-${port.nodePort}--`));
}

/** Backend service names from `ingress.kubernetes.io/backends`; empty until GKE has synced. */
export function syncedBackends(ingress: Ingress): string[] {
  const raw = ingress.metadata?.annotations?.['ingress.kubernetes.io/backends'];
  if (!raw || raw === 'Unknown') return [];
  try {
    const parsed = JSON.parse(raw) as unknown;
    return parsed && typeof parsed === 'object' ? Object.keys(parsed) : [];
  } catch {
    return [];
  }
}
