// `npm start`: the main job on the local stack, over two cells (eu1 in europe-west1, us1 in
// us-central1). Brings up each cell's etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok's simulated nodes (a pod Ready 1 s after it is scheduled, unless
// KUBEFN_POD_START_MS says otherwise), and the Pub/Sub, Auth and Firestore emulators; applies
// kubefn's identities; runs placement, the signup page and the operator console (global), and
// in each cell the provisioning, label and ingress-timeout functions under the Functions
// Framework, the cell's triggers of infra/subscriptions.ts (topics and filtered push
// subscriptions on the emulator) and its watcher forwarding what happens in kubefn's namespaces
// to kubefn-changes, each message naming the cell; prints how to reach them, and keeps everything
// running until Ctrl-C (or SIGTERM), then stops all it started. Each function and the watcher is
// supervised (supervise.ts): one that crashes is restarted with backoff, and that is printed here.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cellTrigger, topics, triggers } from '../subscriptions.ts';
import { localCells, startCells } from './cells.ts';
import { startChangeFlow } from './change-flow.ts';
import { consolePrincipal, startConsole } from './console.ts';
import {
  ingressTimeoutAudience,
  labelAudience,
  placementAudience,
  provisionAudience,
  startIngressTimeoutFunction,
  startLabelFunction,
  startSignupFunction,
} from './deploy.ts';
import { freePort } from './functions.ts';
import { mintToken, operatorAccount, schedulerAccount } from './identities.ts';
import { type Stack, startStack } from './stack.ts';
import { subscribeAll } from './triggers.ts';

/** Who the local console admits: KUBEFN_CONSOLE_OPERATORS (comma-separated), or one made-up operator. */
const consoleOperators = (process.env.KUBEFN_CONSOLE_OPERATORS ?? 'operator@example.com')
  .split(',')
  .map((e) => e.trim())
  .filter(Boolean);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const begun = performance.now();
const step = (line: string) =>
  console.log(`  ${line} (${((performance.now() - begun) / 1000).toFixed(1)} s)`);

