// ready: time to ready, from the sign-up request to the tenant's workload available, through
// kubefn (POST /tenants on the provisioning function) against the same objects applied directly
// (kubefn's own model renders them; the admin client creates them) and the same condition waited
// for, rounds interleaved, first with READY_SMALL tenants present, then with READY_LARGE. Nodes are
// simulated (kwok) with no start delay, so the figure is kubefn's and the control plane's.
// Each phase is timed from watches over every namespace (milliseconds, not the objects' second-
// resolution times): namespace created, quota counted, workload available, a ready endpoint.
// Last lines: `ready_overhead <p50 kubefn / p50 direct>` (goal <= 1.10) and `ready_scale_ratio
// <p99 kubefn with READY_LARGE present / p99 with READY_SMALL>` (goal <= 1.20).
import { setTimeout as sleep } from 'node:timers/promises';
import { available, hasReadyEndpoint, policyKinds } from '../../functions/provision/readiness.ts';
import type { Templates } from '../../functions/provision/render.ts';
import bundle from '../../functions/provision/templates/bundle.json' with { type: 'json' };
import plans from '../../functions/provision/templates/plans.json' with { type: 'json' };
import { desiredNamespace, desiredObjects, tenantId } from '../../functions/provision/tenant.ts';
import { provisionAudience, startProvisionFunction } from '../../infra/local/deploy.ts';
import { localSubjects, mintToken, signupAccount } from '../../infra/local/identities.ts';
import { startStack } from '../../infra/local/stack.ts';
import { mapLimit } from '../../shared/concurrency.ts';
import { fromKubeconfig } from '../../shared/kube/config.ts';
import { Cluster, type KubeObject, Watcher } from '../../shared/kube/index.ts';
import { signUpTenant } from '../support/http.ts';
import { ms, percentile } from './stats.ts';

const small = Number(process.env.READY_SMALL ?? 100);
const large = Number(process.env.READY_LARGE ?? 5_000);
const rounds = Number(process.env.READY_ROUNDS ?? 30);
// One pod a tenant (the free plan's monitoring): room for all of them, 110 a node.
const nodes = Math.ceil((large + 2 * rounds * 2 + 50) / 100);
const templates = { bundle, plans } as Templates;
const phases = ['namespace', 'quota', 'available', 'endpoint'] as const;
type PhaseKey = (typeof phases)[number];

