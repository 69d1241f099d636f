// The line a log-based metric reads time to ready from (infra/gcp/metrics.ts): one 'tenant ready'
// line when provision first reads a tenant ready (GET /tenants/:id, a sign-up's outcome), with
// its plan, the seconds from accepted to reachable, and each phase's seconds after the one before
// (the cluster's own times, readiness.ts, so the line's figures do not depend on when it is read).
//
// Once per tenant per instance: the tenants already reported are remembered, bounded. Two
// instances that both read a tenant ready each write the line (nothing in the cluster records it),
// so the metric's count can exceed the tenants; its values are the same figures either way.
import { jsonLogger, type Logger } from '../../shared/log.ts';
import { RecentKeys } from '../../shared/pubsub/push.ts';
import type { Phase, PhaseName } from './readiness.ts';

/** The line's field for a phase's seconds: namespace-active -> namespaceActiveSeconds. */
export const phaseField = (phase: PhaseName) =>
  `${phase.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())}Seconds`;

const seconds = (from: string | undefined, to: string | undefined) =>
  Math.max(0, (Date.parse(to ?? '') - Date.parse(from ?? '')) / 1000);

/** The line's fields for a ready tenant's phases; undefined unless every phase has its time. */
export function readyFields(phases: Phase[]): Record<string, number> | undefined {
  if (!phases.length || phases.some((p) => !p.reached || !p.at)) return undefined;
  const fields: Record<string, number> = {
    readySeconds: seconds(phases[0]?.at, phases.at(-1)?.at),
  };
  for (const [i, phase] of phases.entries())
    if (i > 0) fields[phaseField(phase.name)] = seconds(phases[i - 1]?.at, phase.at);
  return fields;
}

const reported = new RecentKeys(10_000);

/** Writes the 'tenant ready' line the first time this instance reads `namespace` ready. */
export function reportReady(
  tenant: { customerId: string; namespace: string; plan: string; phases: Phase[] },
  log: Logger = jsonLogger,
): void {
  if (reported.has(tenant.namespace)) return;
  const fields = readyFields(tenant.phases);
  if (!fields) return;
  reported.add(tenant.namespace);
  log('INFO', 'tenant ready', {
    customerId: tenant.customerId,
    namespace: tenant.namespace,
    plan: tenant.plan,
    ...fields,
  });
}
