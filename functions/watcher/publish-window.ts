// The publishes awaiting Pub/Sub's acknowledgement, counted across every watched resource.
//
// Memory, measured (test/bench/README.md, scale): a publish in flight costs about 22 KiB (the
// client's gRPC call, its promise and timers, the message's bytes), far more than anything kept
// per object. A window per resource let a first start have 9 x 500 in flight at 2,000 tenants;
// one shared window bounds them whatever the number of resources. Slots are handed out in the
// order asked for, so a resource with many objects cannot keep another one waiting for ever.
export class PublishWindow {
  readonly size: number;
  #used = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #opened = new Set<() => void>();

  constructor(size: number) {
    this.size = size;
  }

  /** Publishes holding a slot now. */
  get used(): number {
    return this.#used;
  }

  /** Takes a slot, waiting for one if none is free; false when `signal` aborted first. */
  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.#used < this.size && this.#waiting.length === 0) {
      this.#used++;
      return Promise.resolve(true);
    }
    const waiting = this.#waiting;
    return park(signal, {
      add: (wake) => waiting.push(wake),
      remove: (wake) => {
        const at = waiting.indexOf(wake);
        if (at >= 0) waiting.splice(at, 1);
      },
    });
  }

  /** Gives a slot back (to the longest waiting, if any). */
  release(): void {
    const next = this.#waiting.shift();
    if (next)
      next(); // the slot passes on: `used` stays
    else this.#used--;
    if (this.#used < this.size) for (const wake of [...this.#opened]) wake();
  }

  /**
   * Resolves once a slot is free (without taking it), or `signal` aborted: a relay waits here
   * before reading its next change, so a full window holds the watch back on its socket.
   */
  async open(signal: AbortSignal): Promise<void> {
    if (this.#used < this.size || signal.aborted) return;
    const opened = this.#opened;
    await park(signal, { add: (wake) => opened.add(wake), remove: (wake) => opened.delete(wake) });
  }
}

/** Waits until woken (true) or `signal` aborts (false), leaving no listener behind. */
function park(
  signal: AbortSignal,
  queue: { add(wake: () => void): void; remove(wake: () => void): void },
): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const done = (woken: boolean) => {
      signal.removeEventListener('abort', onAbort);
      queue.remove(wake);
      resolve(woken);
    };
    const wake = () => done(true);
    const onAbort = () => done(false);
    signal.addEventListener('abort', onAbort, { once: true });
    queue.add(wake);
  });
}