let stack: Stack | undefined;
/** The supervised deployables, stopped before the stack so none is restarted into it. */
const running: { stop(): Promise<void> }[] = [];
let stopping = false;
const stopRunning = async () => {
  for (const r of running.toReversed()) await r.stop().catch(() => {});
};
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping everything kubefn started...`);
  await stopRunning();
  await stack?.stop();
  console.log('stopped; no process left behind.');
  process.exit(0);
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(signal, () => void shutdown(signal));

try {
  stack = await startStack({
    cells: localCells.map((cell) => cell.name),
    log: (line) => console.log(`  ${line}`),
    // Tenants' pods take a moment to be Ready, as an image pull and start would.
    ...(process.env.KUBEFN_POD_START_MS === undefined && { podStartMs: 1000 }),
  });
  const cells = await startCells(stack, localCells, {
    placementPort: await preferredPort(8081),
    provisionEnv: {
      // The operator console decides on held deletions and lists every tenant.
      KUBEFN_ALLOW_OPERATOR: consolePrincipal,
      // Each tenant request's outcome events, which the console's live view shows.
      KUBEFN_OUTCOMES_TOPIC: topics.tenantOutcomes,
      PUBSUB_EMULATOR_HOST: stack.pubsubEmulatorHost,
      PUBSUB_PROJECT_ID: stack.pubsubProject,
    },
  });
  running.push(cells);
  const { placement } = cells;
  for (const cell of localCells)
    step(`${cell.name} (${cell.region}): provision up at ${cells.cells[cell.name]?.provision.url}`);
  step(
    `placement up at ${placement.url}, in front of ${localCells.map((c) => c.name).join(' and ')}`,
  );
  const signup = await startSignupFunction(stack, placement.url, cells.signupTokenFile, {
    port: await preferredPort(8080),
    env: { KUBEFN_PROVISION_AUDIENCE: placementAudience },
  });
  running.push(signup);
  step(`signup page up at ${signup.url}, calling placement`);
  const operatorConsole = await startConsole(stack, cells, localCells, {
    operators: consoleOperators,
    port: await preferredPort(8082),
  });
  running.push(operatorConsole);
  step(`operator console up at ${operatorConsole.url}, for ${consoleOperators.join(', ')}`);
  const first = cells.cells[localCells[0]?.name ?? ''];
  if (!first) throw new Error('no cell');
  // Tenant requests are global: placement takes them and forwards each to the tenant's cell.
  const global = await subscribeAll(first.admin, stack, {
    placement: { url: placement.url, audience: placementAudience },
  });
  running.push({ stop: () => global.close() });
  // Per cell: the label and ingress-timeout functions, the cell's own subscriptions, a watcher.
  const perCell: string[] = [];
  const labelUrls: Record<string, string> = {};
  for (const { name } of localCells) {
    const { admin, provision } = cells.cells[name] ?? {};
    const info = stack.cells[name];
    if (!admin || !provision || !info) throw new Error(`cell ${name} did not start`);
    const at = { ...info, dir: stack.dir };
    const cell = { name, dir: info.dir };
    const ingressTimeout = await startIngressTimeoutFunction(admin, at, { cell });
    running.push(ingressTimeout);
    const label = await startLabelFunction(admin, at, { cell });
    running.push(label);
    labelUrls[name] = label.url;
    const subscribed = await subscribeAll(
      admin,
      stack,
      {
        provision: { url: provision.url, audience: provisionAudience },
        label: { url: label.url, audience: labelAudience },
        'ingress-timeout': { url: ingressTimeout.url, audience: ingressTimeoutAudience },
      },
      undefined,
      name,
    );
    running.push({ stop: () => subscribed.close() });
    const flow = await startChangeFlow(admin, stack, { topic: topics.changes, cell: info });
    running.push(flow);
    step(
      `${name}: label, ingress-timeout, its subscriptions, and its watcher (${flow.relayUrl}/status)`,
    );
    perCell.push(
      `  ${name.padEnd(16)}provision ${provision.url}, label ${label.url}, ingress-timeout ${ingressTimeout.url}, watcher ${flow.relayUrl}/status`,
      `  ${''.padEnd(16)}Kubernetes API ${info.server} (nodes ${info.nodes.join(', ')})`,
    );
  }
  step(
    `subscriptions: ${Object.values(triggers)
      .flatMap((t) =>
        t.scope === 'cell'
          ? localCells.map((c) => cellTrigger(t, c.name).subscription)
          : [t.subscription],
      )
      .join(', ')}`,
  );
  // The operator's token (locally kubefn-scheduler, as Cloud Scheduler would call) for label.
  const labelTokenFile = join(stack.dir, 'label-caller.token');
  await writeFile(
    labelTokenFile,
    await mintToken(first.admin, schedulerAccount, { audiences: [labelAudience] }),
    { mode: 0o600 },
  );

  // A local operator's token for placement: moves and drains.
  const operatorTokenFile = join(stack.dir, 'operator.token');
  await writeFile(
    operatorTokenFile,
    await mintToken(first.admin, operatorAccount, { audiences: [placementAudience] }),
    { mode: 0o600 },
  );

  const memory = await stack.memory();
  const total = Object.values(memory).reduce((a, b) => a + b, 0);
  console.log(`
