// provision: p50/p99 of a provisioning request through the function (Functions Framework, auth,
// validation, HTTP) against the same Kubernetes calls made directly in-process with the same
// identity, interleaved, on the real local stack; then 100 concurrent sign-ups.
// Last line: `provision_overhead <p50 function / p50 direct>` (goal <= 1.25).
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
import { httpRequest } from '../support/http.ts';
import { median, ms, percentile } from './stats.ts';

const samples = Number(process.env.PROVISION_SAMPLES ?? 60);
const concurrent = Number(process.env.PROVISION_CONCURRENT ?? 100);

const stack = await startStack();
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const fn = await startProvisionFunction(admin, stack);
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

  const viaFunction = async (customerId: string) => {
    const answer = await httpRequest(
      `${fn.url}/tenants`,
      token,
      'POST',
      JSON.stringify({ customerId, plan: 'free' }),
    );
    if (answer.status !== 201)
      throw new Error(`function answered ${answer.status}: ${answer.body}`);
  };
  const directly = async (customerId: string) => {
    await provisionTenant({ customerId, plan: 'free', owners: [], dryRun: false }, deps);
  };

  // Warm both paths (connections, discovery) before timing.
  for (let i = 0; i < 3; i++) {
    await viaFunction(`warm-f-${i}`);
    await directly(`warm-d-${i}`);
  }
  const times = { function: [] as number[], direct: [] as number[] };
  for (let i = 0; i < samples; i++) {
    const order = i % 2 ? (['direct', 'function'] as const) : (['function', 'direct'] as const);
    for (const side of order) {
      const started = performance.now();
      await (side === 'function' ? viaFunction(`f-${i}`) : directly(`d-${i}`));
      times[side].push(performance.now() - started);
    }
  }

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
${concurrent} concurrent sign-ups: ${created} created, ${errors} errors, ${burstTenants} tenants in the cluster, ${(burstMs / 1000).toFixed(1)} s in all`);
  console.log(`provision_overhead ${(median(times.function) / median(times.direct)).toFixed(2)}`);
  await Promise.all([admin.close(), direct.close()]);
  if (errors > 0 || burstTenants !== concurrent) process.exitCode = 1;
} finally {
  await stack.stop();
}
