// The Google Cloud Firestore emulator (the Cloud SDK's, a JVM), for the local stack: the global
// store where placement records which cell holds each tenant. Shared by every cell, like Pub/Sub.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetch } from 'undici';
import { startProcess } from './processes.ts';
import { type Background, emulatorStartMs, inBackground, waitFor } from './wait-for.ts';

/** The emulator serves any project; kubefn's is the local Google project, as for Pub/Sub. */
export const firestoreProject = 'kubefn-local';

const emulatorLauncher =
  process.env.KUBEFN_FIRESTORE_EMULATOR ??
  '/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator';

/** The REST v1 base of the project's default database: .../documents/<collection>/<id>. */
export function firestoreBase(port: number): string {
  return `http://127.0.0.1:${port}/v1/projects/${firestoreProject}/databases/(default)`;
}

export type FirestorePorts = { firestorePort: number; firestoreWebsocketPort: number };

/** Starts the emulator; `ready` settles when it answers. */
export function startFirestoreEmulator(dir: string, ports: FirestorePorts): Background {
  // It logs every connection at INFO; WARNING keeps its log readable.
  const logging = join(dir, 'firestore-logging.properties');
  // Written before the JVM starts, which reads it at once.
  writeFileSync(logging, '.level=WARNING\nhandlers=java.util.logging.ConsoleHandler\n');
  const proc = startProcess(
    dir,
    'firestore-emulator',
    emulatorLauncher,
    // Its WebSocket server (the emulator UI's) would otherwise take an ephemeral port of its own.
    [
      'start',
      '--host=127.0.0.1',
      `--port=${ports.firestorePort}`,
      `--websocket_port=${ports.firestoreWebsocketPort}`,
    ],
    // The launcher passes no JVM options through; every JVM reads JAVA_TOOL_OPTIONS. Without a
    // bound the heap may grow to a quarter of the machine's memory.
    {
      ...process.env,
      JAVA_TOOL_OPTIONS: `-Xmx512m -Djava.util.logging.config.file=${logging}`,
    },
  );
  return inBackground(
    proc,
    waitFor(proc, emulatorStartMs, async () => {
      // A real read (of a document that is not there), not just its "Ok" page: the first one
      // takes seconds more (seen 8 s at load 20), better spent here, beside the other emulators.
      const probe = `${firestoreBase(ports.firestorePort)}/documents/kubefn-local-stack/probe`;
      const res = await fetch(probe, { headers: { authorization: 'Bearer owner' } });
      await res.body?.cancel();
      return res.status === 404;
    }),
  );
}
