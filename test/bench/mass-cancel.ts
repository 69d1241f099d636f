// `npm run bench -- mass-cancel` (issue 31): a billing bug publishes MASS_CANCELS (default 5,000)
// cancels at once, on the real local stack and Pub/Sub emulator, against provision with the
// default deletion budget (KUBEFN_DELETION_BUDGET, 10/1h unless MASS_BUDGET says otherwise).
// Expected: exactly the budget deleted, every other tenant held (label kubefn.dev/deletion-held),
// none lost (every cancel answered 200: done or held), and a second delivery of every cancel
// changes nothing. Not part of `npm test`: it creates thousands of namespaces.
//
// The tenants are bare namespaces labelled as kubefn's tenants (managed-by, customer): a cancel
// reads only the namespace, so the bundle's objects would only slow the setup down.
import { setTimeout as sleep } from 'node:timers/promises';
import { provisionAudience, startProvisionFunction } from '../../infra/local/deploy.ts';
import { principal, pushAccount, schedulerAccount } from '../../infra/local/identities.ts';
import { startStack } from '../../infra/local/stack.ts';
import { subscribe } from '../../infra/local/triggers.ts';
import { mapLimit } from '../../shared/concurrency.ts';
import { fromKubeconfig } from '../../shared/kube/config.ts';
import { Cluster } from '../../shared/kube/index.ts';

const cancels = Number(process.env.MASS_CANCELS ?? 5000);
const budget = process.env.MASS_BUDGET ?? '10/1h';
const perWindow = Number(budget.split('/')[0]);
const prefix = 'mass-';
const topic = 'mass-tenant-requests';
const nsRef = { apiVersion: 'v1', kind: 'Namespace' } as const;
const customers = Array.from({ length: cancels }, (_, i) => `m${i}`);

const stack = await startStack();
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const started = performance.now();
  await mapLimit(customers, 32, (customerId) =>
    admin.resource(nsRef).create({
      ...nsRef,
      metadata: {
        name: prefix + customerId,
        labels: { 'app.kubernetes.io/managed-by': 'kubefn', 'kubefn.dev/customer': customerId },
      },
    }),
  );
  console.log(
    `${cancels} tenants created in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const fn = await startProvisionFunction(admin, stack, {
    env: {
      KUBEFN_NAMESPACE_PREFIX: prefix,
      KUBEFN_DELETION_BUDGET: budget,
      KUBEFN_ALLOW_PUSH: principal(pushAccount),
      KUBEFN_ALLOW_OPERATOR: principal(schedulerAccount),
    },
  });
  const answers = new Map<string, number>();
  let pushes = 0;
  const subscribed = await subscribe(admin, stack, {
    topic,
    subscription: `${topic}-push`,
    url: `${fn.url}/pubsub/tenants`,
    audience: provisionAudience,
    ordered: true,
    onAnswer: (status, _attributes, body) => {
      pushes++;
      const key = `${status} ${status === 200 ? (JSON.parse(body) as { outcome: string }).outcome : ''}`;
      answers.set(key, (answers.get(key) ?? 0) + 1);
    },
  });
  const publishAll = async (requestedAt: string) => {
    for (let i = 0; i < customers.length; i += 1000) {
      const messages = customers.slice(i, i + 1000).map((customerId) => ({
        data: Buffer.from(
          JSON.stringify({ action: 'cancel', customerId, confirm: customerId, requestedAt }),
        ).toString('base64'),
        orderingKey: customerId,
      }));
      const url = `http://${stack.pubsubEmulatorHost}/v1/projects/${stack.pubsubProject}/topics/${topic}:publish`;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages }),
      });
      if (!res.ok) throw new Error(`publish: ${res.status}`);
    }
  };
  const settle = async (wanted: number, what: string) => {
    const since = performance.now();
    // Bounded: 20 minutes at most, whatever the machine's load.
    while (countOk() < wanted) {
      if (performance.now() - since > 20 * 60_000) throw new Error(`${what}: not settled`);
      await sleep(500);
    }
    console.log(
      `${what}: ${wanted} answered in ${((performance.now() - since) / 1000).toFixed(1)} s`,
    );
  };
  const countOk = () =>
    [...answers].filter(([key]) => key.startsWith('200')).reduce((n, [, v]) => n + v, 0);
  const census = async () => {
    let deleted = 0;
    let held = 0;
    let kept = 0;
    const live = new Map<string, Record<string, string>>();
    for await (const ns of admin
      .resource(nsRef)
      .items({ labelSelector: 'app.kubernetes.io/managed-by=kubefn,kubefn.dev/customer' }))
      if (!ns.metadata?.deletionTimestamp)
        live.set(ns.metadata?.name ?? '', ns.metadata?.labels ?? {});
    for (const customerId of customers) {
      const labels = live.get(prefix + customerId);
      if (!labels) deleted++;
      else if (labels['kubefn.dev/deletion-held'] === 'true') held++;
      else kept++;
    }
    return { deleted, held, kept };
  };

  const requestedAt = new Date().toISOString();
  await publishAll(requestedAt);
  await settle(cancels, `${cancels} cancels`);
  const first = await census();
  console.log(`answers: ${JSON.stringify(Object.fromEntries(answers))}; pushes ${pushes}`);
  console.log(`after the cancels: ${JSON.stringify(first)}`);
  answers.clear();
  await publishAll(requestedAt);
  await settle(cancels, 'the same cancels again');
  const second = await census();
  console.log(`answers: ${JSON.stringify(Object.fromEntries(answers))}`);
  console.log(`after the second delivery: ${JSON.stringify(second)}`);
  const ok =
    first.deleted === perWindow &&
    first.held === cancels - perWindow &&
    first.kept === 0 &&
    JSON.stringify(second) === JSON.stringify(first);
  console.log(
    `mass_cancel_deleted ${first.deleted} held ${first.held} (budget ${budget}) ${ok ? 'ok' : 'NOT MET'}`,
  );
  await subscribed.close();
  await fn.stop();
  await admin.close();
  if (!ok) process.exitCode = 1;
} finally {
  await stack.stop();
}
