// The annotation an operator sets on an Ingress, and what kubefn records back on it.
//   kubefn.dev/backend-timeout: "90s"   (h, m and s in that order: "2m", "1h30m", "1m30s")
// Units are required (a bare "90" is refused: seconds or minutes?), the value must be whole
// seconds (load balancers take integer seconds) and between 1 s and 24 h.

import { recordAnnotations } from '../../shared/labels.ts';
import type { Mode } from './outcomes.ts';

export const timeoutAnnotation = 'kubefn.dev/backend-timeout';
/** JSON of `AppliedRecord`, written by kubefn after it applied a value. */
export const appliedAnnotation = recordAnnotations.backendTimeoutApplied;
/** What a load balancer uses when nothing is set, written back when the annotation is removed. */
export const defaultTimeoutSec = 30;
export const minTimeoutSec = 1;
export const maxTimeoutSec = 24 * 60 * 60;

export type AppliedRecord = {
  timeoutSec: number;
  mode: Mode;
  /** `annotation`, or `default` once the annotation was removed and the default written back. */
  source: 'annotation' | 'default';
  appliedAt: string;
  /** The Ingress's resourceVersion this was computed from: older events are skipped. */
  ingressResourceVersion: string;
};

export type TimeoutProblem = 'no-unit' | 'not-a-duration' | 'out-of-range';
export type ParsedTimeout =
  | { ok: true; seconds: number }
  | { ok: false; code: TimeoutProblem; message: string };

const durationPattern = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

export function parseTimeout(raw: string): ParsedTimeout {
  const value = raw.trim();
  if (/^\d+$/.test(value))
    return { ok: false, code: 'no-unit', message: `"${raw}" has no unit: write it as "${value}s"` };
  const match = durationPattern.exec(value);
  if (!value || !match)
    return {
      ok: false,
      code: 'not-a-duration',
      message: `"${clip(raw)}" is not a duration like "90s", "5m" or "1h30m" (whole seconds)`,
    };
  const [, h = '0', m = '0', s = '0'] = match;
  const seconds = Number(h) * 3600 + Number(m) * 60 + Number(s);
  if (seconds < minTimeoutSec || seconds > maxTimeoutSec)
    return { ok: false, code: 'out-of-range', message: `"${raw}" is outside 1s to 24h` };
  return { ok: true, seconds };
}

export function readAppliedRecord(
  annotations: Record<string, string> | undefined,
): AppliedRecord | undefined {
  const raw = annotations?.[appliedAnnotation];
  if (!raw) return undefined;
  try {
    const record = JSON.parse(raw) as Partial<AppliedRecord>;
    return typeof record.timeoutSec === 'number' ? (record as AppliedRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** Annotation values are user input: never echo more than a little of them. */
function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
