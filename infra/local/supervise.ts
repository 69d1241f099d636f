// Supervision of the deployables on the local stack, as Cloud Run restarts a crashed instance: a
// process that exits without being asked to is started again, on the same port with the same
// environment, after the project's capped, jittered backoff (shared/retry/backoff.ts: 0.8 s
// doubling to 30 s, reset after 2 healthy minutes). Every exit and every return is said on the
// log. Without it, a killed watcher left `npm start` running with no event path and no word.
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../../shared/retry/backoff.ts';
import { type Managed, stackStopping } from './processes.ts';

export type Readiness = 'ready' | 'exited' | 'timeout';

/** Polls `ready` until it answers true, the process exits, or `timeoutMs` passes. */
export async function waitReady(
  proc: Managed,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<Readiness> {
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  for (const deadline = Date.now() + timeoutMs; ; await sleep(50)) {
    if (exited) return 'exited';
    if (await ready().catch(() => false)) return 'ready';
    if (Date.now() > deadline) return 'timeout';
  }
}

export type SuperviseOptions = {
  /** How the log names it: "function ingress-timeout", "watcher kubefn-watcher". */
  name: string;
  /** The stack's state folder: once the stack stops, nothing is restarted into it. */
  stateDir: string;
  /** Starts one instance; the same port and environment every time. */
  launch: () => Managed;
  ready: () => Promise<boolean>;
  readyTimeoutMs: number;
  /** Added to the restart line: what to expect while it comes back. */
  restartNote?: string;
  log?: (line: string) => void;
};

export type Supervised = {
  /** The instance running now; a restart replaces it. */
  readonly current: Managed;
  readonly restarts: number;
  /** Stops supervising and stops the current instance. */
  stop(): Promise<void>;
};

export const supervisorLog = (line: string) => console.log(`  ${line}`);

/** Supervises `first`, an instance already started by `launch` and ready. */
export function supervise(first: Managed, options: SuperviseOptions): Supervised {
  const { name, log = supervisorLog } = options;
  const backoff = new Backoff();
  const cancel = new AbortController();
  let current = first;
  let restarts = 0;
  let stopping = false;
  const over = () => stopping || stackStopping(options.stateDir);
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

  const loop = (async () => {
    let how = await current.exited;
    let exitedAt = Date.now();
    let what = `${name} exited (${how})`;
    for (;;) {
      if (over()) return;
      const delay = backoff.next();
      log(
        `${what}; restarting in ${seconds(delay)} (restart ${restarts + 1}; its log: ${current.logFile})${options.restartNote ? `; ${options.restartNote}` : ''}`,
      );
      await sleep(delay, undefined, { signal: cancel.signal }).catch(() => {});
      if (over()) return;
      try {
        current = options.launch();
      } catch (error) {
        if (over()) return;
        what = `${name} could not be started (${error instanceof Error ? error.message : error})`;
        continue;
      }
      restarts++;
      const readiness = await waitReady(current, options.ready, options.readyTimeoutMs);
      if (readiness === 'exited') {
        how = await current.exited;
        what = `${name} exited again while starting (${how})`;
        continue;
      }
      if (over()) return;
      log(
        readiness === 'ready'
          ? `${name} is back (restart ${restarts}, pid ${current.pid}, ${seconds(Date.now() - exitedAt)} after it exited)`
          : `${name} restarted (pid ${current.pid}) but not ready within ${seconds(options.readyTimeoutMs)}; still supervising it (its log: ${current.logFile})`,
      );
      how = await current.exited;
      exitedAt = Date.now();
      what = `${name} exited (${how})`;
    }
  })();

  return {
    get current() {
      return current;
    },
    get restarts() {
      return restarts;
    },
    async stop() {
      stopping = true;
      cancel.abort();
      await current.stop();
      await loop;
    },
  };
}
