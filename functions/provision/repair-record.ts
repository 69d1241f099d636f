// A tenant's last repair, kept on its namespace (annotation kubefn.dev/last-repair, JSON): what
// self-healing (heal.ts) or the scheduled check (resync.ts) put back, when, and for self-healing
// how long after the watcher reported the change (Pub/Sub's publish time of the change message
// to the repair's write). The operator console lists it and plots the latencies.
//
// It cannot loop with self-healing: it is a merge patch of one annotation on the Namespace, and
// Namespace changes reach neither self-healing (its subscription filters them out, heal.ts ignores
// objects outside a tenant namespace) nor the label rules (an annotation-only change); the
// template never sets the annotation, so the scheduled check's comparison (apply.ts `covers`)
// never sees it as drift. A merge patch, not an apply: a namespace gone meanwhile answers 404 and
// is not created again. Best effort: the repair is done whether or not its record is written.
import * as v from 'valibot';
import { failureCode } from '../../shared/errors.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { namespaceRef } from './tenant.ts';

export const lastRepairAnnotation = 'kubefn.dev/last-repair';
const recordManager = 'kubefn-repair-record';

const RepairSchema = v.object({
  at: v.pipe(v.string(), v.isoTimestamp()),
  by: v.picklist(['heal', 'resync']),
  /** Kind/name of the object put back. */
  object: v.pipe(v.string(), v.maxLength(320)),
  was: v.pipe(v.string(), v.maxLength(20)),
  /** Self-healing only: milliseconds from the change's publish time to the repair. */
  latencyMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});
export type Repair = v.InferOutput<typeof RepairSchema>;

/** Milliseconds from a change message's publish time to `now`; undefined if not known. */
export function healLatencyMs(publishTime: string | undefined, now: Date): number | undefined {
  const published = Date.parse(publishTime ?? '');
  if (!Number.isFinite(published)) return undefined;
  return Math.max(0, Math.round(now.getTime() - published));
}

export async function recordRepair(
  cluster: Cluster,
  namespace: string,
  repair: Repair,
): Promise<void> {
  try {
    await cluster
      .resource(namespaceRef)
      .patch(
        namespace,
        { metadata: { annotations: { [lastRepairAnnotation]: JSON.stringify(repair) } } },
        { type: 'merge', fieldManager: recordManager },
      );
  } catch (error) {
    log('WARNING', 'repair not recorded', {
      namespace,
      code: failureCode(error) ?? 'unknown',
    });
  }
}

/** The namespace's last repair; an annotation that is not one reads as none. */
export function lastRepairOf(ns: KubeObject | undefined): Repair | undefined {
  const text = ns?.metadata?.annotations?.[lastRepairAnnotation];
  if (!text) return undefined;
  try {
    const parsed = v.safeParse(RepairSchema, JSON.parse(text));
    return parsed.success ? parsed.output : undefined;
  } catch {
    return undefined;
  }
}
