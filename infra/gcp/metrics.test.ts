// The log-based metrics and alert policies, as defineKubefn registers them under Pulumi's mocks:
// each metric with the filter, extractors, kind and buckets intended, and each alert policy on the
// metric it names, with the spec's goal and notification channels. Whether the filters match the
// lines the code writes is test/integration/metric-lines.test.ts's.
import { describe, expect, it } from 'vitest';
import { phaseNames } from '../../functions/provision/readiness.ts';
import { logMetrics, metricType } from './metrics.ts';
import { deploy, ofType, type Registered } from './mocks.fixture.ts';

const metricT = 'gcp:logging/metric:Metric';
const policyT = 'gcp:monitoring/alertPolicy:AlertPolicy';
const channel = 'projects/kubefn-prod/notificationChannels/1234567890';

const standard = await deploy();
const tuned = await deploy({
  monitoring: { notificationChannels: [channel], timeToReadyGoalSeconds: 300 },
});

const metricNamed = (resources: Registered[], name: string) => {
  const found = ofType(resources, metricT).filter((m) => m.inputs.name === name);
  expect(found).toHaveLength(1);
  return found[0] as Registered;
};
const policyNamed = (resources: Registered[], displayName: string) => {
  const found = ofType(resources, policyT).filter((p) => p.inputs.displayName === displayName);
  expect(found).toHaveLength(1);
  return found[0] as Registered;
};

