import type { Command } from 'commander';

/** Registers `satrnn sweep` and `satrnn prune` (placeholder until the commands land). */
export function registerSweep(_program: Command): void {}
