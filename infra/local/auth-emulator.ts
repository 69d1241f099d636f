// The Firebase Authentication emulator, where the local stack's customers sign in (standing in
// for Identity Platform).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetch } from 'undici';
import { repositoryRoot } from './binaries.ts';
import { startProcess } from './processes.ts';
import { type Background, emulatorStartMs, inBackground, waitFor } from './wait-for.ts';

/** Customers sign in to this project on the Auth emulator; demo- ids are emulator-only. */
export const authProject = 'demo-kubefn';
const firebaseCli = join(repositoryRoot, 'node_modules/firebase-tools/lib/bin/firebase.js');

export type AuthEmulatorPorts = { authPort: number; hubPort: number; loggingPort: number };

/**
 * The Firebase Authentication emulator from the firebase-tools package: Node only, offline, no
 * login (a demo- project needs none). Its config and debug log stay in the state folder, and
 * CI=true keeps the CLI from fetching its message of the day and checking for updates. It takes
 * the longest of the stack to be ready (10-20 s here), started first so the rest overlaps it.
 */
export function startAuthEmulator(dir: string, ports: AuthEmulatorPorts): Background {
  const home = join(dir, 'auth-emulator');
  const config = join(home, 'firebase.json');
  // Written before the CLI starts, which reads it at once.
  mkdirSync(home, { recursive: true });
  writeFileSync(
    config,
    JSON.stringify({
      emulators: {
        auth: { host: '127.0.0.1', port: ports.authPort },
        hub: { host: '127.0.0.1', port: ports.hubPort },
        logging: { host: '127.0.0.1', port: ports.loggingPort },
        ui: { enabled: false },
      },
    }),
  );
  // firebase-debug.log goes to the working folder: the emulator's own (a shell sets it).
  const proc = startProcess(
    dir,
    'auth-emulator',
    'bash',
    [
      '-c',
      'cd "$0" && exec "$@"',
      home,
      process.execPath,
      firebaseCli,
      'emulators:start',
      '--only',
      'auth',
      '--project',
      authProject,
      '--config',
      config,
    ],
    // Its hub writes a locator file named by the project into TMPDIR: each stack its own, so
    // stacks side by side (the tests', npm start's) do not find each other's.
    { ...process.env, CI: 'true', NO_UPDATE_NOTIFIER: '1', XDG_CONFIG_HOME: home, TMPDIR: home },
  );
  const url = `http://127.0.0.1:${ports.authPort}/emulator/v1/projects/${authProject}/config`;
  return inBackground(
    proc,
    waitFor(proc, emulatorStartMs, async () => (await fetch(url)).ok),
  );
}
