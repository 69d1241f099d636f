// Starts the real local stack once per test run. There is no skip: if the stack cannot start,
// every integration test fails with the reason.
import type { TestProject } from 'vitest/node';
import { type StackInfo, startStack } from '../../infra/local/stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

export default async function setup(project: TestProject) {
  const stack = await startStack({ keepState: process.env.KUBEFN_KEEP_STATE === '1' });
  const { processes: _processes, memory: _memory, stop: _stop, ...info } = stack;
  project.provide('stack', info);
  return () => stack.stop();
}
