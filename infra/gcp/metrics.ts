// The metrics an operator reads, as log-based metrics: Cloud Logging counts, or extracts a value
// from, the structured lines the deployables already write to stdout (shared/log.ts), so nothing
// is loaded or sent at a cold start and a function that scales to zero loses no point. Why this
// and not OpenTelemetry metrics, and how to read each one: docs/metrics.md.
//
// Each metric is data first (`logMetrics`): its filter and extractors are checked against the
// lines the code really writes (test/integration/metric-lines.test.ts, with the evaluator in
// test/support/logging-filter.ts), so renaming a log field breaks a test, not a dashboard.
// Dead letters are Pub/Sub's own metric (subscription/dead_letter_message_count): no line needed.
import * as gcp from '@pulumi/gcp';
import { phaseNames } from '../../functions/provision/readiness.ts';
import { phaseField } from '../../functions/provision/ready-report.ts';
import type { Context } from './context.ts';

/** Cloud Run services and jobs write their stdout under this monitored resource. */
export const cloudRun = 'resource.type="cloud_run_revision"';
/** The cell of a per-cell service, from its name (names.ts: kubefn-<cell>-<deployable>). */
const cellOf = (deployable: string) =>
  `REGEXP_EXTRACT(resource.labels.service_name, "^kubefn-(.+)-${deployable}$")`;
const line = (message: string) => `${cloudRun} AND jsonPayload.message="${message}"`;

export type LogMetricSpec = {
  /** The metric's name; Cloud Monitoring's type is logging.googleapis.com/user/<name>. */
  name: string;
  description: string;
  filter: string;
  /** Absent: a counter of matching lines. Present: a distribution of the extracted value. */
  value?: { extractor: string; unit: string; buckets: { scale: number; count: number } };
  labels: Record<string, { extractor: string; description: string }>;
};

// Exponential buckets growing by 20%: a percentile read from them is interpolated within one
// bucket, so it is off by at most 20% of its value (a goal of 120 s falls between 114 and 137 s).
// Sums and counts (PromQL's _sum and _count) are exact.
const growthFactor = 1.2;
const seconds = { unit: 's', buckets: { scale: 1, count: 60 } }; // 1 s .. 15.6 h
const millis = { unit: 'ms', buckets: { scale: 10, count: 80 } }; // 10 ms .. 6 h
const counts = { unit: '1', buckets: { scale: 1, count: 60 } }; // 1 .. 56,000

const cellLabel = (deployable: string) => ({
  cell: { extractor: cellOf(deployable), description: 'The cell (from the service name).' },
});
const planLabel = {
  plan: { extractor: 'EXTRACT(jsonPayload.plan)', description: "The tenant's plan." },
};

const readyLine = line('tenant ready');

