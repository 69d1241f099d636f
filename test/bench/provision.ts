// provision: p50/p99 of a provisioning request through the function (Functions Framework, auth,
// validation, HTTP) against the same Kubernetes calls made directly in-process with the same
// identity, interleaved, on the real local stack; then 100 concurrent sign-ups. Where the
// function's extra time goes is read from its own side (fixtures/request-timeline.mjs, preloaded
// into it): request in to answer out, and within that its calls to the API server; the rest of
// the round trip is HTTP between the benchmark and the function.
// Last line: `provision_overhead <p50 function / p50 direct>` (goal <= 1.10).
import { subscribe } from 'node:diagnostics_channel';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { provisionTenant } from '../../functions/provision/handler.ts';
import type { Templates } from '../../functions/provision/render.ts';
import bundle from '../../functions/provision/templates/bundle.json' with { type: 'json' };
import plans from '../../functions/provision/templates/plans.json' with { type: 'json' };
import { provisionAudience, startProvisionFunction } from '../../infra/local/deploy.ts';
import {
  kubeconfigFor,
  localSubjects,
  mintToken,
  signupAccount,
} from '../../infra/local/identities.ts';
import { startStack } from '../../infra/local/stack.ts';
import { fromKubeconfig } from '../../shared/kube/config.ts';
import { Cluster } from '../../shared/kube/index.ts';
import { httpRequest, signUpTenant } from '../support/http.ts';
import { cpuMs, median, ms, percentile } from './stats.ts';

const samples = Number(process.env.PROVISION_SAMPLES ?? 100);
const concurrent = Number(process.env.PROVISION_CONCURRENT ?? 100);

const stack = await startStack();
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const timeline = join(stack.dir, 'provision-timeline.jsonl');
  const fn = await startProvisionFunction(admin, stack, {
    env: {
      NODE_OPTIONS: `--import=${join(import.meta.dirname, 'fixtures/request-timeline.mjs')}`,
      KUBEFN_BENCH_TIMELINE: timeline,
    },
  });
  const token = await mintToken(admin, signupAccount, { audiences: [provisionAudience] });
  const direct = new Cluster(
    await fromKubeconfig({ path: await kubeconfigFor(admin, stack, 'kubefn-provision') }),
  );
  const deps = {
    cluster: direct,
    templates: { bundle, plans } as Templates,
    namespacePrefix: 'tenant-',
    subjects: localSubjects,
  };

  const viaFunction = (customerId: string) => signUpTenant(fn.url, token, customerId);
  // The direct calls' own time around their calls to the API server, read as on the function's
  // side (the benchmark makes no other request meanwhile).
  const directCalls: Served[] = [];
  let directCall: Served | undefined;
  subscribe('http.client.request.start', () => {
    if (directCall) directCall.firstCall ??= performance.now();
  });
  subscribe('http.client.response.finish', () => {
    if (directCall) directCall.lastAnswer = performance.now();
  });
  const directly = async (customerId: string) => {
    directCall = { in: performance.now(), out: 0 };
    await provisionTenant({ customerId, plan: 'free', owners: [], dryRun: false }, deps);
    directCall.out = performance.now();
    directCalls.push(directCall);
    directCall = undefined;
  };

  // Warm both paths (connections, discovery) before timing.
  for (let i = 0; i < 3; i++) {
    await viaFunction(`warm-f-${i}`);
    await directly(`warm-d-${i}`);
  }
  const times = { function: [] as number[], direct: [] as number[] };
  const cpuBefore = await cpuMs(fn.process.pid);
  for (let i = 0; i < samples; i++) {
    const order = i % 2 ? (['direct', 'function'] as const) : (['function', 'direct'] as const);
    for (const side of order) {
      const started = performance.now();
      await (side === 'function' ? viaFunction(`f-${i}`) : directly(`d-${i}`));
      times[side].push(performance.now() - started);
    }
  }

  const functionCpu = ((await cpuMs(fn.process.pid)) - cpuBefore) / samples;
  // The function's view of the timed requests (the last `samples` that called the cluster: the
  // warm-up came before them); the file is written as each answer goes out.
  const served = (await readFile(timeline, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Served)
    .filter((r) => r.firstCall !== undefined)
    .slice(-samples);
  const inside = served.map((r) => r.out - r.in);
  const calls = served.map((r) => (r.lastAnswer ?? r.out) - (r.firstCall ?? r.in));
  const around = inside.map((t, i) => t - (calls[i] ?? 0));
  const before = served.map((r) => (r.firstCall ?? r.in) - r.in);
  const after = served.map((r) => r.out - (r.lastAnswer ?? r.out));
  const directAround = directCalls
    .slice(-samples)
    .map((r) => r.out - r.in - ((r.lastAnswer ?? r.out) - (r.firstCall ?? r.in)));
  const http = times.function.map((t, i) => t - (inside[i] ?? 0));
  const paired = times.function.map((t, i) => t / (times.direct[i] ?? t));

  const burstStarted = performance.now();
  const results = await Promise.allSettled(
    Array.from({ length: concurrent }, (_, i) =>
      httpRequest(
        `${fn.url}/tenants`,
        token,
        'POST',
        JSON.stringify({ customerId: `burst-${i}`, plan: 'pro' }),
      ),
    ),
  );
  const burstMs = performance.now() - burstStarted;
  const created = results.filter((r) => r.status === 'fulfilled' && r.value.status === 201).length;
  const errors = results.length - created;
  const tenants = await admin
    .resource({ apiVersion: 'v1', kind: 'Namespace' })
    .list({ labelSelector: 'kubefn.dev/customer' });
  const burstTenants = tenants.items.filter((n) =>
    n.metadata?.name?.startsWith('tenant-burst-'),
  ).length;

  console.log(`
provision: ${samples} interleaved provisioning requests each (namespace + 10 objects, server-side apply)
  through the function   p50 ${ms(median(times.function))}  p99 ${ms(percentile(times.function, 99))}
  direct calls           p50 ${ms(median(times.direct))}  p99 ${ms(percentile(times.direct, 99))}
  per request, median    function / direct of the same round ${median(paired).toFixed(2)}; the function's CPU ${ms(functionCpu)}
  where the function's time goes (p50 of each part, from its own side):
    HTTP to and from it (client, loopback, request line and headers)  ${ms(median(http))}
    its calls to the API server (first call out to last answer)       ${ms(median(calls))}
    the rest inside it (framework, body, auth, validation, answer)    ${ms(median(around))}
      (before its first call ${ms(median(before))}, after its last answer ${ms(median(after))})
      (the direct calls spend ${ms(median(directAround))} around their calls: rendering, waits between them)
${concurrent} concurrent sign-ups: ${created} created, ${errors} errors, ${burstTenants} tenants in the cluster, ${(burstMs / 1000).toFixed(1)} s in all`);
  console.log(`provision_overhead ${(median(times.function) / median(times.direct)).toFixed(2)}`);
  await Promise.all([admin.close(), direct.close()]);
  if (errors > 0 || burstTenants !== concurrent) process.exitCode = 1;
} finally {
  await stack.stop();
}

type Served = { in: number; out: number; firstCall?: number; lastAnswer?: number };