const stack = await startStack({ nodes, podStartMs: 0 });
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const fn = await startProvisionFunction(admin, stack, {
    // Room for every tenant the run makes (the fill, the warm-ups, both sides of every round).
    env: { KUBEFN_MAX_TENANTS: String(large * 2 + 4 * rounds + 10) },
  });
  const token = await mintToken(admin, signupAccount, {
    audiences: [provisionAudience],
    expirationSeconds: 3600,
  });

  // When each namespace reached each phase, from one watch per kind over every namespace.
  const seen = new Map<string, Partial<Record<PhaseKey, number>>>();
  const mark = (namespace: string | undefined, phase: PhaseKey) => {
    if (!namespace) return;
    const entry = seen.get(namespace) ?? {};
    entry[phase] ??= performance.now();
    seen.set(namespace, entry);
  };
  const stop = new AbortController();
  const watch = (
    ref: { apiVersion: string; kind: string },
    reached: (o: KubeObject) => boolean,
    phase: PhaseKey,
  ) =>
    (async () => {
      for await (const event of new Watcher(admin.resource(ref), {
        signal: stop.signal,
        keepObjects: false,
      })) {
        if ((event.type === 'ADDED' || event.type === 'MODIFIED') && reached(event.object))
          mark(
            phase === 'namespace' ? event.object.metadata?.name : event.object.metadata?.namespace,
            phase,
          );
      }
    })().catch(() => {});
  const status = (o: KubeObject) => (o.status ?? {}) as Record<string, unknown>;
  const watching = [
    watch({ apiVersion: 'v1', kind: 'Namespace' }, () => true, 'namespace'),
    watch(
      { apiVersion: 'v1', kind: 'ResourceQuota' },
      (o) => status(o).hard !== undefined,
      'quota',
    ),
    watch({ apiVersion: 'apps/v1', kind: 'Deployment' }, available, 'available'),
    watch(
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' },
      hasReadyEndpoint,
      'endpoint',
    ),
  ];

  const until = async (namespace: string, phase: PhaseKey) => {
    for (const deadline = Date.now() + 120_000; !seen.get(namespace)?.[phase]; await sleep(2))
      if (Date.now() > deadline) throw new Error(`${namespace}: ${phase} not within 120 s`);
  };

  const viaKubefn = (customerId: string) => signUpTenant(fn.url, token, customerId);
  // The same objects, rendered by kubefn's model, created by the admin client one after another,
  // the workloads once the quota is counted, as kubefn does (else a pod may escape the quota).
  const directly = async (customerId: string) => {
    const tenant = {
      ...tenantId('tenant-', customerId),
      plan: 'free',
      suspended: false,
      owners: [],
    };
    const create = (o: KubeObject, namespace?: string) =>
      admin
        .resource({ apiVersion: o.apiVersion ?? 'v1', kind: o.kind ?? '' })
        .create(namespace ? { ...o, metadata: { ...o.metadata, namespace } } : o);
    await create(desiredNamespace(tenant));
    const objects = desiredObjects(templates, tenant, localSubjects).map((o) => o.object);
    const policy = (o: KubeObject) => policyKinds.has(o.kind ?? '');
    for (const object of objects.filter(policy)) await create(object, tenant.namespace);
    await until(tenant.namespace, 'quota');
    for (const object of objects.filter((o) => !policy(o))) await create(object, tenant.namespace);
  };

  type Side = 'kubefn' | 'direct';
  // The total is the time to `available`: the last phase waited for.
  type Sample = Record<PhaseKey, number>;
  const measure = async (label: string) => {
    const samples: Record<Side, Sample[]> = { kubefn: [], direct: [] };
    for (let i = 0; i < rounds; i++) {
      for (const side of i % 2
        ? (['direct', 'kubefn'] as const)
        : (['kubefn', 'direct'] as const)) {
        const customerId = `r-${label}-${side[0]}-${i}`;
        const started = performance.now();
        await (side === 'kubefn' ? viaKubefn(customerId) : directly(customerId));
        const namespace = `tenant-${customerId}`;
        await until(namespace, 'available');
        await until(namespace, 'endpoint');
        const at = seen.get(namespace) ?? {};
        const since = (p: PhaseKey) => (at[p] ?? Number.NaN) - started;
        samples[side].push({
          namespace: since('namespace'),
          quota: since('quota'),
          available: since('available'),
          endpoint: since('endpoint'),
        });
      }
    }
    return samples;
  };
  /** Tenants present: created through kubefn, 16 at a time, then their workloads available. */
  let present = 0;
  const fill = async (count: number) => {
    const started = performance.now();
    const ids = Array.from({ length: count - present }, (_, i) => `fill-${present + i}`);
    await mapLimit(ids, 16, (id) => viaKubefn(id));
    present = count;
    for (const id of ids) await until(`tenant-${id}`, 'available');
    console.log(
      `${count} tenants present (${ids.length} added in ${((performance.now() - started) / 1000).toFixed(0)} s, all available)`,
    );
  };

  await fill(small);
  for (let i = 0; i < 3; i++) {
    await viaKubefn(`warm-k-${i}`);
    await directly(`warm-d-${i}`);
  }
  const atSmall = await measure('s');
  await fill(large);
  const atLarge = await measure('l');
  stop.abort();
  await Promise.allSettled(watching);
  await fn.stop();
  await admin.close();

  const pick = (samples: Sample[], key: keyof Sample) => samples.map((s) => s[key]);
  const line = (samples: Sample[]) =>
    `p50 ${ms(percentile(pick(samples, 'available'), 50))}, p99 ${ms(percentile(pick(samples, 'available'), 99))}; phases (p50 from the request): ${phases
      .map((p) => `${p} ${ms(percentile(pick(samples, p), 50))}`)
      .join(', ')}`;
  console.log(
    `time to ready (request -> workload available), ${rounds} interleaved rounds a side, ${nodes} simulated nodes, pods started at once:`,
  );
  for (const [count, samples] of [
    [small, atSmall],
    [large, atLarge],
  ] as const) {
    console.log(`  ${count} tenants present`);
    console.log(`    kubefn: ${line(samples.kubefn)}`);
    console.log(`    direct: ${line(samples.direct)}`);
  }
  const p50 = (s: Sample[]) => percentile(pick(s, 'available'), 50);
  const p99 = (s: Sample[]) => percentile(pick(s, 'available'), 99);
  console.log(
    `  ready_overhead with ${large} present: ${(p50(atLarge.kubefn) / p50(atLarge.direct)).toFixed(2)}`,
  );
  console.log(`ready_overhead ${(p50(atSmall.kubefn) / p50(atSmall.direct)).toFixed(2)}`);
  console.log(`ready_scale_ratio ${(p99(atLarge.kubefn) / p99(atSmall.kubefn)).toFixed(2)}`);
} finally {
  await stack.stop();
}
