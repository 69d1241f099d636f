// The log-based metrics (infra/gcp/metrics.ts) against the lines the code really writes: the
// provisioning function runs on the real stack (its own process, its stdout in its log file) and
// is driven through a sign-up, a read until ready, a change pushed as Pub/Sub would after an
// object was deleted, the scheduled check after another, and deletions past a budget of one. Each
// line becomes the entry Cloud Run would make of it (as service kubefn-eu1-provision), and every
// metric's filter must select lines, its value extractor read a number and its label extractors
// a value from each (test/support/logging-filter.ts). The watcher's two lines come from its own
// code in this process: the heartbeat over a status, the publisher against the Pub/Sub emulator.
// So a log field renamed in the code, or a filter mistyped in infra, fails here.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publishingHeartbeat } from '../../functions/watcher/heartbeat.ts';
import { createPublisher } from '../../functions/watcher/publisher.ts';
import type { ServiceStatus } from '../../functions/watcher/service.ts';
import { type LogMetricSpec, logMetrics } from '../../infra/gcp/metrics.ts';
import { mintToken, pushAccount, schedulerAccount } from '../../infra/local/identities.ts';
import type { Cluster, KubeObject } from '../../shared/kube/index.ts';
import type { LogFields } from '../../shared/log.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { httpRequest, signUpTenant } from '../support/http.ts';
import { eventually } from '../support/kube.ts';
import { cloudRunEntry, extracted, type LogEntry, matches } from '../support/logging-filter.ts';
import { type ProvisionFixture, provisionAudience, startProvision } from '../support/provision.ts';

const run = Date.now().toString(36).slice(-6);
const prefix = `ml${run}-`;
const [first, second] = ['a', 'b'];
const serviceRef = { apiVersion: 'v1', kind: 'Service' } as const;
const limitRef = { apiVersion: 'v1', kind: 'LimitRange' } as const;

let admin: Cluster;
let fx: ProvisionFixture;
let pushToken: string;
let schedulerToken: string;
const entries: LogEntry[] = [];

const call = (path: string, token: string, method = 'GET', body?: unknown) =>
  httpRequest(
    `${fx.fn.url}${path}`,
    token,
    method,
    body === undefined ? undefined : JSON.stringify(body),
  );

beforeAll(async () => {
  admin = await adminCluster();
  // A log file of its own: other test files' provision functions write the stack's shared one.
  fx = await startProvision(
    admin,
    { KUBEFN_NAMESPACE_PREFIX: prefix, KUBEFN_DELETION_BUDGET: '1/1h' },
    `function-provision-${prefix}`,
  );
  const mint = (account: string) =>
    mintToken(admin, account, { audiences: [provisionAudience], expirationSeconds: 3600 });
  [pushToken, schedulerToken] = await Promise.all([mint(pushAccount), mint(schedulerAccount)]);
  await signUpTenant(fx.fn.url, fx.callerToken, first);
  await signUpTenant(fx.fn.url, fx.callerToken, second);
});
afterAll(async () => {
  await fx?.fn.stop();
  for (const id of [first, second])
    await admin
      .resource({ apiVersion: 'v1', kind: 'Namespace' })
      .delete(prefix + id)
      .catch(() => {});
  await admin?.close();
});

/** The function's lines so far, as Cloud Run's entries. */
async function provisionEntries(): Promise<LogEntry[]> {
  const text = await readFile(fx.fn.process.logFile, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => cloudRunEntry(line, 'kubefn-eu1-provision'));
}

describe.sequential('the provisioning function', () => {
  test('a tenant read ready', async () => {
    await eventually('tenant ready', 60_000, async () => {
      const res = await call(`/tenants/${first}`, fx.callerToken);
      return JSON.parse(res.body).phase === 'Ready' ? res : undefined;
    });
  });

  test('a deleted object, pushed as the watcher reports it: healed', async () => {
    const namespace = prefix + first;
    const service = (await admin
      .resource(serviceRef)
      .get('monitoring', { namespace })) as KubeObject;
    await admin.resource(serviceRef).delete('monitoring', { namespace });
    const envelope = {
      subscription: 'projects/p/subscriptions/kubefn-provision-changes',
      message: {
        messageId: `m-${run}`,
        // Five seconds ago: the line's latency counts from Pub/Sub's publish time.
        publishTime: new Date(Date.now() - 5_000).toISOString(),
        attributes: { eventKey: `${service.metadata?.uid}/1/DELETED` },
        data: Buffer.from(
          JSON.stringify({
            type: 'DELETED',
            object: { ...service, apiVersion: 'v1', kind: 'Service' },
          }),
        ).toString('base64'),
      },
    };
    const res = await call('/pubsub/changes', pushToken, 'POST', envelope);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ outcome: 'healed', kind: 'Service' });
  });

  test('the scheduled check puts back another', async () => {
    await admin.resource(limitRef).delete('tenant-limits', { namespace: prefix + second });
    const res = await call('/resync', schedulerToken, 'POST');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).counts.repaired).toBeGreaterThanOrEqual(1);
  });

  test('deletions past the budget of one: one counted, one held', async () => {
    expect(
      (await call(`/tenants/${first}?confirm=${first}`, fx.callerToken, 'DELETE')).status,
    ).toBe(202);
    expect(
      (await call(`/tenants/${second}?confirm=${second}`, fx.callerToken, 'DELETE')).status,
    ).toBe(429);
    entries.push(...(await provisionEntries()));
  });
});

