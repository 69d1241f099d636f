// Simulated nodes for the local stack: kwok (sigs.k8s.io/kwok, built by build.sh) plays the
// kubelet of Node objects the stack creates. It turns them Ready and moves the pods the scheduler
// binds to them through kwok's own Stages (copied from the pinned kwok module by build.sh): a pod
// is Running and Ready after a set delay standing for image pull and start, a Job's pod then
// completes, and a deleted pod is gone at once. No container runs anywhere.
import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Agent, fetch } from 'undici';
import { parseDocument } from 'yaml';
import { binDir } from './binaries.ts';
import { type Managed, startProcess } from './processes.ts';
import { waitFor } from './wait-for.ts';

/** kwok manages the nodes carrying this annotation (`kwok.x-k8s.io/node: fake`, its convention). */
const kwokNodeAnnotation = 'kwok.x-k8s.io/node';
/** What each simulated node offers the scheduler. */
export const nodeCapacity = { cpu: '32', memory: '256Gi', pods: '110' } as const;
/** Pod IPs kwok hands out: apart from the Service range (10.0.0.0/16) and from loopback. */
const podCidr = '10.244.0.0/16';
/** Every simulated node carries this label (beside kubernetes.io/hostname). */
export const nodeLabel = { key: 'kubefn.dev/simulated-node', value: 'kwok' } as const;

// Node: Ready, then a heartbeat every 20-45 s. Pod: Running and Ready (delayed), a Job's pod
// Succeeded, a deleted pod removed.
const stageFiles = [
  'node-initialize.yaml',
  'node-heartbeat.yaml',
  'pod-ready.yaml',
  'pod-complete.yaml',
  'pod-delete.yaml',
];

export function nodeName(index: number): string {
  return `kwok-node-${index}`;
}

/** A Node object kwok will manage; its capacity is kept by kwok's node-initialize Stage. */
function nodeObject(name: string) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [kwokNodeAnnotation]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        [nodeLabel.key]: nodeLabel.value,
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
      },
    },
    // No taint: every node of this stack is simulated, and tenants' pods carry no toleration.
    spec: {},
    status: { capacity: nodeCapacity, allocatable: nodeCapacity },
  };
}

/**
 * Writes kwok's configuration: its Stage files, the pod-ready Stage delayed by `podStartMs`.
 * Fails with what to run when build.sh has not copied them.
 */
export async function writeKwokConfig(
  stagesDir: string,
  file: string,
  podStartMs: number,
): Promise<void> {
  const texts = await Promise.all(
    stageFiles.map((name) => readFile(join(stagesDir, name), 'utf8').catch(() => undefined)),
  );
  // The first missing in the list's order, whichever read failed first.
  const missing = stageFiles.find((_, i) => texts[i] === undefined);
  if (missing)
    throw new Error(
      `kwok's stage ${missing} is missing from ${stagesDir}: run bash infra/local/build.sh`,
    );
  const documents = stageFiles.map((name, i) => {
    const doc = parseDocument(texts[i] ?? '');
    if (name === 'pod-ready.yaml' && podStartMs > 0)
      doc.setIn(['spec', 'delay'], { durationMilliseconds: podStartMs });
    return doc.toString();
  });
  await writeFile(file, documents.join('---\n'));
}

function kwokArgs(kubeconfig: string, config: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--config=${config}`,
    `--manage-nodes-with-annotation-selector=${kwokNodeAnnotation}=fake`,
    `--cidr=${podCidr}`,
    '--v=WARN',
  ];
}

/**
 * Starts kwok with the admin's kubeconfig: it stands in for kubelets, which the Node authorizer
 * would admit.
 */
export async function startKwok(
  dir: string,
  kubeconfig: string,
  podStartMs: number,
): Promise<Managed> {
  const config = join(dir, 'kwok.yaml');
  await writeKwokConfig(join(binDir, 'kwok-stages'), config, podStartMs);
  // kwok reads ~/.kwok/kwok.yaml too, if there is one: HOME is its own folder.
  mkdirSync(join(dir, 'kwok'), { recursive: true });
  return startProcess(dir, 'kwok', join(binDir, 'kwok'), kwokArgs(kubeconfig, config), {
    ...process.env,
    HOME: join(dir, 'kwok'),
  });
}

/** Creates the Node objects kwok is to manage. */
export async function createNodes(server: string, admin: Agent, names: string[]): Promise<void> {
  await Promise.all(
    names.map(async (name) => {
      const res = await fetch(`${server}/api/v1/nodes`, {
        method: 'POST',
        dispatcher: admin,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(nodeObject(name)),
      });
      if (res.status !== 201)
        throw new Error(`could not create node ${name}: ${res.status} ${await res.text()}`);
    }),
  );
}

/** Ready when kwok has made every one of the `count` simulated nodes Ready. */
export async function waitForNodes(
  kwok: Managed,
  server: string,
  admin: Agent,
  count: number,
): Promise<void> {
  await waitFor(kwok, 60_000, async () => {
    const selector = encodeURIComponent(`${nodeLabel.key}=${nodeLabel.value}`);
    const res = await fetch(`${server}/api/v1/nodes?labelSelector=${selector}`, {
      dispatcher: admin,
    });
    const list = (await res.json()) as { items: NodeStatus[] };
    return list.items.filter(nodeReady).length === count;
  });
}

type NodeStatus = { status?: { conditions?: { type: string; status: string }[] } };

function nodeReady(node: NodeStatus): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}