kubefn is running on the local stack (${((performance.now() - begun) / 1000).toFixed(1)} s):
two cells, eu1 (europe-west1) and us1 (us-central1), each its own control plane.

  Sign-up page      ${signup.url}
  Operator console  ${operatorConsole.url}   (sign in with Google as ${consoleOperators.join(' or ')}: the Auth emulator's Google provider)
  placement         ${placement.url}   (audience ${placementAudience}; GET /cells, /regions)
${perCell.join('\n')}
  Pub/Sub emulator  ${stack.pubsubEmulatorHost}   (project ${stack.pubsubProject})
  Auth emulator     http://${stack.authEmulatorHost}   (customers' sign-in, project ${stack.authProject})
  Firestore         ${stack.firestoreEmulatorHost}   (placement's records, project ${stack.firestoreProject})
  memory (RSS)      ${mib(total)}: ${Object.entries(memory)
    .map(([name, bytes]) => `${name} ${mib(bytes)}`)
    .join(', ')}

Open the sign-up page: create an account (email and password), open the verification link
(the Auth emulator prints it in ${join(stack.dir, 'auth-emulator.log')}, and lists it at
http://${stack.authEmulatorHost}/emulator/v1/projects/${stack.authProject}/oobCodes), choose a
region, then sign up. Without signing in, the backend refuses (401) and creates nothing:
  curl -si -X POST ${signup.url}/api/signup -H 'content-type: application/json' -d '{"customerId":"anon-pro","plan":"pro","region":"europe-west1"}'

Or sign up a tenant from a shell, as the signup backend does (its service-account token):
  curl -s -X POST ${placement.url}/tenants -H "authorization: Bearer $(cat ${cells.signupTokenFile})" -H 'content-type: application/json' -d '{"customerId":"acme","plan":"free","region":"europe-west1"}'
  curl -s ${placement.url}/cells -H "authorization: Bearer $(cat ${cells.signupTokenFile})"

Then (eu1's kubeconfig; KUBECONFIG_US1 for us1):
  source ${join(stack.dir, 'stack.env')} && export KUBECONFIG=$KUBECONFIG_EU1 && kubectl get all,quota,networkpolicy -n tenant-acme

Set the tenant's load-balancer timeout; eu1's watcher, Pub/Sub and eu1's ingress-timeout apply it:
  kubectl -n tenant-acme annotate ingress monitoring kubefn.dev/backend-timeout=90s --overwrite
  kubectl -n tenant-acme get backendconfig kubefn-monitoring-http -o jsonpath='{.spec}'

Label everything of a kind in the tenant (eu1's label function):
  curl -s -X POST ${labelUrls.eu1}/labels -H "authorization: Bearer $(cat ${labelTokenFile})" -H 'content-type: application/json' -d '{"target":{"apiVersion":"v1","kind":"Service","namespace":"tenant-acme","labelSelector":"app.kubernetes.io/managed-by=kubefn"},"set":{"tier":"gold"}}'

Delete a tenant's quota; eu1's watcher reports it and eu1's provision puts it back within seconds:
  kubectl -n tenant-acme delete resourcequota tenant-quota && sleep 2 && kubectl -n tenant-acme get resourcequota

Move the tenant to us1, as an operator: placement copies it there with what you set by hand,
switches once it is Ready there, then removes it from eu1 (it is Ready somewhere all along):
  curl -s -X POST ${placement.url}/tenants/acme/move -H "authorization: Bearer $(cat ${operatorTokenFile})" -H 'content-type: application/json' -d '{"to":"us1"}'
Drain a cell: no new tenants there, and each call moves the next 5 (Cloud Scheduler's job does a
round a minute on Google Cloud; here, call it again):
  curl -s -X POST ${placement.url}/cells/eu1/drain -H "authorization: Bearer $(cat ${operatorTokenFile})" -H 'content-type: application/json' -d '{"limit":5,"to":"us1"}'

Publish a billing request (suspend, resume, change-plan, cancel) to ${topics.tenantRequests}; placement sends it to the tenant's cell:
  MSG=$(printf '{"action":"suspend","customerId":"acme","requestedAt":"%s"}' "$(date -u +%FT%T.%3NZ)" | base64 -w0)
  curl -s -X POST http://${stack.pubsubEmulatorHost}/v1/projects/${stack.pubsubProject}/topics/${topics.tenantRequests}:publish -H 'content-type: application/json' -d '{"messages":[{"orderingKey":"acme","data":"'$MSG'"}]}'

A function or a watcher that crashes is restarted (with backoff) and said here; the watcher
resumes from its checkpoint. Press Ctrl-C to stop.`);
} catch (error) {
  console.error(`\nkubefn could not start: ${error instanceof Error ? error.message : error}`);
  await stopRunning();
  await stack?.stop();
  process.exit(1);
}

/** The port a user would expect, if it is free; any free port otherwise. */
async function preferredPort(port: number): Promise<number> {
  const { createServer } = await import('node:net');
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer().once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  return free ? port : freePort();
}
