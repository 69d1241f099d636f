// Readiness waits for the local stack's processes.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Managed } from './processes.ts';

/** Polls `check` until it answers true; fails fast, with the log's tail, if the process exits. */
export async function waitFor(proc: Managed, timeoutMs: number, check: () => Promise<boolean>) {
  const deadline = performance.now() + timeoutMs;
  let died: string | undefined;
  void proc.exited.then((how) => {
    died = how;
  });
  while (performance.now() < deadline) {
    if (died !== undefined) throw await startFailure(proc, `exited (${died})`);
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw await startFailure(proc, `was not ready within ${timeoutMs / 1000} s`);
}

async function startFailure(proc: Managed, what: string): Promise<Error> {
  const tail = (await readFile(proc.logFile, 'utf8').catch(() => '')).split('\n').slice(-15);
  return new Error(`${proc.name} ${what}; last lines of ${proc.logFile}:\n${tail.join('\n')}`);
}

/**
 * How long an emulator may take to answer: about 10 s on a quiet machine (the Auth emulator's
 * Node CLI, the Pub/Sub one's JVM), but 56 s and more was seen at load 14 on 2 cores. A hang
 * guard, not a goal.
 */
export const emulatorStartMs = 180_000;

/** A process started now whose readiness is awaited later, after other work. */
export type Background = { process: Managed; ready: Promise<void> };

/**
 * `ready` is awaited only once the rest is up: if something fails first, its failure must not
 * surface meanwhile as an unhandled rejection.
 */
export function inBackground(proc: Managed, ready: Promise<void>): Background {
  ready.catch(() => {});
  return { process: proc, ready };
}