describe('log-based metrics', () => {
  const { resources } = standard;

  it('defines each metric once, on Cloud Run lines of one message each', () => {
    const names = ofType(resources, metricT).map((m) => m.inputs.name);
    expect(names.sort()).toEqual(logMetrics.map((m) => m.name).sort());
    for (const m of ofType(resources, metricT)) {
      expect(m.inputs.project).toBe('kubefn-prod');
      expect(m.inputs.filter).toMatch(
        /^resource\.type="cloud_run_revision" AND jsonPayload\.message="[^"]+"/,
      );
      expect(m.inputs.metricDescriptor.metricKind).toBe('DELTA');
    }
  });

  it.each([
    // name, value type, unit, value extractor, labels
    [
      'kubefn/time_to_ready',
      'DISTRIBUTION',
      's',
      'EXTRACT(jsonPayload.readySeconds)',
      ['cell', 'plan'],
    ],
    [
      'kubefn/time_to_ready/workload-available',
      'DISTRIBUTION',
      's',
      'EXTRACT(jsonPayload.workloadAvailableSeconds)',
      ['cell', 'plan'],
    ],
    [
      'kubefn/heal_latency',
      'DISTRIBUTION',
      'ms',
      'EXTRACT(jsonPayload.latencyMs)',
      ['cell', 'kind'],
    ],
    [
      'kubefn/push_outcomes',
      'INT64',
      '1',
      undefined,
      ['outcome', 'result', 'service', 'subscription'],
    ],
    [
      'kubefn/resync_repairs',
      'DISTRIBUTION',
      '1',
      'EXTRACT(jsonPayload.repairedObjects)',
      ['cell'],
    ],
    [
      'kubefn/deletion_budget_used',
      'DISTRIBUTION',
      '1',
      'EXTRACT(jsonPayload.budgetUsed)',
      ['cell'],
    ],
    ['kubefn/deletions_held', 'INT64', '1', undefined, ['cell']],
    [
      'kubefn/tenants',
      'DISTRIBUTION',
      '1',
      'EXTRACT(jsonPayload.tenants)',
      ['cell', 'phase', 'plan'],
    ],
    ['kubefn/watcher_published', 'DISTRIBUTION', '1', 'EXTRACT(jsonPayload.published)', ['cell']],
    ['kubefn/watcher_publish_failures', 'INT64', '1', undefined, ['cell']],
  ] as const)('%s: %s in %s, value %s, labels %j', (name, valueType, unit, value, labels) => {
    const { inputs } = metricNamed(resources, name);
    expect(inputs.metricDescriptor.valueType).toBe(valueType);
    expect(inputs.metricDescriptor.unit).toBe(unit);
    expect(inputs.valueExtractor).toBe(value);
    const keys = inputs.metricDescriptor.labels.map((l: { key: string }) => l.key).sort();
    expect(keys).toEqual([...labels]);
    // Every label has its extractor, and nothing else does (Logging refuses either mismatch).
    expect(Object.keys(inputs.labelExtractors).sort()).toEqual([...labels]);
    for (const l of inputs.metricDescriptor.labels) expect(l.valueType).toBe('STRING');
    if (valueType === 'DISTRIBUTION') {
      const buckets = inputs.bucketOptions.exponentialBuckets;
      expect(buckets.growthFactor).toBe(1.2);
      expect(buckets.numFiniteBuckets).toBeGreaterThan(0);
    } else expect(inputs.bucketOptions).toBeUndefined();
  });

  it('has a metric for each phase after accepted, and per-cell labels from the service name', () => {
    for (const phase of phaseNames.slice(1))
      expect(metricNamed(resources, `kubefn/time_to_ready/${phase}`).inputs.filter).toBe(
        metricNamed(resources, 'kubefn/time_to_ready').inputs.filter,
      );
    expect(metricNamed(resources, 'kubefn/tenants').inputs.labelExtractors.cell).toBe(
      'REGEXP_EXTRACT(resource.labels.service_name, "^kubefn-(.+)-provision$")',
    );
    expect(
      metricNamed(resources, 'kubefn/watcher_publish_failures').inputs.labelExtractors.cell,
    ).toBe('REGEXP_EXTRACT(resource.labels.service_name, "^kubefn-(.+)-watcher$")');
  });

  it("keeps within Logging's limits: names of allowed characters, at most 10 labels", () => {
    for (const m of ofType(resources, metricT)) {
      // Metric identifiers: up to 100 characters of A-Z a-z 0-9 _-.,+!*',()%/ (Logging's docs).
      expect(m.inputs.name).toMatch(/^[A-Za-z0-9_\-.,+!*',()%/]{1,100}$/);
      expect(m.inputs.metricDescriptor.labels.length).toBeLessThanOrEqual(10);
    }
  });

  it('enables the Monitoring API the alert policies need', () => {
    const apis = ofType(resources, 'gcp:projects/service:Service').map((a) => a.inputs.service);
    expect(apis).toContain('monitoring.googleapis.com');
    expect(apis).toContain('logging.googleapis.com');
  });
});

describe.each([
  ['defaults', standard, 120, []],
  ['a goal of 300 s and a channel', tuned, 300, [channel]],
] as const)('alert policies, %s', (_, { resources }, goal, channels) => {
  it('defines the three policies, each notifying the spec channels', () => {
    const policies = ofType(resources, policyT);
    expect(policies.map((p) => p.inputs.displayName).sort()).toEqual([
      'kubefn: a watcher not publishing',
      'kubefn: messages dead-lettered',
      'kubefn: time to ready p99 over its goal',
    ]);
    for (const p of policies) {
      expect(p.inputs.notificationChannels ?? []).toEqual(channels);
      expect(p.inputs.combiner).toBe('OR');
      expect(p.inputs.documentation.content.length).toBeGreaterThan(0);
    }
  });

  it("time to ready: the cell's p99 over the last hour above the goal", () => {
    const [condition] = policyNamed(resources, 'kubefn: time to ready p99 over its goal').inputs
      .conditions;
    const threshold = condition.conditionThreshold;
    expect(threshold.filter).toBe(
      `metric.type="${metricType('kubefn/time_to_ready')}" AND resource.type="cloud_run_revision"`,
    );
    expect(threshold.comparison).toBe('COMPARISON_GT');
    expect(threshold.thresholdValue).toBe(goal);
    expect(threshold.aggregations).toEqual([
      {
        alignmentPeriod: '3600s',
        perSeriesAligner: 'ALIGN_DELTA',
        crossSeriesReducer: 'REDUCE_PERCENTILE_99',
        groupByFields: ['metric.label.cell'],
      },
    ]);
  });

  it("dead letters: Pub/Sub's count for kubefn's subscriptions, any in 5 minutes", () => {
    const [condition] = policyNamed(resources, 'kubefn: messages dead-lettered').inputs.conditions;
    const threshold = condition.conditionThreshold;
    expect(threshold.filter).toContain(
      'metric.type="pubsub.googleapis.com/subscription/dead_letter_message_count"',
    );
    expect(threshold.filter).toContain('resource.label.subscription_id=starts_with("kubefn-")');
    expect(threshold.thresholdValue).toBe(0);
    expect(threshold.comparison).toBe('COMPARISON_GT');
    expect(threshold.aggregations[0].alignmentPeriod).toBe('300s');
  });

  it("watcher: a cell's lines absent for 10 minutes, or its publishes failing for 10", () => {
    const [absent, failing] = policyNamed(resources, 'kubefn: a watcher not publishing').inputs
      .conditions;
    expect(absent.conditionAbsent.filter).toBe(
      `metric.type="${metricType('kubefn/watcher_published')}" AND resource.type="cloud_run_revision"`,
    );
    expect(absent.conditionAbsent.duration).toBe('600s');
    expect(absent.conditionAbsent.aggregations[0].groupByFields).toEqual(['metric.label.cell']);
    expect(failing.conditionThreshold.filter).toContain(
      metricType('kubefn/watcher_publish_failures'),
    );
    expect(failing.conditionThreshold.duration).toBe('600s');
  });
});

it('refuses a notification channel that is not a channel name', async () => {
  await expect(
    deploy({ monitoring: { notificationChannels: ['ops@example.com'] } }),
  ).rejects.toThrow(
    /monitoring\.notificationChannels\.0: projects\/<project>\/notificationChannels/,
  );
});
