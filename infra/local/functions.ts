// Runs a bundled function (infra/build-functions.ts) under the real Functions Framework, as its
// own process on 127.0.0.1, registered with the stack so it is stopped with everything else, and
// supervised: if it crashes it is started again (supervise.ts).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freePorts } from './free-ports.ts';
import { type Managed, startProcess } from './processes.ts';
import { supervise, waitReady } from './supervise.ts';

// The package's `main` is build/src/index.js; its CLI (the `functions-framework` bin) sits beside it.
const frameworkMain = join(
  createRequire(import.meta.url).resolve('@google-cloud/functions-framework'),
  '../main.js',
);

export type RunningFunction = {
  url: string;
  /** The process serving now: a crashed one is restarted on the same port (supervise.ts). */
  readonly process: Managed;
  stop(): Promise<void>;
};

const readyTimeoutMs = 30_000;

export async function startFunction(options: {
  stateDir: string;
  target: string;
  /** The process's name, for its log file (default function-<target>): one per cell. */
  name?: string;
  source: string;
  /** Added to this process's environment; `undefined` removes a variable (KUBECONFIG, say). */
  env: Record<string, string | undefined>;
  port?: number;
  node?: string;
  /** Where restarts are said (default: stdout). */
  log?: (line: string) => void;
}): Promise<RunningFunction> {
  const port = options.port ?? (await freePort());
  const launch = () =>
    startProcess(
      options.stateDir,
      options.name ?? `function-${options.target}`,
      options.node ?? process.execPath,
      [
        frameworkMain,
        `--target=${options.target}`,
        `--source=${options.source}`,
        `--port=${port}`,
        '--signature-type=http',
      ],
      // As on Cloud Run: production mode, so the framework's own error pages carry no stack traces.
      withoutUnset({ ...process.env, NODE_ENV: 'production', ...options.env }),
    );
  const url = `http://127.0.0.1:${port}`;
  const listening = () =>
    fetch(`${url}/`, { method: 'HEAD' }).then(
      () => true,
      () => false,
    );
  const first = launch();
  const readiness = await waitReady(first, listening, readyTimeoutMs);
  if (readiness === 'exited')
    throw new Error(
      `function ${options.target} exited (${await first.exited}); see ${first.logFile}`,
    );
  if (readiness === 'timeout') {
    await first.stop();
    throw new Error(`function ${options.target} did not listen on ${url} within 30 s`);
  }
  const supervised = supervise(first, {
    name: `function ${options.target}`,
    stateDir: options.stateDir,
    launch,
    ready: listening,
    readyTimeoutMs,
    ...(options.log ? { log: options.log } : {}),
  });
  return {
    url,
    get process() {
      return supervised.current;
    },
    stop: () => supervised.stop(),
  };
}

const withoutUnset = (env: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined));

/** A port for a process that binds it later: chosen as the stack's are (free-ports.ts). */
export async function freePort(): Promise<number> {
  return (await freePorts(['port'])).port;
}
