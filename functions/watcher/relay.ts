// Forwards one resource's changes from a list-watch to Pub/Sub, at least once.
//
// Changes are published in the order the watch yields them, with at most `window` awaiting
// Pub/Sub's acknowledgement (one window the service shares among all its relays): when the window
// is full the relay stops pulling from the list-watch (shared/kube's Watcher), which stops reading
// the socket (memory stays bounded while Pub/Sub is slow or down). What a relay keeps per object
// is only what a relist diff and the checkpoint need (and whether kubefn manages it, which the
// message for a deletion found by a relist still needs); while a change awaits acknowledgement it
// keeps the change's keys, not the object. The checkpoint (resume resourceVersion and uid/resourceVersion per object)
// advances only over the contiguous prefix of acknowledged changes, so a restart resumes from, or
// relists and diffs against, what subscribers really received.

import type { ChangeMessage, ChangeType } from '../../shared/events/change.ts';
import {
  type KubeObject,
  type Resource,
  type StoreEntry,
  Watcher,
  type WatcherEvent,
  type WatcherOptions,
} from '../../shared/kube/index.ts';
import { isManaged, managedByLabel, managedByValue } from '../../shared/labels.ts';
import { type Delivered, delivered, type ResourceCheckpoint } from './checkpoint.ts';
import { PublishWindow } from './publish-window.ts';

/** Where the events come from: by default shared/kube's list-watch of `resource`. */
export type EventSource = (from: {
  store: Map<string, StoreEntry>;
  resourceVersion: string | undefined;
}) => AsyncIterable<WatcherEvent>;

export type RelayOptions = {
  resource: Resource;
  scope: Pick<WatcherOptions, 'namespace' | 'labelSelector' | 'fieldSelector'>;
  checkpoint: ResourceCheckpoint;
  /**
   * The message for a change, or undefined when it is not published (it still moves the
   * checkpoint, in its place). Awaited in watch order, so a slow answer holds back the rest.
   */
  toMessage(change: {
    type: ChangeType;
    object: KubeObject;
    /** From a list or relist, not the watch stream (the message says so: `listed`). */
    initial: boolean;
  }): ChangeMessage | undefined | Promise<ChangeMessage | undefined>;
  publish(message: ChangeMessage): Promise<unknown>;
  /** Changes awaiting acknowledgement at most: a window shared with other relays, or its size. */
  window: PublishWindow | number;
  signal: AbortSignal;
  onRetry?: WatcherOptions['onRetry'];
  /** Replaces the list-watch (tests feed events of their own). */
  events?: EventSource | undefined;
};

export type RelayStatus = {
  /** The acknowledged resume point. */
  resourceVersion: string | undefined;
  /** The newest resourceVersion read from the watch. */
  seenResourceVersion: string | undefined;
  inFlight: number;
  published: number;
  /** Changes not published (outside the namespace selection, or no change that matters). */
  skipped: number;
  synced: boolean;
};

/**
 * All that a deletion found by a relist carries beyond its identity: whether kubefn manages the
 * object (the message's `managed`, which self-healing's subscription selects). One object shared
 * by every managed object watched, where their whole last states would cost about 2 KiB each.
 */
const managedMark = Object.freeze({
  metadata: Object.freeze({ labels: Object.freeze({ [managedByLabel]: managedByValue }) }),
});

type Pending = { event: Delivered; done: boolean; readAt: number };

export class Relay {
  readonly status: RelayStatus;
  readonly #options: RelayOptions;
  readonly #pending: Pending[] = [];
  readonly #window: PublishWindow;
  #wake: (() => void) | undefined;

  constructor(options: RelayOptions) {
    this.#options = options;
    this.#window =
      typeof options.window === 'number' ? new PublishWindow(options.window) : options.window;
    this.status = {
      resourceVersion: options.checkpoint.resourceVersion,
      seenResourceVersion: undefined,
      inFlight: 0,
      published: 0,
      skipped: 0,
      // Resuming from a checkpoint needs no list: the watch picks up where it left off.
      synced: options.checkpoint.resourceVersion !== undefined,
    };
  }

  /** How long the oldest change read but not yet acknowledged has waited (0: none waiting). */
  get lagMs(): number {
    const oldest = this.#pending.find((p) => !p.done);
    return oldest ? Date.now() - oldest.readAt : 0;
  }

  /** Runs until the signal aborts; then waits for what is in flight. */
  async run(): Promise<void> {
    const { checkpoint } = this.#options;
    // The list-watch gets its own copy of the acknowledged state to diff against.
    const from = { store: checkpoint.objects(), resourceVersion: checkpoint.resourceVersion };
    const events =
      this.#options.events?.(from) ??
      new Watcher(this.#options.resource, {
        ...this.#options.scope,
        ...from,
        keepObjects: (object) => (isManaged(object) ? managedMark : undefined),
        signal: this.#options.signal,
        onRetry: this.#options.onRetry,
      });
    const { signal } = this.#options;
    const window = this.#window;
    for await (const event of events) {
      if (event.type === 'BOOKMARK' || event.type === 'SYNCED') {
        this.status.seenResourceVersion = event.resourceVersion;
        this.#pending.push({ event: delivered(event), done: true, readAt: Date.now() });
        this.#advance();
        continue;
      }
      this.status.seenResourceVersion = event.key.resourceVersion;
      const readAt = Date.now();
      let message: ChangeMessage | undefined;
      try {
        message = await this.#options.toMessage(event);
      } catch (error) {
        // Stopping while it waited: the change stays after the checkpoint, delivered later.
        if (signal.aborted) break;
        throw error;
      }
      if (!message) {
        this.status.skipped++;
        this.#pending.push({ event: delivered(event), done: true, readAt });
        this.#advance();
        continue;
      }
      // Stopped while waiting for a slot: the change stays after the checkpoint.
      if (!(await window.acquire(signal))) break;
      const pending: Pending = { event: delivered(event), done: false, readAt };
      this.#pending.push(pending);
      this.status.inFlight++;
      void this.#options.publish(message).then(
        () => {
          window.release();
          pending.done = true;
          this.status.inFlight--;
          this.status.published++;
          this.#advance();
          this.#wake?.();
        },
        () => {
          // Only a shutdown abandons a publish; the checkpoint stays before it, so the change is
          // delivered again after the restart.
          window.release();
          this.status.inFlight--;
          this.#wake?.();
        },
      );
      // A full window: read nothing more (the watch waits on its socket) until a slot is free.
      await window.open(signal);
    }
    while (this.status.inFlight > 0) await new Promise<void>((resolve) => (this.#wake = resolve));
  }

  /** Moves the checkpoint over every acknowledged change at the head of the queue. */
  #advance(): void {
    const { checkpoint } = this.#options;
    while (this.#pending[0]?.done) {
      const { event } = this.#pending.shift() as Pending;
      checkpoint.acknowledge(event);
      if (event.type === 'SYNCED') this.status.synced = true;
      this.status.resourceVersion = checkpoint.resourceVersion;
    }
  }
}
