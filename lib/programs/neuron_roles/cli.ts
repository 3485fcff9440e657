import type { Command } from 'commander';

/** Registers `satrnn roles` (placeholder until the command lands). */
export function registerRoles(_program: Command): void {}
