// `npm start`: brings the local stack up, prints how to reach it, and keeps it running until
// Ctrl-C (or SIGTERM), then stops every process it started.
import { join } from 'node:path';
import { type Stack, startStack } from './stack.ts';

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

const begun = performance.now();
const stack: Stack = await startStack({ log: (line) => console.log(`  ${line}`) });
let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the local stack...`);
  await stack.stop();
  console.log('stopped; no process left behind.');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGHUP', () => void shutdown('SIGHUP'));

const memory = await stack.memory();
const total = Object.values(memory).reduce((a, b) => a + b, 0);
console.log(`
kubefn local stack is up (${((performance.now() - begun) / 1000).toFixed(1)} s).

  Kubernetes API    ${stack.server}   (kube-apiserver, RBAC on)
  kubeconfig        ${stack.kubeconfig}
  etcd              ${stack.etcdUrl}
  Pub/Sub emulator  ${stack.pubsubEmulatorHost}   (project ${stack.pubsubProject})
  memory (RSS)      ${mib(total)}: ${Object.entries(memory)
    .map(([name, bytes]) => `${name} ${mib(bytes)}`)
    .join(', ')}

In another shell:
  source ${join(stack.dir, 'stack.env')}
  kubectl get namespaces

Press Ctrl-C to stop.`);
