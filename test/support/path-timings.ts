// The event path of one change split into legs, for the end-to-end benchmarks (timeout-e2e,
// heal): from the notes timing-hook.mjs keeps inside the watcher and the function, and the
// times the benchmark itself saw (its change answered, the push at the forwarder, the result on
// its watch). All times are epoch ms (timeOrigin + now), comparable across processes.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PushedMessage } from '../../infra/local/push-forwarder.ts';
import { startStack } from '../../infra/local/stack.ts';
import { ms, percentile } from '../bench/stats.ts';

/** What a benchmark sets before starting the flow, so its children load the hook. */
function timingEnv(dir: string): Record<string, string> {
  const hook = pathToFileURL(join(import.meta.dirname, 'timing-hook.mjs')).href;
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${hook}`.trim(),
    KUBEFN_TIMING_DIR: dir,
    KUBEFN_TIMING_PROBE: '1',
  };
}

export const epochNow = () => performance.timeOrigin + performance.now();

/** When pushes reached a forwarder: give `note` as its onArrival, ask by the change's eventKey. */
export function arrivalLog() {
  const changes = new Map<string, number>();
  const probes = new Map<string, number>();
  return {
    note(message: PushedMessage): void {
      const { eventKey, probe } = message.attributes;
      const first = (map: Map<string, number>, key: string | undefined) => {
        if (key && !map.has(key)) map.set(key, epochNow());
      };
      first(changes, eventKey);
      first(probes, probe);
    },
    arrived: (eventKey: string) => changes.get(eventKey),
    probeArrived: (eventKey: string) => probes.get(eventKey),
    /** The eventKeys that arrived (a deletion's resourceVersion is known only from them). */
    keys: () => changes.keys(),
  };
}

type Note =
  | { kind: 'start'; t: number; argv: string[] }
  | { kind: 'watch'; t: number; res: number; text: string }
  | { kind: 'in' | 'done' | 'got'; t: number; id: number; url?: string }
  | { kind: 'out'; t: number; id: number; method: string; path: string }
  | { kind: 'publish' | 'acked' | 'probe'; t: number; attributes: Record<string, string> };

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
  /** The baseline: the probe published with the change's message -> its push at the forwarder. */
  probe: number;
  /** The probe's push after the change's (> 0: it waited behind it) or before it, in ms. */
  probeBehind: number;
};

export class PathTimings {
  readonly #events = new Map<string, number>();
  readonly #published = new Map<string, number>();
  readonly #probes = new Map<string, number>();
  /** The watcher's publishMessage to Pub/Sub's acknowledgement, each message (ms). */
  readonly acked: number[] = [];
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
      if (note.kind === 'probe' && note.attributes.probe)
        this.#probes.set(note.attributes.probe, note.t);
      const publishedAt = this.#published.get(
        note.kind === 'acked' ? (note.attributes.eventKey ?? '') : '',
      );
      if (publishedAt !== undefined) this.acked.push(note.t - publishedAt);
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
    /** When the push of the change's message (eventKey), or of its probe, reached the forwarder. */
    arrived: (eventKey: string) => number | undefined;
    probeArrived: (eventKey: string) => number | undefined;
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
    const probeSent = this.#probes.get(key);
    const probeArrived = change.probeArrived(key);
    if (
      read === undefined ||
      published === undefined ||
      arrived === undefined ||
      probeSent === undefined ||
      probeArrived === undefined
    )
      return undefined;
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
      probe: probeArrived - probeSent,
      probeBehind: probeArrived - arrived,
    };
  }
}

const legNames: Record<Exclude<keyof Legs, 'probe' | 'probeBehind'>, string> = {
  toWatcher: 'change answered -> event read by the watcher (API server watch)',
  watcher: 'event read -> publishMessage called (watcher: kubefn)',
  toPush: 'publishMessage -> push at the forwarder (client batching, emulator)',
  forwarder: 'push at the forwarder -> request at the function (local forwarder)',
  fn: 'request at the function -> its write answered (function: kubefn)',
  fnApi: '  of which its calls to the API server were open',
  seen: "write answered -> seen on the benchmark's watch",
};

/** Prints each leg's p50 and p99 and kubefn's own part; returns the own part per change. */
function printLegs(legs: Legs[], changes: number): number[] {
  const p = (values: number[], q: number) => percentile(values, q).toFixed(1);
  console.log(`  legs (${legs.length} of ${changes} changes with every note), p50 / p99 ms:`);
  for (const [leg, name] of Object.entries(legNames) as [keyof typeof legNames, string][]) {
    const values = legs.map((l) => l[leg]);
    console.log(`    ${name}: ${p(values, 50)} / ${p(values, 99)}`);
  }
  const own = legs.map((l) => l.watcher + l.fn);
  console.log(`    kubefn's own part (watcher + function): ${p(own, 50)} / ${p(own, 99)}`);
  return own;
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/**
 * The local stack for an end-to-end benchmark; the functions and the watcher started after it
 * load the timing hook (their notes go to `timingDir`, removed by `stop` unless
 * KUBEFN_TIMING_KEEP is set).
 */
export async function startTimedStack() {
  const stack = await startStack();
  process.env.PUBSUB_EMULATOR_HOST = stack.pubsubEmulatorHost;
  process.env.METADATA_SERVER_DETECTION = 'none';
  const timingDir = await mkdtemp(join(tmpdir(), 'kubefn-timing-'));
  Object.assign(process.env, timingEnv(timingDir));
  // Other work on the machine slows both sides of a ratio, not kubefn's own milliseconds.
  console.log(`load average before: ${load()}`);
  return {
    stack,
    timingDir,
    async stop() {
      await stack.stop();
      if (process.env.KUBEFN_TIMING_KEEP) console.log(`timing notes kept in ${timingDir}`);
      else await rm(timingDir, { recursive: true, force: true });
    },
  };
}

/**
 * Prints the figures of a run: per change the whole path (`whole`, from the benchmark's own
 * change to its effect seen), the probe beside it, and the legs. The last two lines are
 * `<name>_own_ms` (kubefn's own part, p50) and `<name>_vs_push_ratio`: the whole path against the
 * emulator's publish-to-push of the change's own message (p50 each), the part of the path no
 * relay and no function can remove. The probe is printed, not the headline: the emulator pushes
 * one message per loop and waits for its answer, and the probe is pushed behind the change's
 * message (it then waits for the function's work too).
 */
export function printPathFigures(
  name: string,
  whole: { what: string; ms: number[] },
  legs: Legs[],
  extra: string[] = [],
): void {
  const p = (values: number[]) =>
    `p50 ${ms(percentile(values, 50))}, p99 ${ms(percentile(values, 99))}`;
  const probe = legs.map((l) => l.probe);
  const behind = legs.filter((l) => l.probeBehind > 0);
  console.log(`load average after: ${load()}`);
  console.log(`  ${whole.what} (the whole path): ${p(whole.ms)}`);
  console.log(`  probe published with each change's message, publish -> push: ${p(probe)}`);
  console.log(
    `  the probe pushed after the change's message in ${behind.length} of ${legs.length} (then p50 ${ms(
      percentile(
        behind.map((l) => l.probeBehind),
        50,
      ),
    )} after it); whole path / probe ${(percentile(whole.ms, 50) / percentile(probe, 50)).toFixed(2)}`,
  );
  const own = printLegs(legs, whole.ms.length);
  for (const line of extra) console.log(`  ${line}`);
  const push = percentile(
    legs.map((l) => l.toPush),
    50,
  );
  console.log(`${name}_own_ms ${percentile(own, 50).toFixed(1)}`);
  console.log(`${name}_vs_push_ratio ${(percentile(whole.ms, 50) / push).toFixed(2)}`);
}
