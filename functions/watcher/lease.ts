// One active relay: leader election through a coordination.k8s.io Lease. A standby instance
// waits; when the leader stops renewing (it died), the lease expires and a standby takes over.
// A leader that shuts down cleanly releases the lease so the takeover is immediate.
//
// "Held by another instance" is an answer, not a failure: it is what a standby sees, and it is
// logged as standing by. Anything else (forbidden, unreachable, ...) is an error, logged as one
// with its code, and retried.
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

export type LeaseOptions = {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  log: Logger;
};

/** One attempt to take or renew: ours now, or held by another (a standby's normal answer). */
export type TakeResult = { held: 'by-us' } | { held: 'by-another'; holder: string | undefined };

/** Lease times are MicroTime: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

const reasonOf = (error: unknown) =>
  error instanceof KubeError ? error.code : error instanceof Error ? error.message : String(error);

export class LeaseHolder {
  #leader = false;
  readonly #cluster: Cluster;
  readonly #options: LeaseOptions;
  #lease: Lease | undefined;

  constructor(cluster: Cluster, options: LeaseOptions) {
    this.#cluster = cluster;
    this.#options = options;
  }

  get leader(): boolean {
    return this.#leader;
  }

  /** Resolves once this instance holds the lease (or rejects when the signal aborts). */
  async acquire(signal: AbortSignal): Promise<void> {
    const { log, name, identity } = this.#options;
    const retryMs = (this.#options.leaseDurationSeconds * 1000) / 4;
    let announced: string | undefined;
    while (!signal.aborted) {
      let take: TakeResult | undefined;
      let failure: unknown;
      try {
        take = await this.tryTake();
      } catch (error) {
        failure = error;
      }
      if (take?.held === 'by-us') {
        this.#leader = true;
        log('INFO', 'leader: acquired the lease', { lease: name, identity });
        return;
      }
      // Each state is logged when it begins, not on every retry.
      const state = take ? 'standby' : `error ${reasonOf(failure)}`;
      if (announced !== state) {
        if (take)
          log('INFO', 'leader: another instance holds the lease; standing by', {
            holder: take.holder,
          });
        else
          log('ERROR', 'leader: cannot read or take the lease; retrying', {
            lease: name,
            reason: reasonOf(failure),
            detail: failure instanceof Error ? failure.message : undefined,
          });
        announced = state;
      }
      await sleep(retryMs, undefined, { signal }).catch(() => {});
    }
    throw new Error('aborted while waiting for the lease');
  }

  /** Renews until the signal aborts; calls `onLost` if another instance took the lease. */
  async keep(signal: AbortSignal, onLost: () => void): Promise<void> {
    const { log, name, leaseDurationSeconds } = this.#options;
    const renewMs = (leaseDurationSeconds * 1000) / 3;
    let lastRenewed = Date.now();
    while (!signal.aborted) {
      await sleep(renewMs, undefined, { signal }).catch(() => {});
      if (signal.aborted) return;
      let lost: string | undefined;
      try {
        const take = await this.tryTake();
        if (take.held === 'by-us') lastRenewed = Date.now();
        else lost = `held by ${take.holder ?? 'another instance'}`;
      } catch (error) {
        // A renewal that keeps failing past the lease's duration means someone else may lead.
        if (Date.now() - lastRenewed > leaseDurationSeconds * 1000) lost = reasonOf(error);
        else
          log('WARNING', 'leader: renewal failed; retrying', {
            lease: name,
            reason: reasonOf(error),
          });
      }
      if (lost) {
        this.#leader = false;
        log('ERROR', 'leader: lost the lease', { lease: name, reason: lost });
        onLost();
        return;
      }
    }
  }

  /** Gives the lease up at once, so a standby does not wait for it to expire. */
  async release(): Promise<void> {
    if (!this.#leader || !this.#lease) return;
    this.#leader = false;
    const { namespace, name, identity } = this.#options;
    let lease: Lease | undefined = this.#lease;
    // A renewal still in flight when the stop came may have written after our last read (seen
    // once under load: a 409, and the lease left held until it expired): read again, and give
    // it up if it is still ours.
    for (let attempt = 0; lease && attempt < 3; attempt++) {
      if (lease.spec?.holderIdentity !== identity) return;
      const spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 };
      try {
        await this.#leases().replace({ ...lease, spec });
        return;
      } catch (error) {
        if (!(error instanceof KubeError && error.code === 'conflict')) return;
      }
      lease = await this.#leases()
        .find(name, { namespace })
        .catch(() => undefined);
    }
  }

  /**
   * Takes or renews the lease if it is free, expired or ours. Held by another, or written by
   * another between our read and our write (409), is an answer; any other failure throws.
   */
  async tryTake(): Promise<TakeResult> {
    const { namespace, name, identity, leaseDurationSeconds } = this.#options;
    const now = Date.now();
    const current = await this.#leases().find(name, { namespace });
    try {
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
        return { held: 'by-us' };
      }
      this.#lease = current;
      const spec = current.spec ?? {};
      const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
      const expired = renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now;
      const ours = spec.holderIdentity === identity;
      if (!ours && spec.holderIdentity && !expired)
        return { held: 'by-another', holder: spec.holderIdentity };
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
      return { held: 'by-us' };
    } catch (error) {
      // Another instance created or wrote the lease first: it holds it now.
      if (
        error instanceof KubeError &&
        (error.code === 'conflict' || error.code === 'already-exists')
      )
        return { held: 'by-another', holder: current?.spec?.holderIdentity };
      throw error;
    }
  }

  #leases() {
    return this.#cluster.resource<Lease>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' });
  }
}
