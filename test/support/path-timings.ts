// The event path of one change split into legs, for the end-to-end benchmarks (timeout-e2e,
// heal): from the notes timing-hook.mjs keeps inside the watcher and the function, and the
// times the benchmark itself saw (its change answered, the push at the forwarder, the result on
// its watch). All times are epoch ms (timeOrigin + now), comparable across processes.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { percentile } from '../bench/stats.ts';

/** What a benchmark sets before starting the flow, so its children load the hook. */
export function timingEnv(dir: string): Record<string, string> {
  const hook = pathToFileURL(join(import.meta.dirname, 'timing-hook.mjs')).href;
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${hook}`.trim(),
    KUBEFN_TIMING_DIR: dir,
  };
}

export const epochNow = () => performance.timeOrigin + performance.now();

type Note =
  | { kind: 'start'; t: number; argv: string[] }
  | { kind: 'watch'; t: number; res: number; text: string }
  | { kind: 'in' | 'done' | 'got'; t: number; id: number; url?: string }
  | { kind: 'out'; t: number; id: number; method: string; path: string }
  | { kind: 'publish' | 'acked'; t: number; attributes: Record<string, string> };

/** The legs of one change, in ms; kubefn's own are `watcher` and `fn`. */
export type Legs = {
  /** The change answered to the benchmark -> its watch event read by the watcher. */
  toWatcher: number;
  /** The event read -> publishMessage called (kubefn: decode, select, digest, message). */
  watcher: number;
  /** publishMessage called -> the push at the forwarder (client batching, the emulator). */
  toPush: number;
  /** The push at the forwarder -> the request at the function (the local forwarder). */
  forwarder: number;
  /** The request at the function -> its write answered (kubefn: auth, decode, reads, write). */
  fn: number;
  /** Of `fn`, the time its calls to the API server were open (reads and the write). */
  fnApi: number;
  /** The write answered -> seen on the benchmark's own watch. */
  seen: number;
};

export class PathTimings {
  readonly #events = new Map<string, number>();
  readonly #published = new Map<string, number>();
  readonly #requests: {
    t: number;
    url: string;
    calls: { method: string; path: string; sent: number; got: number }[];
  }[] = [];

  /** The notes of every process in `dir`; the function is the one started with `--target=fn`. */
  static async read(dir: string, fn: string): Promise<PathTimings> {
    const timings = new PathTimings();
    for (const file of await readdir(dir)) {
      const notes = (await readFile(join(dir, file), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Note);
      const start = notes.find((n) => n.kind === 'start');
      const argv = start && 'argv' in start ? start.argv : [];
      if (argv.some((a) => a.endsWith('watcher/index.mjs'))) timings.#watcher(notes);
      else if (argv.includes(`--target=${fn}`)) timings.#function(notes);
    }
    return timings;
  }

  #watcher(notes: Note[]): void {
    // Each watch answer's body reassembled; a line's time is that of the chunk that ended it.
    const partial = new Map<number, string>();
    for (const note of notes) {
      if (note.kind === 'publish' && note.attributes.eventKey)
        this.#published.set(note.attributes.eventKey, note.t);
      if (note.kind !== 'watch') continue;
      const lines = ((partial.get(note.res) ?? '') + note.text).split('\n');
      partial.set(note.res, lines.pop() ?? '');
      for (const line of lines) {
        if (!line.trim()) continue;
        const event = JSON.parse(line) as {
          type: string;
          object?: { metadata?: { uid?: string; resourceVersion?: string } };
        };
        const meta = event.object?.metadata ?? {};
        const key = `${meta.uid}/${meta.resourceVersion}/${event.type}`;
        if (!this.#events.has(key)) this.#events.set(key, note.t);
      }
    }
  }

  #function(notes: Note[]): void {
    // Its calls are given to the request last arrived (the benchmarks push one change at a time).
    const out = new Map<number, { method: string; path: string; sent: number }>();
    for (const note of notes) {
      if (note.kind === 'in') this.#requests.push({ t: note.t, url: note.url ?? '', calls: [] });
      if (note.kind === 'out')
        out.set(note.id, { method: note.method, path: note.path, sent: note.t });
      const sent = note.kind === 'got' ? out.get(note.id) : undefined;
      if (sent) this.#requests.at(-1)?.calls.push({ ...sent, got: note.t });
    }
  }

  /**
   * The legs of the change whose watch event has this uid and type (and resourceVersion, when
   * known: a deletion's is not). `write` picks the function's write that makes the change's
   * effect, in the first request on `route` after the push arrived; undefined when a note is
   * missing.
   */
  legs(change: {
    uid: string;
    type: string;
    resourceVersion?: string | undefined;
    changed: number;
    arrived: (eventKey: string) => number | undefined;
    seen: number;
    route: string;
    write: (path: string) => boolean;
  }): Legs | undefined {
    const key = [...this.#events.keys()].find((k) => {
      const [uid, rv, type] = k.split('/');
      return (
        uid === change.uid &&
        type === change.type &&
        (change.resourceVersion === undefined || rv === change.resourceVersion)
      );
    });
    if (!key) return undefined;
    const read = this.#events.get(key);
    const published = this.#published.get(key);
    const arrived = change.arrived(key);
    if (read === undefined || published === undefined || arrived === undefined) return undefined;
    const request = this.#requests.find((r) => r.t >= arrived && r.url.startsWith(change.route));
    const written = request?.calls.find((c) => c.method !== 'GET' && change.write(c.path));
    if (!request || !written) return undefined;
    const open = request.calls
      .filter((c) => c.got <= written.got)
      .reduce((sum, c) => sum + (c.got - c.sent), 0);
    return {
      toWatcher: read - change.changed,
      watcher: published - read,
      toPush: arrived - published,
      forwarder: request.t - arrived,
      fn: written.got - request.t,
      fnApi: open,
      seen: change.seen - written.got,
    };
  }
}

const legNames: Record<keyof Legs, string> = {
  toWatcher: 'change answered -> event read by the watcher (API server watch)',
  watcher: 'event read -> publishMessage called (watcher: kubefn)',
  toPush: 'publishMessage -> push at the forwarder (client batching, emulator)',
  forwarder: 'push at the forwarder -> request at the function (local forwarder)',
  fn: 'request at the function -> its write answered (function: kubefn)',
  fnApi: '  of which its calls to the API server were open',
  seen: "write answered -> seen on the benchmark's watch",
};

/** Prints each leg's p50 and p99 and kubefn's own part; returns the own part per change. */
export function printLegs(legs: Legs[], changes: number): number[] {
  const p = (values: number[], q: number) => percentile(values, q).toFixed(1);
  console.log(`  legs (${legs.length} of ${changes} changes with every note), p50 / p99 ms:`);
  for (const [leg, name] of Object.entries(legNames) as [keyof Legs, string][]) {
    const values = legs.map((l) => l[leg]);
    console.log(`    ${name}: ${p(values, 50)} / ${p(values, 99)}`);
  }
  const own = legs.map((l) => l.watcher + l.fn);
  console.log(`    kubefn's own part (watcher + function): ${p(own, 50)} / ${p(own, 99)}`);
  return own;
}

/**
 * Prints how often the probe was pushed after the change's own message on their shared
 * subscription: the emulator pushes one message at a time per loop and waits for its answer, so a
 * probe behind the change's message also waits for the function's work.
 */
export function printProbeOrder(
  rounds: { probeAt?: number | undefined; changeAt?: number | undefined }[],
): void {
  const both = rounds.flatMap((r) =>
    r.probeAt !== undefined && r.changeAt !== undefined ? [r.probeAt - r.changeAt] : [],
  );
  const after = both.filter((d) => d > 0);
  console.log(
    `  the probe pushed after the change's message in ${after.length} of ${both.length} rounds (then p50 ${percentile(after, 50).toFixed(1)} ms after it)`,
  );
}
