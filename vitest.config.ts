import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql ships CJS and ESM builds; vite would hand our sources the ESM one and node_modules the CJS one,
    // and graphql refuses to mix types from two copies. Everyone gets the CJS build, as under Node itself.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The service compiled once per run, for tests that start it as a process (test/support/build.ts).
    globalSetup: ['test/support/globalBuild.ts'],
    // Each file starts real servers on its own database; two at a time suits the 2-core machines.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
