// ChangeRelayService in-process: a fake cluster (Lease and ConfigMap kept in memory), a fake
// event stream per resource and a fake publisher; no kube-apiserver, no Pub/Sub.
import { describe, expect, test } from 'vitest';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import type { LogFields, Severity } from '../../shared/log.ts';
import { storedIn } from './checkpoint.ts';
import { watcherConfig } from './config.ts';
import type { RelayOptions } from './relay.ts';
import { ChangeRelayService } from './service.ts';

type Stored = Map<string, KubeObject>;

/** Just what the service asks of a cluster; `fail` makes a kind's calls throw that error. */
function fakeCluster(fail: Record<string, KubeError> = {}) {
  const objects = new Map<string, Stored>();
  const cluster = {
    resource: (ref: { apiVersion: string; kind: string }) => {
      const kind = ref.kind;
      const store = objects.get(kind) ?? new Map<string, KubeObject>();
      objects.set(kind, store);
      const guard = () => {
        if (fail[kind]) throw fail[kind];
      };
      const write = async (o: KubeObject) => {
        guard();
        store.set(o.metadata?.name ?? '', o);
        return o;
      };
      return {
        info: async () => ({ apiVersion: ref.apiVersion, group: '', version: 'v1', kind }),
        find: async (name: string) => {
          guard();
          return store.get(name);
        },
        get: async (name: string) => {
          guard();
          const found = store.get(name);
          if (!found) throw new KubeError('not-found', `${kind} ${name}`);
          return found;
        },
        create: write,
        replace: write,
        apply: write,
      };
    },
  };
  return { cluster: cluster as unknown as Cluster, objects };
}

const config = watcherConfig({
  PUBSUB_PROJECT_ID: 'p',
  KUBEFN_WATCH: JSON.stringify([{ apiVersion: 'v1', kind: 'Namespace' }]),
  KUBEFN_LEASE_SECONDS: '1',
});

/** Events for the one resource: a list of one Namespace, then whatever `later` yields. */
const events = (signal: AbortSignal): RelayOptions['events'] =>
  async function* () {
    yield {
      type: 'ADDED',
      object: { metadata: { name: 'n1', uid: 'u1', resourceVersion: '5' } },
      key: { uid: 'u1', resourceVersion: '5', type: 'ADDED' },
      initial: true,
    };
    yield { type: 'SYNCED', resourceVersion: '10' };
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  };

function service(fail: Record<string, KubeError> = {}, identity = 'me') {
  const { cluster, objects } = fakeCluster(fail);
  const logs: { severity: Severity; message: string; fields?: LogFields }[] = [];
  const published: Record<string, string>[] = [];
  let closed = false;
  const streams = new AbortController();
  const svc = new ChangeRelayService({
    config,
    cluster,
    identity,
    log: (severity, message, fields) =>
      logs.push({ severity, message, ...(fields ? { fields } : {}) }),
    publisher: () => ({
      publish: async (message) => {
        published.push(message.attributes);
        return 'id';
      },
      close: async () => {
        closed = true;
      },
    }),
    events: () => events(streams.signal),
  });
  return {
    svc,
    objects,
    logs,
    published,
    closed: () => closed,
    stop: async (budgetMs = 5_000) => {
      const stopping = svc.stop(budgetMs);
      streams.abort();
      await stopping;
    },
  };
}

const until = async (what: string, done: () => boolean) => {
  for (const deadline = Date.now() + 2_000; !done(); await new Promise((r) => setTimeout(r, 5)))
    if (Date.now() > deadline) throw new Error(`${what}: not within 2 s`);
};

describe('ChangeRelayService', () => {
  test('start: takes the Lease, relays, is ready; stop: saves, closes, releases', async () => {
    const s = service();
    expect(s.svc.status()).toMatchObject({ state: 'new', leader: false, ready: false });
    await s.svc.start();
    await until('ready', () => s.svc.status().ready);
    const status = s.svc.status();
    expect(status).toMatchObject({ identity: 'me', state: 'relaying', leader: true });
    expect(status.resources['Namespace.v1._all']).toMatchObject({
      resourceVersion: '10',
      synced: true,
      published: 1,
      inFlight: 0,
    });
    expect(s.published).toEqual([expect.objectContaining({ type: 'ADDED', name: 'n1' })]);

    await s.stop();
    expect(s.svc.status()).toMatchObject({ state: 'stopped', leader: false, ready: false });
    expect(s.closed()).toBe(true);
    const saved = s.objects.get('ConfigMap')?.get('kubefn-watcher-state');
    expect(new Map(storedIn(saved)).get('Namespace.v1._all')).toEqual({
      rv: '10',
      objects: { '/n1': 'u1 5' },
    });
    expect(s.svc.status().checkpoint.savedAt).toBeDefined();
    const lease = s.objects.get('Lease')?.get('kubefn-watcher') as {
      spec: { holderIdentity: string };
    };
    expect(lease.spec.holderIdentity).toBe(''); // released
  });

  test('a standby reports the holder, not an error, and stops at once', async () => {
    const s = service({}, 'second');
    s.objects.set(
      'Lease',
      new Map([
        [
          'kubefn-watcher',
          {
            metadata: { name: 'kubefn-watcher' },
            spec: {
              holderIdentity: 'first',
              leaseDurationSeconds: 60,
              renewTime: new Date().toISOString(),
            },
          } as KubeObject,
        ],
      ]),
    );
    const started = s.svc.start();
    await until('standing by', () => s.logs.some((l) => l.message.includes('standing by')));
    expect(s.svc.status()).toMatchObject({ state: 'standby', leader: false, ready: false });
    expect(s.logs.filter((l) => l.severity === 'ERROR')).toEqual([]);
    await s.stop();
    await started;
    expect(s.svc.status().state).toBe('stopped');
    expect(s.published).toEqual([]);
  });

  test('a forbidden Lease is logged as an error with its code, not as standing by', async () => {
    const s = service({
      Lease: new KubeError('forbidden', 'GET leases/kubefn-watcher: forbidden'),
    });
    const started = s.svc.start();
    await until('error logged', () => s.logs.some((l) => l.severity === 'ERROR'));
    expect(s.logs.find((l) => l.severity === 'ERROR')?.fields).toMatchObject({
      reason: 'forbidden',
    });
    expect(s.logs.some((l) => l.message.includes('standing by'))).toBe(false);
    expect(s.svc.status()).toMatchObject({ leader: false, ready: false });
    await s.stop();
    await started;
  });

  test('a checkpoint that cannot be read fails start', async () => {
    const s = service({ ConfigMap: new KubeError('forbidden', 'GET configmaps: forbidden') });
    await expect(s.svc.start()).rejects.toThrow('forbidden');
    await s.stop();
  });
});
