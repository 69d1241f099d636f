// One trace per request, read back from a real Jaeger (infra/local/jaeger.ts): a customer's
// sign-up from the page's traceparent through signup, provision and its Kubernetes calls; and a
// healed object from its watch event through the watcher, Pub/Sub (googclient_traceparent) and
// the push to provision's writes. The functions and the watcher of this file run with
// KUBEFN_TRACING=otlp, exporting to Jaeger; their log lines carry the same trace.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signupTokenFile, startSignupFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { type Jaeger, type JaegerSpan, startJaeger, traceSpans } from '../../infra/local/jaeger.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { inSpan } from '../../shared/trace/span.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { newCustomer } from '../support/customers.ts';
import { type EventFlow, startEventFlow } from '../support/event-flow.ts';
import { eventually } from '../support/kube.ts';

const run = Date.now().toString(36).slice(-5);
const customerId = `trace-${run}`;
const tracing = ['KUBEFN_TRACING', 'OTEL_EXPORTER_OTLP_ENDPOINT'] as const;
const saved = Object.fromEntries(tracing.map((name) => [name, process.env[name]]));

let admin: Cluster;
let jaeger: Jaeger;
let flow: EventFlow;
let signup: RunningFunction;
let namespace: string;

beforeAll(async () => {
  admin = await adminCluster();
  // On the port the stack's kube-apiservers already send their spans to (apiserver.ts).
  const apiserverPort = Number(stack.apiserverTracingEndpoint.split(':').pop());
  jaeger = await startJaeger(stack.dir, undefined, apiserverPort);
  // Inherited by every process this file starts (infra/local's functions and watcher).
  process.env.KUBEFN_TRACING = 'otlp';
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = jaeger.otlpEndpoint;
  flow = await startEventFlow(admin, stack, { name: `trc${run}`, customers: [customerId] });
  signup = await startSignupFunction(
    stack,
    flow.provision.url,
    await signupTokenFile(admin, stack),
  );
  namespace = flow.namespacePrefix + customerId;
}, 120_000);

afterAll(async () => {
  for (const name of tracing) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await signup?.stop();
  await flow?.stop();
  await jaeger?.stop();
  await admin?.close();
});

/** The spans of one trace once `complete` holds for them (spans arrive in batches). */
async function settled(
  traceId: string,
  what: string,
  complete: (spans: JaegerSpan[]) => boolean,
): Promise<JaegerSpan[]> {
  let last: JaegerSpan[] = [];
  return eventually(what, 30_000, async () => {
    last = await traceSpans(jaeger.queryUrl, traceId);
    return complete(last) ? last : undefined;
  }).catch((error: Error) => {
    const seen = last.map((s) => `${s.service}: ${s.name}`).join('; ');
    throw new Error(`${error.message}; trace ${traceId} has ${seen || 'no spans'}`);
  });
}

/** The span's ancestors within its trace, nearest first. */
function ancestors(spans: JaegerSpan[], span: JaegerSpan): JaegerSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain: JaegerSpan[] = [];
  for (let p = byId.get(span.parentId ?? ''); p; p = byId.get(p.parentId ?? '')) chain.push(p);
  return chain;
}

const isWrite = (span: JaegerSpan) => /^(POST|PUT|PATCH) \/api/.test(span.name);

