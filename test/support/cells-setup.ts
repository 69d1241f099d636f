// Starts the real local stack with two cells, eu1 and us1 (two control planes, the emulators
// shared), once per run of the cells project (test/support/stack-setup.ts).
import type { TestProject } from 'vitest/node';
import { setupStack } from './stack-setup.ts';

/** The cells project's cells, in this order: eu1 is also the stack's top level. */
export const testCells = ['eu1', 'us1'] as const;

export default (project: TestProject) => setupStack(project, testCells);
