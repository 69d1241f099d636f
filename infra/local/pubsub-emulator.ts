// The Google Pub/Sub emulator (the Cloud SDK's, a JVM), for the local stack.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetch } from 'undici';
import { startProcess } from './processes.ts';
import { type Background, emulatorStartMs, inBackground, waitFor } from './wait-for.ts';

export const pubsubProject = 'kubefn-local';

const emulatorLauncher =
  process.env.KUBEFN_PUBSUB_EMULATOR ??
  '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator';

/** Starts the emulator; `ready` settles when it answers. */
export function startPubsubEmulator(dir: string, port: number): Background {
  // The emulator logs every request at INFO; WARNING keeps its log readable.
  const logging = join(dir, 'pubsub-logging.properties');
  const written = writeFile(logging, '.level=WARNING\nhandlers=java.util.logging.ConsoleHandler\n');
  const proc = startProcess(
    dir,
    'pubsub-emulator',
    emulatorLauncher,
    ['--host=127.0.0.1', `--port=${port}`],
    {
      ...process.env,
      JAVA_OPTS: `-Xmx512m -Djava.util.logging.config.file=${logging}`,
    },
  );
  return inBackground(
    proc,
    written.then(() =>
      waitFor(proc, emulatorStartMs, async () => (await fetch(`http://127.0.0.1:${port}/`)).ok),
    ),
  );
}
