// Starts the real local stack, one cell, once per test run of the integration and faults
// projects (test/support/stack-setup.ts).
import type { TestProject } from 'vitest/node';
import { setupStack } from './stack-setup.ts';

export default (project: TestProject) => setupStack(project);
