import type { Command as Commander } from 'commander';
import type { BackendChoice } from '../engine/index.js';
import type { RunOptions } from '../engine/types.js';

/** How {@link reproduce} runs a program: its backend, progress, cancellation and warnings. */
export interface ReproduceContext extends RunOptions {
  /** The backend (default 'auto'); every backend prints the same bytes. */
  backend?: BackendChoice;
  /** Where one-line warnings go (default: stderr). */
  onWarning?: (message: string) => void;
}

/** How `satrnn reproduce <name>` runs an original program, with its input rules. */
export interface ReproduceEntry {
  /** Positional argument names, as the original's usage line shows them. */
  args: string[];
  /** Optional trailing arguments. */
  optional?: string[];
  /** Returns exactly the bytes the original wrote to stdout. */
  run(args: string[], ctx: ReproduceContext): Promise<string>;
}

/**
 * One program of the registry: its reproduce entry and (where it has one) its modern command.
 * Both load their implementation on first use (`reproduce.run` imports the program's
 * modules when called), so reading the registry costs nothing.
 */
export interface Program {
  /** The original program's name. */
  name: string;
  /** One line: what the program computes. */
  summary: string;
  /** How `satrnn reproduce <name>` runs it. */
  reproduce: ReproduceEntry;
  /** Loads the program's CLI module; resolves to the function that registers its modern command(s). */
  loadCommand?: () => Promise<(program: Commander) => void>;
}

/** A modern command with no original program: its name, summary and lazily loaded registration. */
export interface Command {
  /** The command's registry name. */
  name: string;
  /** One line: what it computes. */
  summary: string;
  /** Loads the command's module; resolves to the function that registers its command(s). */
  loadCommand: () => Promise<(program: Commander) => void>;
}
