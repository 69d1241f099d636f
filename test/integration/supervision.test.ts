// What `npm start` runs is supervised (infra/local/supervise.ts): on the real stack, the watcher
// process and then the ingress-timeout function are killed with SIGKILL (as a crash would) in the
// middle of a burst of annotation changes, one per Ingress. Each is restarted with backoff on its
// own port, and says so; the restarted watcher resumes from its checkpoint (same name, so same
// Lease and ConfigMap) and delivers what changed while it was down, so every change reaches its
// own BackendConfig, and so does one made after the restart. Bounded: 20 changes, 150 ms apart.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type ChangeFlow, startChangeFlow } from '../../infra/local/change-flow.ts';
import { ingressTimeoutAudience, startIngressTimeoutFunction } from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { localSubjects } from '../../infra/local/identities.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { eventually, uniqueName } from '../support/kube.ts';

const changes = 20;
const namespace = uniqueName('supervised');
const lines: string[] = [];
const log = (line: string) => {
  lines.push(line);
  console.log(line);
};
let admin: Cluster;
let fn: RunningFunction;
let flow: ChangeFlow;

const resource = (apiVersion: string, kind: string) => admin.resource({ apiVersion, kind });

beforeAll(async () => {
  admin = await adminCluster();
  await resource('v1', 'Namespace').create({ metadata: { name: namespace } });
  // What the provisioner binds in a tenant namespace for ingress-timeout's writes.
  await resource('rbac.authorization.k8s.io/v1', 'RoleBinding').create({
    metadata: { name: 'kubefn-ingress-timeout', namespace },
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'kubefn-ingress-timeout-tenant',
    },
    subjects: localSubjects['ingress-timeout'],
  } as never);
  // One Service and one Ingress per change, so each change has a BackendConfig of its own.
  for (let i = 0; i < changes; i++) {
    await resource('v1', 'Service').create({
      metadata: { name: `svc-${i}`, namespace },
      spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] },
    } as never);
    await resource('networking.k8s.io/v1', 'Ingress').create({
      metadata: { name: `ing-${i}`, namespace },
      spec: {
        defaultBackend: { service: { name: `svc-${i}`, port: { name: 'http' } } },
      },
    } as never);
  }
  fn = await startIngressTimeoutFunction(admin, stack, { log });
  flow = await startChangeFlow(admin, stack, {
    topic: uniqueName('supervised'),
    pushTo: { url: `${fn.url}/pubsub`, audience: ingressTimeoutAudience },
    watcherName: uniqueName('watcher-sup'),
    watch: [{ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace }],
    log,
  });
});
afterAll(async () => {
  await flow?.stop();
  await fn?.stop();
  await resource('v1', 'Namespace')
    .delete(namespace)
    .catch(() => {});
  await admin?.close();
});

const annotate = (i: number, seconds: number) =>
  resource('networking.k8s.io/v1', 'Ingress').patch(
    `ing-${i}`,
    { metadata: { annotations: { 'kubefn.dev/backend-timeout': `${seconds}s` } } },
    { namespace },
  );
const timeoutSec = async (i: number) => {
  const config = await resource('cloud.google.com/v1', 'BackendConfig').find(
    `kubefn-svc-${i}-http`,
    {
      namespace,
    },
  );
  return (config?.spec as { timeoutSec?: number } | undefined)?.timeoutSec;
};

test('a watcher and a function killed during a burst are restarted, and no change is lost', {
  timeout: 180_000,
}, async () => {
  const watcherPid = flow.relay.pid;
  const functionPid = fn.process.pid;
  const wanted = new Map<number, number>();
  for (let i = 0; i < changes; i++) {
    if (i === 6) process.kill(watcherPid, 'SIGKILL');
    if (i === 12) process.kill(functionPid, 'SIGKILL');
    await annotate(i, 31 + i);
    wanted.set(i, 31 + i);
    await sleep(150);
  }

  const missing = async () => {
    const left: string[] = [];
    for (const [i, seconds] of wanted)
      if ((await timeoutSec(i)) !== seconds) left.push(`ing-${i}=${seconds}s`);
    return left;
  };
  const allDelivered = (what: string) =>
    eventually(what, 60_000, async () => ((await missing()).length === 0 ? true : undefined)).catch(
      async (error: Error) => {
        throw new Error(`${error.message}; missing: ${(await missing()).join(', ')}`);
      },
    );
  // The watcher was down for most of the burst: its successor delivers what changed meanwhile.
  await allDelivered('every change of the burst reached its BackendConfig');

  // Both were restarted, each saying so, on their own ports.
  expect(lines.some((l) => /watcher-sup.* exited \(SIGKILL\); restarting in/.test(l))).toBe(true);
  expect(lines.some((l) => /ingress-timeout.* exited \(SIGKILL\); restarting in/.test(l))).toBe(
    true,
  );
  await eventually('the watcher says it is back', 30_000, async () =>
    lines.some((l) => /watcher-sup.* is back/.test(l)) ? true : undefined,
  );
  expect(lines.some((l) => /ingress-timeout.* is back/.test(l))).toBe(true);
  expect(flow.relay.pid).not.toBe(watcherPid);
  expect(fn.process.pid).not.toBe(functionPid);
  expect((await fetch(`${flow.relayUrl}/readyz`)).status).toBe(200);
  // The successor resumed from the checkpoint its predecessor saved, not from a fresh list.
  const watching = (await readFile(flow.relay.logFile, 'utf8'))
    .split('\n')
    .filter((line) => line.includes('"message":"watching"'))
    .map((line) => JSON.parse(line) as { resumeFrom: string });
  expect(watching.map((w) => w.resumeFrom)).toEqual([
    'a fresh list',
    expect.stringMatching(/^\d+$/),
  ]);

  // And a change made after the restart goes through too.
  await annotate(0, 120);
  wanted.set(0, 120);
  await allDelivered('the later change reached its BackendConfig');
});
