// The watcher deployable (functions/watcher: ChangeRelayService behind its main) as the process
// that is deployed, acting as kubefn-system/kubefn-watcher on the real kube-apiserver and
// publishing to the real emulator: one leader (a second instance stands by and
// takes over when the first is killed), health endpoints, and a clean SIGTERM within 10 seconds.

import { afterAll, beforeAll, expect, test } from 'vitest';
import { storedIn } from '../../functions/watcher/checkpoint.ts';
import { buildFunctions } from '../../infra/build-functions.ts';
import { freePort } from '../../infra/local/functions.ts';
import { applyIdentities, kubeconfigFor } from '../../infra/local/identities.ts';
import { type Managed, startProcess } from '../../infra/local/processes.ts';
import type { ChangeAttributes } from '../../shared/events/change.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { pubsub, topicPath } from '../support/pubsub.ts';

let admin: Cluster;
let env: Record<string, string>;
let source: string;
const marker = uniqueName('watch');
const topic = uniqueName('changes');
const subscription = uniqueName('sub');
const names: string[] = [];

beforeAll(async () => {
  admin = await adminCluster();
  await applyIdentities(admin);
  source = (await buildFunctions(['watcher'])).watcher?.entry ?? '';
  expect((await pubsub('PUT', `topics/${topic}`)).status).toBe(200);
  expect(
    (await pubsub('PUT', `subscriptions/${subscription}`, { topic: topicPath(topic) })).status,
  ).toBe(200);
  env = {
    KUBECONFIG: await kubeconfigFor(admin, stack, 'kubefn-watcher'),
    KUBEFN_WATCH: JSON.stringify([
      { apiVersion: 'v1', kind: 'Namespace', labelSelector: `kubefn.dev/watch-test=${marker}` },
    ]),
    KUBEFN_TOPIC: topic,
    KUBEFN_LEASE_SECONDS: '3',
    PUBSUB_EMULATOR_HOST: stack.pubsubEmulatorHost,
    PUBSUB_PROJECT_ID: stack.pubsubProject,
    METADATA_SERVER_DETECTION: 'none',
  };
});
afterAll(async () => {
  for (const name of names)
    await admin
      .resource({ apiVersion: 'v1', kind: 'Namespace' })
      .delete(name)
      .catch(() => {});
  await admin.close();
});

async function startRelayProcess(name: string): Promise<{ proc: Managed; url: string }> {
  const port = await freePort();
  const proc = startProcess(stack.dir, name, process.execPath, [source], {
    ...process.env,
    ...env,
    PORT: String(port),
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(`${name} listening`, 30_000, () =>
    fetch(`${url}/livez`).then(
      (r) => (r.ok ? true : undefined),
      () => undefined,
    ),
  );
  return { proc, url };
}

const seenMessages = new Set<string>();
async function pulled(): Promise<string[]> {
  const res = await pubsub('POST', `subscriptions/${subscription}:pull`, {
    maxMessages: 100,
    returnImmediately: true,
  });
  const messages = (res.body.receivedMessages ?? []) as {
    ackId: string;
    message: { attributes: ChangeAttributes };
  }[];
  if (messages.length)
    await pubsub('POST', `subscriptions/${subscription}:acknowledge`, {
      ackIds: messages.map((m) => m.ackId),
    });
  for (const { message } of messages) {
    seenMessages.add(`${message.attributes.type} ${message.attributes.name}`);
  }
  return [...seenMessages];
}

async function createNamespace(): Promise<string> {
  const name = uniqueName('watched');
  names.push(name);
  await admin
    .resource({ apiVersion: 'v1', kind: 'Namespace' })
    .create({ metadata: { name, labels: { 'kubefn.dev/watch-test': marker } } });
  return name;
}

test('one leader forwards changes; a standby takes over when it is killed; SIGTERM exits cleanly', async () => {
  const first = await startRelayProcess('watcher-1');
  await eventually('first ready', 30_000, () =>
    fetch(`${first.url}/readyz`).then((r) => (r.ok ? true : undefined)),
  );
  const a = await createNamespace();
  await eventually('change forwarded', 30_000, async () =>
    (await pulled()).includes(`ADDED ${a}`) ? true : undefined,
  );

  // The resume point, with the forwarded change, is saved where a successor finds it (a save
  // from before the change may come first: wait for one that has it).
  await eventually('checkpoint saved with the change', 30_000, async () => {
    const state = await admin
      .resource({ apiVersion: 'v1', kind: 'ConfigMap' })
      .find('kubefn-watcher-state', { namespace: 'kubefn-system' });
    const saved = storedIn(state).find(([key]) => key.startsWith('Namespace.v1._all.'));
    return saved && `/${a}` in saved[1].objects ? true : undefined;
  });

  const second = await startRelayProcess('watcher-2');
  expect((await fetch(`${second.url}/readyz`)).status).toBe(503); // standing by
  expect(await (await fetch(`${second.url}/status`)).json()).toMatchObject({ leader: false });

  process.kill(first.proc.pid, 'SIGKILL'); // no chance to release the lease: it must expire
  await first.proc.exited;
  const b = await createNamespace();
  await eventually('standby took over', 30_000, () =>
    fetch(`${second.url}/readyz`).then((r) => (r.ok ? true : undefined)),
  );
  await eventually('change after takeover', 30_000, async () =>
    (await pulled()).includes(`ADDED ${b}`) ? true : undefined,
  );

  const started = Date.now();
  process.kill(second.proc.pid, 'SIGTERM');
  const exit = await second.proc.exited;
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(exit).toBe('exit code 0');
  const lease = await admin
    .resource({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' })
    .get('kubefn-watcher', { namespace: 'kubefn-system' });
  expect((lease.spec as { holderIdentity?: string }).holderIdentity).toBe(''); // released
});
