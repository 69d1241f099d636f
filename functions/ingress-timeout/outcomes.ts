// The words ingress-timeout's parts share, in one file that imports none of them: how a timeout
// is applied (the mode), what one backend and one Ingress came to, and the field manager its
// writes carry. reconcile.ts drives backendconfig.ts and compute.ts; both report a BackendResult.

/** BackendConfig (GKE's way) or a PATCH of the backend service through the Compute API. */
export const timeoutModes = ['backendconfig', 'compute'] as const;
export type Mode = (typeof timeoutModes)[number];

/** The name kubefn's writes of timeouts carry (server-side apply and the applied record). */
export const fieldManager = 'kubefn-ingress-timeout';

export type BackendResult = {
  service: string;
  port: string | number | undefined;
  outcome: 'updated' | 'unchanged' | 'waiting' | 'failed';
  backendConfig?: string;
  backendService?: string;
  /** Why it failed: kubefn's code, or the cluster's or Compute's (forbidden, invalid, ...). */
  code?: string;
  /** Words safe to show a caller; the dependency's own message (RBAC text, URLs) is only logged. */
  detail?: string;
};

/** What reconciling one Ingress came to; the scheduled check counts each. */
export const reconcileOutcomes = [
  'applied',
  'unchanged',
  'not-annotated',
  'invalid',
  'not-found',
  'stale',
  'waiting',
  'failed',
] as const;
export type ReconcileOutcome = (typeof reconcileOutcomes)[number];
