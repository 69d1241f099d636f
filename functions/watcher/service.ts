// ChangeRelayService: the watcher deployable's one object. It takes the Lease (one active
// instance), loads the checkpoints, runs one Relay per configured resource into Pub/Sub, and
// saves the checkpoints while they move. `status()` is what the health endpoints answer from;
// `stop(budgetMs)` stops reading, lets what is in flight be acknowledged, saves, closes the
// publisher and releases the Lease, all within the budget.
import type { ChangeMessage } from '../../shared/events/change.ts';
import { changeMessage } from '../../shared/events/change.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import type { Logger } from '../../shared/log.ts';
import { type CheckpointStatus, CheckpointStore, Checkpoints } from './checkpoint.ts';
import { targetKey, type WatcherConfig } from './config.ts';
import { LeaseHolder } from './lease.ts';
import { PublishWindow } from './publish-window.ts';
import type { Publish } from './publisher.ts';
import { Relay, type RelayOptions, type RelayStatus } from './relay.ts';
import { ChangeDigests, NamespaceSelection } from './select.ts';

export type RelayPublisher = { publish: Publish; close(): Promise<void> };

export type ServiceDeps = {
  config: WatcherConfig;
  cluster: Cluster;
  /** This instance's name on the Lease. */
  identity: string;
  /** Made once this instance leads (a standby opens no Pub/Sub client). */
  publisher: () => RelayPublisher;
  log: Logger;
  /** Another instance took the Lease: the process should stop (default: the service stops). */
  onLeaseLost?: () => void;
  /** Replaces each relay's list-watch (tests). */
  events?: (key: string) => RelayOptions['events'];
};

export type ServiceState = 'new' | 'standby' | 'starting' | 'relaying' | 'stopping' | 'stopped';

export type ServiceStatus = {
  identity: string;
  state: ServiceState;
  leader: boolean;
  /** Leader, relaying at least one resource, and each one listed (or resumed). */
  ready: boolean;
  checkpoint: CheckpointStatus;
  resources: Record<string, RelayStatus & { lagMs: number }>;
};

type Active = { runs: Promise<void>[]; checkpoints: Checkpoints; publisher: RelayPublisher };

const timeout = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export class ChangeRelayService {
  readonly #deps: ServiceDeps;
  readonly #lease: LeaseHolder;
  readonly #stopping = new AbortController();
  readonly #relays = new Map<string, Relay>();
  #state: ServiceState = 'new';
  #active: Active | undefined;
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(deps: ServiceDeps) {
    this.#deps = deps;
    this.#lease = new LeaseHolder(deps.cluster, {
      namespace: deps.config.systemNamespace,
      name: deps.config.name,
      identity: deps.identity,
      leaseDurationSeconds: deps.config.leaseSeconds,
      log: deps.log,
    });
  }

  /**
   * Waits for the Lease, then starts relaying. Resolves once relaying (or when stopped while
   * standing by); rejects if starting failed (the checkpoint could not be read, ...).
   */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const { config, cluster, log } = this.#deps;
    const signal = this.#stopping.signal;
    this.#state = 'standby';
    try {
      await this.#lease.acquire(signal);
    } catch {
      return; // stopped while standing by
    }
    this.#state = 'starting';
    const checkpoints = new Checkpoints(
      new CheckpointStore(cluster, config.systemNamespace, `${config.name}-state`),
      { log },
    );
    await checkpoints.load();
    const publisher = this.#deps.publisher();
    // One selection per namespace selector, shared by the targets that name it.
    const selections = new Map<string, NamespaceSelection>();
    for (const selector of new Set(config.targets.flatMap((t) => t.namespaceSelector ?? []))) {
      const selection = new NamespaceSelection(cluster, selector, signal);
      selections.set(selector, selection);
      selection
        .follow(log)
        .catch((error: Error) =>
          log('ERROR', 'namespace watch stopped', { selector, detail: error.message }),
        );
    }
    // One window for every resource: what is in flight is most of a first start's memory.
    const window = new PublishWindow(config.window);
    const runs = config.targets.map(async (target) => {
      const key = targetKey(target);
      const selection = target.namespaceSelector
        ? selections.get(target.namespaceSelector)
        : undefined;
      const digests = new ChangeDigests();
      const checkpoint = checkpoints.for(key);
      const resource = cluster.resource({ apiVersion: target.apiVersion, kind: target.kind });
      const info = await resource.info();
      const relay = new Relay({
        resource,
        scope: { namespace: target.namespace, labelSelector: target.labelSelector },
        checkpoint,
        toMessage: async (change): Promise<ChangeMessage | undefined> => {
          const namespace = change.object.metadata?.namespace;
          if (selection && !(namespace && (await selection.has(namespace)))) return undefined;
          const changed = digests.changes(change);
          return changed && changeMessage(info, change, config.cluster, changed);
        },
        publish: (message) => publisher.publish(message, signal),
        window,
        signal,
        events: this.#deps.events?.(key),
        onRetry: (error, delayMs) =>
          log('WARNING', 'watch interrupted; recovering', {
            resource: key,
            reason: error.code,
            delayMs: Math.round(delayMs),
          }),
      });
      this.#relays.set(key, relay);
      log('INFO', 'watching', {
        resource: key,
        resumeFrom: checkpoint.resourceVersion ?? 'a fresh list',
      });
      await relay.run();
    });
    this.#active = { runs, checkpoints, publisher };
    checkpoints.start();
    if (this.#state === 'starting') this.#state = 'relaying';
    void this.#lease.keep(signal, () => {
      if (this.#deps.onLeaseLost) this.#deps.onLeaseLost();
      else void this.stop(9_500);
    });
  }

  /** Stops within `budgetMs`; a second call waits for the first. */
  stop(budgetMs: number): Promise<void> {
    this.#stopped ??= this.#stop(Date.now() + budgetMs);
    return this.#stopped;
  }

  async #stop(deadline: number): Promise<void> {
    this.#state = 'stopping';
    this.#stopping.abort();
    // A start still loading the checkpoint finishes (or fails) first, then is stopped.
    await Promise.race([this.#started?.catch(() => {}), timeout(deadline - Date.now() - 3_500)]);
    const active = this.#active;
    if (active) {
      // What is in flight may still be acknowledged; give it most of the budget, keeping 3.5 s
      // for the last save, closing the publisher and releasing the Lease.
      const settleBy = deadline - 3_500;
      await Promise.race([Promise.allSettled(active.runs), timeout(settleBy - Date.now())]);
      await active.checkpoints.stop();
      await Promise.race([
        active.publisher.close(),
        timeout(Math.min(1_000, deadline - Date.now())),
      ]).catch(() => {});
      await this.#lease.release();
    }
    this.#state = 'stopped';
  }

  status(): ServiceStatus {
    const relays = [...this.#relays.values()];
    const leader = this.#lease.leader;
    return {
      identity: this.#deps.identity,
      state: this.#state,
      leader,
      ready: leader && relays.length > 0 && relays.every((r) => r.status.synced),
      checkpoint: this.#active?.checkpoints.status() ?? {},
      resources: Object.fromEntries(
        [...this.#relays].map(([key, r]) => [key, { ...r.status, lagMs: r.lagMs }]),
      ),
    };
  }
}