export const logMetrics: LogMetricSpec[] = [
  {
    name: 'kubefn/time_to_ready',
    description: 'Seconds from a sign-up accepted to the tenant reachable, once per tenant.',
    filter: readyLine,
    value: { extractor: 'EXTRACT(jsonPayload.readySeconds)', ...seconds },
    labels: { ...planLabel, ...cellLabel('provision') },
  },
  // Where the time goes: the seconds each phase took after the one before it (readiness.ts).
  ...phaseNames.slice(1).map(
    (phase): LogMetricSpec => ({
      name: `kubefn/time_to_ready/${phase}`,
      description: `Seconds from the phase before ${phase} to ${phase}, per ready tenant.`,
      filter: readyLine,
      value: { extractor: `EXTRACT(jsonPayload.${phaseField(phase)})`, ...seconds },
      labels: { ...planLabel, ...cellLabel('provision') },
    }),
  ),
  {
    name: 'kubefn/heal_latency',
    description: 'Milliseconds from the watcher publishing a change to the object put back.',
    filter: `${line('tenant object put back')} AND jsonPayload.latencyMs:*`,
    value: { extractor: 'EXTRACT(jsonPayload.latencyMs)', ...millis },
    labels: {
      kind: { extractor: 'EXTRACT(jsonPayload.kind)', description: 'The kind put back.' },
      ...cellLabel('provision'),
    },
  },
  {
    name: 'kubefn/push_outcomes',
    description: "Pub/Sub pushes by the function's answer: done (acknowledged) or retried.",
    filter: line('push handled'),
    labels: {
      result: {
        extractor: 'EXTRACT(jsonPayload.result)',
        description: 'done: acknowledged; retried: 5xx, Pub/Sub delivers it again.',
      },
      outcome: {
        extractor: 'EXTRACT(jsonPayload.outcome)',
        description: "The handler's outcome (healed, in-sync, done, retry, failed, error, ...).",
      },
      subscription: {
        extractor: 'EXTRACT(jsonPayload.subscription)',
        description: 'The push subscription.',
      },
      service: {
        extractor: 'EXTRACT(resource.labels.service_name)',
        description: 'The Cloud Run service that answered.',
      },
    },
  },
  {
    name: 'kubefn/resync_repairs',
    description: 'Objects the scheduled check put back, per check (or per batch of one).',
    filter: line('tenants checked'),
    value: { extractor: 'EXTRACT(jsonPayload.repairedObjects)', ...counts },
    labels: cellLabel('provision'),
  },
  {
    name: 'kubefn/deletion_budget_used',
    description: "Deletions in the budget's window, counting the one just counted.",
    filter: line('tenant deletion counted'),
    value: { extractor: 'EXTRACT(jsonPayload.budgetUsed)', ...counts },
    labels: cellLabel('provision'),
  },
  {
    name: 'kubefn/deletions_held',
    description: 'Tenant deletions held because the deletion budget was spent.',
    filter: line('tenant deletion held: the deletion budget is spent'),
    labels: cellLabel('provision'),
  },
  {
    name: 'kubefn/tenants',
    description: 'Tenants by phase and plan, as the scheduled check lists them (a gauge).',
    filter: line('tenants counted'),
    value: { extractor: 'EXTRACT(jsonPayload.tenants)', ...counts },
    labels: {
      ...planLabel,
      phase: { extractor: 'EXTRACT(jsonPayload.phase)', description: 'Active, Suspended, ...' },
      ...cellLabel('provision'),
    },
  },
  {
    name: 'kubefn/watcher_published',
    description: 'Changes the leading watcher published since its previous line (each minute).',
    filter: line('watcher publishing'),
    value: { extractor: 'EXTRACT(jsonPayload.published)', ...counts },
    labels: {
      cell: { extractor: 'EXTRACT(jsonPayload.cell)', description: "The watcher's cell." },
    },
  },
  {
    name: 'kubefn/watcher_publish_failures',
    description: 'Publishes the watcher had to retry (Pub/Sub refused or did not answer).',
    filter: line('publish failed; retrying'),
    labels: cellLabel('watcher'),
  },
];

/** Cloud Monitoring's type of a log-based metric. */
export const metricType = (name: string) => `logging.googleapis.com/user/${name}`;

export function defineMetrics(ctx: Context) {
  return Object.fromEntries(
    logMetrics.map((metric) => [
      metric.name,
      new gcp.logging.Metric(
        `metric-${metric.name.replaceAll('/', '-')}`,
        {
          project: ctx.project,
          name: metric.name,
          description: metric.description,
          filter: metric.filter,
          metricDescriptor: {
            metricKind: 'DELTA',
            valueType: metric.value ? 'DISTRIBUTION' : 'INT64',
            unit: metric.value?.unit ?? '1',
            labels: Object.entries(metric.labels).map(([key, label]) => ({
              key,
              valueType: 'STRING',
              description: label.description,
            })),
          },
          labelExtractors: Object.fromEntries(
            Object.entries(metric.labels).map(([key, label]) => [key, label.extractor]),
          ),
          ...(metric.value
            ? {
                valueExtractor: metric.value.extractor,
                bucketOptions: {
                  exponentialBuckets: {
                    numFiniteBuckets: metric.value.buckets.count,
                    growthFactor,
                    scale: metric.value.buckets.scale,
                  },
                },
              }
            : {}),
        },
        ctx.afterApis,
      ),
    ]),
  );
}
