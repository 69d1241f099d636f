// Runs a bundled function (infra/build-functions.ts) under the real Functions Framework, as its
// own process on 127.0.0.1, registered with the stack so it is stopped with everything else.
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Managed, startProcess } from './processes.ts';

// The package's `main` is build/src/index.js; its CLI (the `functions-framework` bin) sits beside it.
const frameworkMain = join(
  createRequire(import.meta.url).resolve('@google-cloud/functions-framework'),
  '../main.js',
);

export type RunningFunction = { url: string; process: Managed; stop(): Promise<void> };

export async function startFunction(options: {
  stateDir: string;
  target: string;
  source: string;
  /** Added to this process's environment; `undefined` removes a variable (KUBECONFIG, say). */
  env: Record<string, string | undefined>;
  port?: number;
  node?: string;
}): Promise<RunningFunction> {
  const port = options.port ?? (await freePort());
  const proc = startProcess(
    options.stateDir,
    `function-${options.target}`,
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
  let exited: string | undefined;
  void proc.exited.then((how) => {
    exited = how;
  });
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
    if (exited)
      throw new Error(`function ${options.target} exited (${exited}); see ${proc.logFile}`);
    const up = await fetch(`${url}/`, { method: 'HEAD' }).then(
      () => true,
      () => false,
    );
    if (up) return { url, process: proc, stop: () => proc.stop() };
  }
  await proc.stop();
  throw new Error(`function ${options.target} did not listen on ${url} within 30 s`);
}

const withoutUnset = (env: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
