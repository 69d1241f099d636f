import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        // Offline and fast: unit tests live beside the code they test.
        test: { name: 'unit', include: ['functions/**/*.test.ts', 'shared/**/*.test.ts'] },
      },
      {
        // Against the real local stack, started once per run and shared (tests use unique names).
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 90_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