describe('the watcher', () => {
  test('its heartbeat and a publish Pub/Sub refuses', async () => {
    const lines: string[] = [];
    const log = (severity: string, message: string, fields: LogFields = {}) =>
      lines.push(JSON.stringify({ ...fields, severity, message }));
    const status: ServiceStatus = {
      identity: 'test',
      state: 'relaying',
      leader: true,
      ready: true,
      checkpoint: {},
      resources: {},
    };
    publishingHeartbeat(() => status, 'eu1', log)();
    // A topic that does not exist: the publisher retries, and says so.
    process.env.PUBSUB_EMULATOR_HOST = stack.pubsubEmulatorHost;
    const publisher = createPublisher({
      projectId: stack.pubsubProject,
      topic: `missing-${run}`,
      log,
      ordering: false,
    });
    const stop = new AbortController();
    const publishing = publisher
      .publish({ data: Buffer.from('{}'), attributes: {}, orderingKey: '' }, stop.signal)
      .catch(() => {});
    await eventually('a publish retried', 30_000, async () =>
      lines.some((l) => l.includes('publish failed')) ? true : undefined,
    );
    stop.abort();
    await publisher.close().catch(() => {});
    await publishing;
    entries.push(...lines.map((line) => cloudRunEntry(line, 'kubefn-eu1-watcher')));
  });
});

describe('each metric, over those lines', () => {
  // What each metric's labels must read from this run's lines.
  const expectedLabels: Record<string, Record<string, string | RegExp>> = {
    'kubefn/time_to_ready': { plan: 'free', cell: 'eu1' },
    'kubefn/heal_latency': { kind: 'Service', cell: 'eu1' },
    'kubefn/push_outcomes': {
      result: 'done',
      outcome: 'healed',
      subscription: 'kubefn-provision-changes',
      service: 'kubefn-eu1-provision',
    },
    'kubefn/tenants': { plan: 'free', phase: 'Active', cell: 'eu1' },
    'kubefn/watcher_published': { cell: 'eu1' },
    'kubefn/watcher_publish_failures': { cell: 'eu1' },
  };

  test.each(logMetrics.map((m) => [m.name, m] as [string, LogMetricSpec]))(
    '%s selects lines and reads them',
    (name, metric) => {
      const selected = entries.filter((entry) => matches(metric.filter, entry));
      expect(selected.length, `no line matches ${metric.filter}`).toBeGreaterThan(0);
      for (const entry of selected) {
        if (metric.value) {
          const value = Number(extracted(metric.value.extractor, entry));
          expect(
            Number.isFinite(value),
            `${metric.value.extractor} of ${JSON.stringify(entry)}`,
          ).toBe(true);
          expect(value).toBeGreaterThanOrEqual(0);
        }
        for (const [key, label] of Object.entries(metric.labels))
          expect(extracted(label.extractor, entry), `label ${key}`).toMatch(/\S/);
      }
      const want = expectedLabels[name];
      if (want)
        expect(
          selected.some((entry) =>
            Object.entries(want).every(
              ([key, value]) => extracted(metric.labels[key]?.extractor ?? '', entry) === value,
            ),
          ),
          `a line with labels ${JSON.stringify(want)}`,
        ).toBe(true);
    },
  );

  test('the figures are the ones the events had', () => {
    const value = (name: string) => {
      const metric = logMetrics.find((m) => m.name === name);
      if (!metric?.value) throw new Error(`${name}: no value`);
      return entries
        .filter((entry) => matches(metric.filter, entry))
        .map((entry) => Number(extracted(metric.value?.extractor ?? '', entry)));
    };
    // Published five seconds before the push: the repair came at least that long after.
    expect(Math.min(...value('kubefn/heal_latency'))).toBeGreaterThanOrEqual(5_000);
    // Two tenants listed, both on the free plan and running, at the scheduled check.
    expect(value('kubefn/tenants')).toEqual([2]);
    expect(Math.max(...value('kubefn/resync_repairs'))).toBeGreaterThanOrEqual(1);
    // A budget of one, spent by the first deletion.
    expect(value('kubefn/deletion_budget_used')).toEqual([1]);
    // Ready: the whole is the sum of its phases.
    const total = value('kubefn/time_to_ready');
    const phases = logMetrics
      .filter((m) => m.name.startsWith('kubefn/time_to_ready/'))
      .map((m) => value(m.name)[0] ?? Number.NaN);
    expect(total).toHaveLength(1);
    expect(phases.reduce((a, b) => a + b, 0)).toBeCloseTo(total[0] ?? Number.NaN, 6);
  });
});

describe('the evaluator', () => {
  const entry = cloudRunEntry(
    JSON.stringify({ readySeconds: 12, plan: 'free', severity: 'INFO', message: 'tenant ready' }),
    'kubefn-us1-provision',
  );
  test.each([
    ['resource.type="cloud_run_revision" AND jsonPayload.message="Tenant Ready"', true],
    ['jsonPayload.message="tenant ready AND more"', false],
    ['jsonPayload.readySeconds:*', true],
    ['jsonPayload.readyS:*', false],
    ['jsonPayload.severity:*', false], // severity is the entry's own, not the payload's
    ['severity="info"', true],
  ])('%s: %s', (filter, selected) => expect(matches(filter, entry)).toBe(selected));

  test.each([
    ['EXTRACT(jsonPayload.readySeconds)', '12'],
    ['EXTRACT(jsonPayload.readyS)', undefined],
    ['REGEXP_EXTRACT(resource.labels.service_name, "^kubefn-(.+)-provision$")', 'us1'],
    ['REGEXP_EXTRACT(resource.labels.service_name, "^kubefn-(.+)-watcher$")', undefined],
  ])('%s reads %s', (extractor, value) => expect(extracted(extractor, entry)).toBe(value));

  test('what it does not evaluate, it refuses', () => {
    expect(() => matches('severity>=ERROR', entry)).toThrow(/not in the evaluated subset/);
    expect(() => extracted('jsonPayload.plan', entry)).toThrow(/not an extractor/);
  });
});
