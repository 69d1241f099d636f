// One active watcher: leader election through a coordination.k8s.io Lease. A standby instance
// waits; when the leader stops renewing (it died), the lease expires and a standby takes over.
// A leader that shuts down cleanly releases the lease so the takeover is immediate.
import { setTimeout as sleep } from 'node:timers/promises';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import type { Logger } from '../../shared/log.ts';

type LeaseSpec = {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
};
type Lease = KubeObject & { spec?: LeaseSpec };

export type LeaderOptions = {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  log: Logger;
};

/** Lease times are MicroTime: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

export class LeaderElector {
  leader = false;
  readonly #cluster: Cluster;
  readonly #options: LeaderOptions;
  #lease: Lease | undefined;

  constructor(cluster: Cluster, options: LeaderOptions) {
    this.#cluster = cluster;
    this.#options = options;
  }

  /** Resolves once this instance holds the lease (or rejects when the signal aborts). */
  async acquire(signal: AbortSignal): Promise<void> {
    const retryMs = (this.#options.leaseDurationSeconds * 1000) / 4;
    let announced = false;
    while (!signal.aborted) {
      if (await this.#tryTake().catch(() => false)) {
        this.leader = true;
        this.#options.log('INFO', 'leader: acquired the lease', {
          lease: this.#options.name,
          identity: this.#options.identity,
        });
        return;
      }
      if (!announced) {
        this.#options.log('INFO', 'leader: another instance holds the lease; standing by', {
          holder: this.#lease?.spec?.holderIdentity,
        });
        announced = true;
      }
      await sleep(retryMs, undefined, { signal }).catch(() => {});
    }
    throw new Error('aborted while waiting for the lease');
  }

  /** Renews until the signal aborts; calls `onLost` if another instance took the lease. */
  async keep(signal: AbortSignal, onLost: () => void): Promise<void> {
    const renewMs = (this.#options.leaseDurationSeconds * 1000) / 3;
    let lastRenewed = Date.now();
    while (!signal.aborted) {
      await sleep(renewMs, undefined, { signal }).catch(() => {});
      if (signal.aborted) return;
      try {
        if (!(await this.#tryTake())) throw new Error('held by another instance');
        lastRenewed = Date.now();
      } catch (error) {
        // A renewal that keeps failing past the lease's duration means someone else may lead.
        if (
          Date.now() - lastRenewed > this.#options.leaseDurationSeconds * 1000 ||
          (error instanceof Error && error.message.includes('another'))
        ) {
          this.leader = false;
          this.#options.log('ERROR', 'leader: lost the lease', { lease: this.#options.name });
          onLost();
          return;
        }
      }
    }
  }

  /** Gives the lease up at once, so a standby does not wait for it to expire. */
  async release(): Promise<void> {
    if (!this.leader || !this.#lease) return;
    this.leader = false;
    const spec = { ...this.#lease.spec, holderIdentity: '', leaseDurationSeconds: 1 };
    await this.#leases()
      .replace({ ...this.#lease, spec })
      .catch(() => {});
  }

  /** Takes or renews the lease if it is free, expired or ours; false if another holds it. */
  async #tryTake(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.#options;
    const now = Date.now();
    const current = await this.#leases()
      .get(name, { namespace })
      .catch((error: unknown) => {
        if (error instanceof KubeError && error.code === 'not-found') return undefined;
        throw error;
      });
    if (!current) {
      this.#lease = await this.#leases().create({
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      });
      return true;
    }
    this.#lease = current;
    const spec = current.spec ?? {};
    const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now;
    const ours = spec.holderIdentity === identity;
    if (!ours && spec.holderIdentity && !expired) return false;
    // A PUT carrying the resourceVersion we read: if another instance wrote in between, 409.
    this.#lease = await this.#leases().replace({
      ...current,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds,
        renewTime: microTime(now),
        ...(ours
          ? {}
          : { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      },
    });
    return true;
  }

  #leases() {
    return this.#cluster.resource<Lease>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' });
  }
}
