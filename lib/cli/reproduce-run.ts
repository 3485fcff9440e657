// What `satrnn reproduce <name> <args…>` does once its flags are parsed. Kept free of
// commander and of every program's modules: main.ts runs it directly for a plain
// `reproduce <name> <args…>` (no flags), and the registry loads only the program asked for.
import type { BackendChoice } from '../engine/index.js';
import { PROGRAMS, reproduce } from '../programs/index.js';
import { checkOutput, emit, warn } from './output.js';
import { progressBar } from './progress.js';

export interface ReproduceRunOptions {
  backend?: BackendChoice;
  /** Write the output to this file instead of stdout. */
  output?: string;
  signal?: AbortSignal;
}

/** The registry's names of positional arguments that are files a program reads. */
const FILE_ARGS: ReadonlySet<string> = new Set(['data', 'datafile', 'model']);

/** The input files among a reproduce program's positional arguments (none for an unknown program). */
export function reproduceInputs(name: string, args: readonly string[]): string[] {
  const entry = PROGRAMS.find((p) => p.name === name)?.reproduce;
  if (!entry) return [];
  const names = [...entry.args, ...(entry.optional ?? [])];
  return args.filter((_a, i) => FILE_ARGS.has(names[i] ?? ''));
}

/** Runs an original program and writes its output (stdout or `output`); warnings go to stderr. */
export async function runReproduce(name: string, args: string[], o: ReproduceRunOptions = {}): Promise<void> {
  const inputs = reproduceInputs(name, args);
  if (o.output !== undefined) checkOutput(o.output, inputs); // before the work, not after it
  const bar = progressBar(name);
  try {
    const text = await reproduce(name, args, {
      ...(o.backend ? { backend: o.backend } : {}),
      onWarning: warn,
      onProgress: bar.update,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    bar.stop();
    emit(text, o.output, inputs);
  } finally {
    bar.stop();
  }
}
