import { defineConfig } from 'vitest/config';

// Integration and fault tests each start their own real local stack (global setup runs once per
// project). Fault tests restart kube-apiserver and compact etcd; on a shared stack that left
// kube-controller-manager's informers backing off for up to a minute, and a namespace waiting
// to be finalized in another test file waited past its deadline.
const againstStack = {
  globalSetup: ['test/support/global-setup.ts'],
  testTimeout: 90_000,
  hookTimeout: 90_000,
};

export default defineConfig({
  test: {
    projects: [
      {
        // Offline and fast: unit tests live beside the code they test.
        test: {
          name: 'unit',
          include: ['functions/**/*.test.ts', 'shared/**/*.test.ts', 'infra/**/*.test.ts'],
        },
      },
      {
        // Against the real local stack, started once per run and shared (tests use unique names).
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/faults/**', 'test/cells/**'],
          ...againstStack,
        },
      },
      {
        // Tests that break the stack on purpose, on a stack of their own.
        test: { name: 'faults', include: ['test/faults/**/*.test.ts'], ...againstStack },
      },
      {
        // Two cells (eu1, us1): two control planes on one stack, the emulators shared. Its tests
        // take a cell's kube-apiserver down, so the stack is their own, and its files run one at a
        // time: one file's cell down must not fail another's request.
        test: {
          name: 'cells',
          include: ['test/cells/**/*.test.ts'],
          ...againstStack,
          globalSetup: ['test/support/cells-setup.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
});
