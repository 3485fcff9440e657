import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native addons and long exact runs: separate processes, generous timeouts (no timing asserts).
    pool: 'forks',
    // Vitest's default (cores - 1) runs one file at a time on a 2-core machine, while most
    // files spend much of their time in child CLIs and worker start-up: two at a time
    // finish npm test in ~1 min 55 s instead of ~2 min 45 s there.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
