// `npm start`: the main job on the local stack. Brings up etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok's simulated nodes (a pod Ready 1 s after it is
// scheduled, unless KUBEFN_POD_START_MS says otherwise) and the Pub/Sub emulator, applies kubefn's identities, runs the
// provisioning function and the signup page, the label and ingress-timeout functions under the
// Functions Framework, every trigger of infra/subscriptions.ts (topics and filtered push
// subscriptions on the emulator), and the watcher forwarding what happens in kubefn's namespaces
// to kubefn-changes; prints how to reach them, and keeps everything running
// until Ctrl-C (or SIGTERM), then stops all it started. Each function and the watcher is
// supervised (supervise.ts): one that crashes is restarted with backoff, and that is printed here.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cluster, fromKubeconfig } from '../../shared/kube/index.ts';
import { topics, triggers } from '../subscriptions.ts';
import { startChangeFlow } from './change-flow.ts';
import {
  ingressTimeoutAudience,
  labelAudience,
  provisionAudience,
  signupTokenFile,
  startIngressTimeoutFunction,
  startLabelFunction,
  startProvisionFunction,
  startSignupFunction,
} from './deploy.ts';
import { freePort } from './functions.ts';
import { mintToken, schedulerAccount } from './identities.ts';
import { type Stack, startStack } from './stack.ts';
import { subscribeAll } from './triggers.ts';

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
    log: (line) => console.log(`  ${line}`),
    // Tenants' pods take a moment to be Ready, as an image pull and start would.
    ...(process.env.KUBEFN_POD_START_MS === undefined && { podStartMs: 1000 }),
  });
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const provision = await startProvisionFunction(admin, stack, { port: await preferredPort(8081) });
  running.push(provision);
  step(`provision function up at ${provision.url}, acting as kubefn-system/kubefn-provision`);
  const tokenFile = await signupTokenFile(admin, stack);
  const signup = await startSignupFunction(stack, provision.url, tokenFile, {
    port: await preferredPort(8080),
  });
  running.push(signup);
  step(`signup page up at ${signup.url}`);
  const ingressTimeout = await startIngressTimeoutFunction(admin, stack);
  running.push(ingressTimeout);
  step(`ingress-timeout function up at ${ingressTimeout.url} (backendconfig mode)`);
  const label = await startLabelFunction(admin, stack);
  running.push(label);
  step(`label function up at ${label.url}`);
  // Every trigger of infra/subscriptions.ts: its topic and filtered push subscription.
  const subscribed = await subscribeAll(admin, stack, {
    provision: { url: provision.url, audience: provisionAudience },
    label: { url: label.url, audience: labelAudience },
    'ingress-timeout': { url: ingressTimeout.url, audience: ingressTimeoutAudience },
  });
  running.push({ stop: () => subscribed.close() });
  step(
    `subscriptions: ${Object.values(triggers)
      .map((t) => t.subscription)
      .join(', ')}`,
  );
  const flow = await startChangeFlow(admin, stack, { topic: topics.changes });
  running.push(flow);
  step(`watcher forwarding to topic ${topics.changes} (${flow.relayUrl}/status)`);
  // The operator's token (locally kubefn-scheduler, as Cloud Scheduler would call) for label.
  const labelTokenFile = join(stack.dir, 'label-caller.token');
  await writeFile(
    labelTokenFile,
    await mintToken(admin, schedulerAccount, { audiences: [labelAudience] }),
    { mode: 0o600 },
  );
  await admin.close();

  const memory = await stack.memory();
  const total = Object.values(memory).reduce((a, b) => a + b, 0);
  console.log(`
kubefn is running on the local stack (${((performance.now() - begun) / 1000).toFixed(1)} s).

  Sign-up page      ${signup.url}
  provision         ${provision.url}   (audience ${provisionAudience})
  label             ${label.url}
  ingress-timeout   ${ingressTimeout.url}
  watcher status    ${flow.relayUrl}/status
  Kubernetes API    ${stack.server}   (kubeconfig ${stack.kubeconfig})
  simulated nodes   ${stack.nodes.join(', ')}   (kwok; pods Ready ${stack.podStartMs} ms after scheduling)
  Pub/Sub emulator  ${stack.pubsubEmulatorHost}   (project ${stack.pubsubProject})
  Auth emulator     http://${stack.authEmulatorHost}   (customers' sign-in, project ${stack.authProject})
  memory (RSS)      ${mib(total)}: ${Object.entries(memory)
    .map(([name, bytes]) => `${name} ${mib(bytes)}`)
    .join(', ')}

Open the sign-up page: create an account (email and password), open the verification link
(the Auth emulator prints it in ${join(stack.dir, 'auth-emulator.log')}, and lists it at
http://${stack.authEmulatorHost}/emulator/v1/projects/${stack.authProject}/oobCodes), then sign up.
Without signing in, the backend refuses (401) and creates nothing:
  curl -si -X POST ${signup.url}/api/signup -H 'content-type: application/json' -d '{"customerId":"anon-pro","plan":"pro"}'

Or provision a tenant from a shell, as the signup backend does (its service-account token):
  curl -s -X POST ${provision.url}/tenants -H "authorization: Bearer $(cat ${tokenFile})" -H 'content-type: application/json' -d '{"customerId":"acme","plan":"free"}'

Then:
  source ${join(stack.dir, 'stack.env')} && kubectl get all,quota,networkpolicy -n tenant-acme

Set the tenant's load-balancer timeout; the watcher, Pub/Sub and ingress-timeout apply it:
  kubectl -n tenant-acme annotate ingress monitoring kubefn.dev/backend-timeout=90s --overwrite
  kubectl -n tenant-acme get backendconfig kubefn-monitoring-http -o jsonpath='{.spec}'

Label everything of a kind in the tenant:
  curl -s -X POST ${label.url}/labels -H "authorization: Bearer $(cat ${labelTokenFile})" -H 'content-type: application/json' -d '{"target":{"apiVersion":"v1","kind":"Service","namespace":"tenant-acme","labelSelector":"app.kubernetes.io/managed-by=kubefn"},"set":{"tier":"gold"}}'

Delete a tenant's quota; the watcher reports it and provision puts it back within seconds:
  kubectl -n tenant-acme delete resourcequota tenant-quota && sleep 2 && kubectl -n tenant-acme get resourcequota

Publish a billing request (suspend, resume, change-plan, cancel) to ${topics.tenantRequests}:
  MSG=$(printf '{"action":"suspend","customerId":"acme","requestedAt":"%s"}' "$(date -u +%FT%T.%3NZ)" | base64 -w0)
  curl -s -X POST http://${stack.pubsubEmulatorHost}/v1/projects/${stack.pubsubProject}/topics/${topics.tenantRequests}:publish -H 'content-type: application/json' -d '{"messages":[{"orderingKey":"acme","data":"'$MSG'"}]}'

A function or the watcher that crashes is restarted (with backoff) and said here; the watcher
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
