// What both global setups share (global-setup.ts: one cell; cells-setup.ts: two): the real local
// stack for one vitest project, its info provided to the tests, and a small control endpoint on
// 127.0.0.1 for the faults that need the stack's own process, since tests run in workers.
// There is no skip: if the stack cannot start, every test of the project fails with the reason.
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { type Stack, type StackInfo, startStack } from '../../infra/local/stack.ts';
import { startFakeGoogleIdentity } from './fakes/google-identity.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
    stackControl: string;
    /** Control URL of the fake Google identity service (test/support/google-identity.ts). */
    googleIdentity: string;
  }
}

/** Starts the stack with `cells` (the default single cell when not given) for `project`. */
export async function setupStack(project: TestProject, cells?: readonly string[]) {
  // The fake Google first: kube-apiserver's token webhook points at it.
  const google = await startFakeGoogleIdentity();
  const stack = await startStack({
    ...(cells && { cells }),
    keepState: process.env.KUBEFN_KEEP_STATE === '1',
    tokenWebhookUrl: google.tokenReviewUrl,
    // A second between a pod's scheduling and its readiness, standing for image pull and start:
    // tenants are seen coming up (the sign-up page's progress), not ready at the first look.
    podStartMs: Number(process.env.KUBEFN_POD_START_MS ?? 1000),
  }).catch(async (error: unknown) => {
    await google.close();
    throw error;
  });
  const control = createServer((req, res) => void answer(stack, req.method, req.url ?? '', res));
  control.listen(0, '127.0.0.1');
  await once(control, 'listening');
  project.provide('stack', stack.info);
  project.provide('googleIdentity', google.controlUrl);
  project.provide('stackControl', `http://127.0.0.1:${(control.address() as AddressInfo).port}`);
  return async () => {
    control.close();
    await stack.stop();
    await google.close();
  };
}

const first = (stack: Stack) => Object.keys(stack.cells)[0] as string;
const apiserverActions = ['stop', 'start', 'restart'] as const;

/**
 * POST /freeze/kube-controller-manager?ms=N, POST /restart/kube-apiserver (the first cell's),
 * POST /cells/<cell>/kube-apiserver/stop|start|restart. Each cell does one at a time.
 */
async function answer(stack: Stack, method: string | undefined, url: string, res: ServerResponse) {
  if (method !== 'POST') return void res.writeHead(405).end();
  // Freezes the first cell's kube-controller-manager (SIGSTOP) for ?ms= (at most 5 s), then
  // thaws it by itself.
  const freeze = /^\/freeze\/kube-controller-manager\?ms=(\d+)$/.exec(url);
  if (freeze) {
    const { pid } =
      stack
        .cell(first(stack))
        .processes()
        .find((p) => p.name === 'kube-controller-manager') ?? {};
    if (!pid) return void res.writeHead(500).end('no kube-controller-manager');
    process.kill(pid, 'SIGSTOP');
    const thaw = () => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {} // gone meanwhile (the stack stopping): nothing to thaw
    };
    setTimeout(thaw, Math.min(Number(freeze[1]), 5_000));
    return void res.writeHead(204).end();
  }
  const apiserver =
    url === '/restart/kube-apiserver'
      ? { cell: first(stack), action: 'restart' }
      : /^\/cells\/(?<cell>[^/]+)\/kube-apiserver\/(?<action>[a-z]+)$/.exec(url)?.groups;
  const action = apiserverActions.find((a) => a === apiserver?.action);
  if (!apiserver?.cell || !action || !(apiserver.cell in stack.cells))
    return void res.writeHead(404).end();
  const cell = stack.cell(apiserver.cell);
  const done = {
    stop: cell.stopApiserver,
    start: cell.startApiserver,
    restart: cell.restartApiserver,
  };
  await done[action]().then(
    () => void res.writeHead(204).end(),
    (error: Error) => void res.writeHead(500).end(error.message),
  );
}
