import { defineConfig } from 'vitest/config';

// Two suites: unit (pure logic, no I/O, fast) and integration (real PostgreSQL, real grpc-js over
// mutual TLS, the CLI as a subprocess). `npm test` runs both; `npm run test:unit` only the first.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          // Runs after the unit suite, with its own worker limit.
          sequence: { groupOrder: 1 },
          // Each file gets its own database; two cores, so two files at a time.
          pool: 'forks',
          maxWorkers: 2,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
