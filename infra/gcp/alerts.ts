// The alert policies an operator starts from (docs/metrics.md), each on a metric of metrics.ts or
// on Pub/Sub's own, notifying spec.monitoring.notificationChannels:
//   time to ready   a cell's p99 over the last hour above spec.monitoring.timeToReadyGoalSeconds
//   dead letters    any push subscription moved a message to the dead-letter topic (5 minutes)
//   watcher         a cell's watcher wrote no 'watcher publishing' line for 10 minutes (no
//                   leader, or it hangs), or its publishes kept failing for 10 minutes
import * as gcp from '@pulumi/gcp';
import type { Context } from './context.ts';
import type { defineMetrics } from './metrics.ts';
import { metricType } from './metrics.ts';

/** The filter of a log-based metric's time series (Cloud Run's lines). */
const logMetric = (name: string) =>
  `metric.type="${metricType(name)}" AND resource.type="cloud_run_revision"`;
const byCell = ['metric.label.cell'];

export function defineAlerts(ctx: Context, metrics: ReturnType<typeof defineMetrics>) {
  const { project, spec } = ctx;
  const { notificationChannels, timeToReadyGoalSeconds } = spec.monitoring;
  // A policy names its metric before the metric exists: it waits for the metric's creation.
  const after = (...names: string[]) => ({
    ...ctx.opts,
    dependsOn: [
      ...ctx.enabled,
      ...names.map((name) => metrics[name]).filter((m) => m !== undefined),
    ],
  });
  const common = {
    project,
    combiner: 'OR',
    notificationChannels,
    alertStrategy: { autoClose: '86400s' },
  };

  const timeToReady = new gcp.monitoring.AlertPolicy(
    'alert-time-to-ready',
    {
      ...common,
      displayName: 'kubefn: time to ready p99 over its goal',
      severity: 'WARNING',
      documentation: {
        mimeType: 'text/markdown',
        content: `A cell's tenants took longer than ${timeToReadyGoalSeconds} s (p99, last hour) from sign-up to reachable. The metrics kubefn/time_to_ready/<phase> say which phase grew; docs/metrics.md.`,
      },
      conditions: [
        {
          displayName: `time to ready p99 > ${timeToReadyGoalSeconds} s`,
          conditionThreshold: {
            filter: logMetric('kubefn/time_to_ready'),
            comparison: 'COMPARISON_GT',
            thresholdValue: timeToReadyGoalSeconds,
            duration: '0s',
            aggregations: [
              {
                alignmentPeriod: '3600s',
                perSeriesAligner: 'ALIGN_DELTA',
                crossSeriesReducer: 'REDUCE_PERCENTILE_99',
                groupByFields: byCell,
              },
            ],
            trigger: { count: 1 },
          },
        },
      ],
    },
    after('kubefn/time_to_ready'),
  );

  const deadLetters = new gcp.monitoring.AlertPolicy(
    'alert-dead-letters',
    {
      ...common,
      displayName: 'kubefn: messages dead-lettered',
      severity: 'ERROR',
      documentation: {
        mimeType: 'text/markdown',
        content:
          'A push subscription gave up on messages and moved them to kubefn-dead-letter. `npm run dead-letters` lists them and replays them once fixed; the push lines (kubefn/push_outcomes, outcome error or retry) say why.',
      },
      conditions: [
        {
          displayName: 'dead-lettered messages in 5 minutes > 0',
          conditionThreshold: {
            filter: `metric.type="pubsub.googleapis.com/subscription/dead_letter_message_count" AND resource.type="pubsub_subscription" AND resource.label.subscription_id=starts_with("kubefn-")`,
            comparison: 'COMPARISON_GT',
            thresholdValue: 0,
            duration: '0s',
            aggregations: [
              {
                alignmentPeriod: '300s',
                perSeriesAligner: 'ALIGN_DELTA',
                crossSeriesReducer: 'REDUCE_SUM',
                groupByFields: ['resource.label.subscription_id'],
              },
            ],
            trigger: { count: 1 },
          },
        },
      ],
    },
    ctx.afterApis,
  );

  const watcher = new gcp.monitoring.AlertPolicy(
    'alert-watcher-not-publishing',
    {
      ...common,
      displayName: 'kubefn: a watcher not publishing',
      severity: 'CRITICAL',
      documentation: {
        mimeType: 'text/markdown',
        content:
          "A cell's watcher has written no 'watcher publishing' line for 10 minutes (no instance leads, or the leader hangs), or Pub/Sub has refused its publishes for 10 minutes. Until it is back, changes in the cell are not healed, labelled or timed out (the scheduled check still repairs). Its /status and logs say which; docs/watcher.md.",
      },
      conditions: [
        {
          displayName: 'no watcher line for 10 minutes',
          conditionAbsent: {
            filter: logMetric('kubefn/watcher_published'),
            duration: '600s',
            aggregations: [
              {
                alignmentPeriod: '300s',
                perSeriesAligner: 'ALIGN_DELTA',
                crossSeriesReducer: 'REDUCE_COUNT',
                groupByFields: byCell,
              },
            ],
            trigger: { count: 1 },
          },
        },
        {
          displayName: 'publishes failing for 10 minutes',
          conditionThreshold: {
            filter: logMetric('kubefn/watcher_publish_failures'),
            comparison: 'COMPARISON_GT',
            thresholdValue: 0,
            // Every minute for ten: a blip that Pub/Sub recovers from is not an incident.
            duration: '600s',
            aggregations: [
              {
                alignmentPeriod: '60s',
                perSeriesAligner: 'ALIGN_DELTA',
                crossSeriesReducer: 'REDUCE_SUM',
                groupByFields: byCell,
              },
            ],
            trigger: { count: 1 },
          },
        },
      ],
    },
    after('kubefn/watcher_published', 'kubefn/watcher_publish_failures'),
  );

  return { timeToReady, deadLetters, watcher };
}
