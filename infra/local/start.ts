// `npm start`: the main job on the local stack. Brings up etcd, kube-apiserver,
// kube-controller-manager and the Pub/Sub emulator, applies kubefn's identities, runs the
// provisioning function and the signup page under the Functions Framework, prints how to reach
// them, and keeps everything running until Ctrl-C (or SIGTERM), then stops all it started.
import { join } from 'node:path';
import { Cluster, fromKubeconfig } from '../../shared/kube/index.ts';
import {
  provisionAudience,
  signupTokenFile,
  startProvisionFunction,
  startSignupFunction,
} from './deploy.ts';
import { freePort } from './functions.ts';
import { type Stack, startStack } from './stack.ts';

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const begun = performance.now();
const step = (line: string) =>
  console.log(`  ${line} (${((performance.now() - begun) / 1000).toFixed(1)} s)`);

let stack: Stack | undefined;
let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping everything kubefn started...`);
  await stack?.stop();
  console.log('stopped; no process left behind.');
  process.exit(0);
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(signal, () => void shutdown(signal));

try {
  stack = await startStack({ log: (line) => console.log(`  ${line}`) });
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const provision = await startProvisionFunction(admin, stack, { port: await preferredPort(8081) });
  step(`provision function up at ${provision.url}, acting as kubefn-system/kubefn-provision`);
  const tokenFile = await signupTokenFile(admin, stack);
  const signup = await startSignupFunction(stack, provision.url, tokenFile, {
    port: await preferredPort(8080),
  });
  step(`signup page up at ${signup.url}`);
  await admin.close();

  const memory = await stack.memory();
  const total = Object.values(memory).reduce((a, b) => a + b, 0);
  console.log(`
kubefn is running on the local stack (${((performance.now() - begun) / 1000).toFixed(1)} s).

  Sign-up page      ${signup.url}
  provision         ${provision.url}   (audience ${provisionAudience})
  Kubernetes API    ${stack.server}   (kubeconfig ${stack.kubeconfig})
  Pub/Sub emulator  ${stack.pubsubEmulatorHost}   (project ${stack.pubsubProject})
  memory (RSS)      ${mib(total)}: ${Object.entries(memory)
    .map(([name, bytes]) => `${name} ${mib(bytes)}`)
    .join(', ')}

Open the sign-up page, or provision a tenant from a shell:
  curl -s -X POST ${provision.url}/tenants -H "authorization: Bearer $(cat ${tokenFile})" -H 'content-type: application/json' -d '{"customerId":"acme","plan":"free"}'

Then:
  source ${join(stack.dir, 'stack.env')} && kubectl get all,quota,networkpolicy -n tenant-acme

Press Ctrl-C to stop.`);
} catch (error) {
  console.error(`\nkubefn could not start: ${error instanceof Error ? error.message : error}`);
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