describe('one trace per request', () => {
  test("a sign-up: the page's click -> signup -> provision -> every Kubernetes call", async () => {
    const customer = await newCustomer('traced');
    const traceId = [...crypto.getRandomValues(new Uint8Array(16))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('');
    const clickSpan = '0123456789abcdef';
    // As the sign-up page's fetch sends it (functions/signup/page.ts).
    const res = await fetch(`${signup.url}/api/signup`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${customer.idToken}`,
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${clickSpan}-01`,
      },
      body: JSON.stringify({ customerId, plan: 'free' }),
    });
    expect(res.status).toBe(201);

    // Each process exports its spans in its own batches: wait for both ends.
    const spans = await settled(
      traceId,
      'the sign-up trace',
      (s) =>
        s.some((span) => span.service === 'provision' && span.name === 'POST /tenants') &&
        s.some((span) => span.service === 'signup' && span.name === 'POST /api/signup'),
    );
    const signupServer = spans.find((s) => s.service === 'signup' && s.name === 'POST /api/signup');
    expect(signupServer?.parentId).toBe(clickSpan);
    const forwarded = spans.find(
      (s) => s.service === 'signup' && s.parentId === signupServer?.spanId,
    );
    expect(forwarded?.tags['span.kind']).toBe('client');
    const provisionServer = spans.find(
      (s) => s.service === 'provision' && s.name === 'POST /tenants',
    );
    expect(provisionServer?.parentId).toBe(forwarded?.spanId);
    // Every Kubernetes call provision made for it: client spans under its request.
    const calls = spans.filter(
      (s) => s.service === 'provision' && s.tags['span.kind'] === 'client',
    );
    expect(calls.filter(isWrite).map((s) => s.name)).toContain('POST /api/v1/namespaces');
    for (const call of calls)
      expect(ancestors(spans, call).map((s) => s.spanId)).toContain(provisionServer?.spanId);
  });

  test("kube-apiserver's spans join a privileged caller's trace", async () => {
    // Kubernetes' rule (k8s.io/apiserver endpoints/filters/traces.go): a caller outside
    // system:masters and system:monitoring gets a new root span, only linked to its own, so that
    // no client can make the API server record; under sampling 0 (apiserver.ts) those are not
    // recorded. The admin here is system:masters: its sampled call is the API server's parent.
    const traceId = [...crypto.getRandomValues(new Uint8Array(16))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('');
    const parent = { traceId, spanId: '0123456789abcdef', sampled: true };
    await inSpan('admin read', { parent }, () =>
      admin.resource({ apiVersion: 'v1', kind: 'Namespace' }).find('default'),
    );
    const spans = await settled(traceId, "kube-apiserver's spans", (s) =>
      s.some((span) => /apiserver/.test(span.service)),
    );
    // In the caller's trace, its first span under a parent from outside it: the client's span
    // (this process records none with tracing off, so only its id is known).
    const served = spans.filter((s) => /apiserver/.test(s.service) && s.traceId === traceId);
    const firsts = served.filter((s) => !served.some((o) => o.spanId === s.parentId));
    expect(firsts.length).toBeGreaterThan(0);
    for (const span of firsts) expect(span.parentId).toMatch(/^[0-9a-f]{16}$/);
  });

  test('a healed object: watch event -> watcher -> Pub/Sub -> provision -> its writes', async () => {
    const quotas = admin.resource({ apiVersion: 'v1', kind: 'ResourceQuota' });
    await eventually('the tenant quota', 30_000, () => quotas.find('tenant-quota', { namespace }));
    await quotas.delete('tenant-quota', { namespace });
    await eventually('the quota healed', 30_000, () => quotas.find('tenant-quota', { namespace }));

    // The watcher's span of that deletion starts the trace.
    const tags = JSON.stringify({
      'kubefn.object': 'tenant-quota',
      'k8s.namespace.name': namespace,
    });
    const traceId = await eventually('the deletion traced', 30_000, async () => {
      const search = await fetch(
        `${jaeger.queryUrl}/api/traces?service=watcher&lookback=1h&limit=20&tags=${encodeURIComponent(tags)}`,
      );
      const found = (await search.json()) as {
        data: { traceID: string; spans: { operationName: string }[] }[];
      };
      return found.data.find((t) =>
        t.spans.some((s) => s.operationName === 'DELETED ResourceQuota'),
      )?.traceID;
    });
    const spans = await settled(
      traceId,
      'the heal trace',
      (s) =>
        s.some((span) => span.service === 'provision' && isWrite(span)) &&
        s.some((span) => span.service === 'watcher'),
    );
    const event = spans.find((s) => s.service === 'watcher' && s.name === 'DELETED ResourceQuota');
    expect(event?.parentId).toBeUndefined();
    expect(event?.tags['span.kind']).toBe('producer');
    // The push continues it: provision's consumer span is the watcher's span's child.
    const consumed = spans.find((s) => s.service === 'provision' && s.parentId === event?.spanId);
    expect(consumed?.tags['span.kind']).toBe('consumer');
    expect(consumed?.name).toMatch(/^process /);
    const writes = spans.filter((s) => s.service === 'provision' && isWrite(s));
    expect(writes.length).toBeGreaterThan(0);
    for (const write of writes)
      expect(ancestors(spans, write).map((s) => s.spanId)).toContain(consumed?.spanId);

    // provision's log line about it carries Cloud Logging's trace fields: this trace, its span.
    const lines = (await readFile(flow.provision.process.logFile, 'utf8'))
      .split('\n')
      .filter((line) => line.includes('tenant object put back') && line.includes(traceId));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const fields = JSON.parse(line) as Record<string, unknown>;
      expect(fields).toMatchObject({
        'logging.googleapis.com/trace': expect.stringMatching(new RegExp(`${traceId}$`)),
        'logging.googleapis.com/trace_sampled': true,
      });
      expect(spans.map((s) => s.spanId)).toContain(fields['logging.googleapis.com/spanId']);
    }
  });
});
