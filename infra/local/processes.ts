// Child processes of the local stack. Each runs in its own process group (so a launcher script
// and whatever it starts are stopped together), logs to a file in the state folder, and is
// listed in <state>/pids so the reaper can stop it if this Node process dies without cleaning up.
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type Managed = {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<string>;
  stop(graceMs?: number): Promise<void>;
};

export function startProcess(
  stateDir: string,
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Managed {
  if (stackStopping(stateDir)) throw new Error(`not starting ${name}: the stack is stopping`);
  const logFile = join(stateDir, `${name}.log`);
  const log = openSync(logFile, 'a');
  const child: ChildProcess = spawn(command, args, {
    detached: true,
    stdio: ['ignore', log, log],
    env,
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const pid = child.pid;
  appendFileSync(join(stateDir, 'pids'), `${pid}\n`);
  let running = true;
  const exited = new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => {
      running = false;
      resolve(signal ?? `exit code ${code}`);
    });
    child.on('error', (error) => {
      running = false;
      resolve(`failed to start: ${error.message}`);
    });
  });
  return {
    name,
    pid,
    logFile,
    exited,
    async stop(graceMs = 5000) {
      if (!running) return;
      signalGroup(pid, 'SIGTERM');
      const ended = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!ended) {
        signalGroup(pid, 'SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * Stops every process group listed in <state>/pids that is still running: functions and other
 * helpers that tests or `npm start` registered with the stack, whoever started them.
 */
export async function stopListed(stateDir: string, graceMs = 5000): Promise<void> {
  markStopping(stateDir);
  const alive = async () =>
    (await readFile(join(stateDir, 'pids'), 'utf8').catch(() => ''))
      .split('\n')
      .map(Number)
      .filter((pid) => pid > 0 && groupAlive(pid));
  for (const pid of await alive()) signalGroup(pid, 'SIGTERM');
  for (const deadline = Date.now() + graceMs; (await alive()).length > 0 && Date.now() < deadline; )
    await sleep(50);
  for (const pid of await alive()) signalGroup(pid, 'SIGKILL');
}

const stoppingMarker = 'stopping';

/** From now on nothing starts in this stack: a supervisor would restart what is being stopped. */
export function markStopping(stateDir: string): void {
  if (existsSync(stateDir)) writeFileSync(join(stateDir, stoppingMarker), '');
}

/** Whether the stack in `stateDir` is stopping or gone: then nothing is (re)started in it. */
export function stackStopping(stateDir: string): boolean {
  return !existsSync(stateDir) || existsSync(join(stateDir, stoppingMarker));
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Starts infra/local/reaper.sh, which waits for this Node process to end and then stops every
 * process group listed in <state>/pids and removes the state folder: the last line of defence
 * when Node is killed (SIGKILL, a crashed test worker) before its own cleanup can run.
 */
export function startReaper(stateDir: string, keepState: boolean): void {
  const script = join(import.meta.dirname, 'reaper.sh');
  const reaper = spawn(
    'bash',
    [script, String(process.pid), stateDir, keepState ? 'keep' : 'remove'],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  reaper.unref();
}

/** Resident memory of each process (its group leader), in bytes, by name; 0 when gone. */
export async function residentMemory(processes: Managed[]): Promise<Record<string, number>> {
  const entries = await Promise.all(
    processes.map(async (p) => {
      const status = await readFile(`/proc/${p.pid}/status`, 'utf8').catch(() => '');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return [p.name, kb * 1024] as const;
    }),
  );
  return Object.fromEntries(entries);
}
