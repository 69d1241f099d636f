// Starts the real local stack once per test run. There is no skip: if the stack cannot start,
// every integration test fails with the reason. Tests run in worker processes, so faults that
// need the stack's own process (restarting kube-apiserver, freezing kube-controller-manager) go
// through a small control endpoint on 127.0.0.1 (test/support/stack-control.ts).
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { type StackInfo, startStack } from '../../infra/local/stack.ts';
import { startFakeGoogleIdentity } from './fakes/google-identity.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
    stackControl: string;
    /** Control URL of the fake Google identity service (test/support/google-identity.ts). */
    googleIdentity: string;
  }
}

export default async function setup(project: TestProject) {
  // The fake Google first: kube-apiserver's token webhook points at it.
  const google = await startFakeGoogleIdentity();
  const stack = await startStack({
    keepState: process.env.KUBEFN_KEEP_STATE === '1',
    tokenWebhookUrl: google.tokenReviewUrl,
    // A second between a pod's scheduling and its readiness, standing for image pull and start:
    // tenants are seen coming up (the sign-up page's progress), not ready at the first look.
    podStartMs: Number(process.env.KUBEFN_POD_START_MS ?? 1000),
  }).catch(async (error: unknown) => {
    await google.close();
    throw error;
  });
  const { processes: _p, memory: _m, stop: _s, restartApiserver: _r, ...info } = stack;
  // One fault at a time: tests that restart kube-apiserver queue up here.
  let queue = Promise.resolve();
  const control = createServer((req, res) => {
    // Freezes kube-controller-manager (SIGSTOP) for ?ms= (at most 5 s), then thaws it by itself.
    const freeze = /^\/freeze\/kube-controller-manager\?ms=(\d+)$/.exec(req.url ?? '');
    if (req.method === 'POST' && freeze) {
      const { pid } = stack.processes.find((p) => p.name === 'kube-controller-manager') ?? {};
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
    if (req.method !== 'POST' || req.url !== '/restart/kube-apiserver') {
      res.writeHead(404).end();
      return;
    }
    queue = queue.then(() =>
      stack.restartApiserver().then(
        () => void res.writeHead(204).end(),
        (error: Error) => void res.writeHead(500).end(error.message),
      ),
    );
  });
  control.listen(0, '127.0.0.1');
  await once(control, 'listening');
  project.provide('stack', info);
  project.provide('googleIdentity', google.controlUrl);
  project.provide('stackControl', `http://127.0.0.1:${(control.address() as AddressInfo).port}`);
  return async () => {
    control.close();
    await stack.stop();
    await google.close();
  };
}
