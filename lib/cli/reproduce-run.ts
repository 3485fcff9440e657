// What `satrnn reproduce <name> <args…>` does once its flags are parsed. Kept free of
// commander and of every program's modules: main.ts runs it directly for a plain
// `reproduce <name> <args…>` (no flags), and the registry loads only the program asked for.
import type { BackendChoice } from '../engine/index.js';
import { reproduce } from '../programs/index.js';
import { emit, warn } from './output.js';
import { progressBar } from './progress.js';

export interface ReproduceRunOptions {
  backend?: BackendChoice;
  /** Write the output to this file instead of stdout. */
  output?: string;
  signal?: AbortSignal;
}

/** Runs an original program and writes its output (stdout or `output`); warnings go to stderr. */
export async function runReproduce(name: string, args: string[], o: ReproduceRunOptions = {}): Promise<void> {
  const bar = progressBar(name);
  try {
    const text = await reproduce(name, args, {
      ...(o.backend ? { backend: o.backend } : {}),
      onWarning: warn,
      onProgress: bar.update,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    bar.stop();
    emit(text, o.output);
  } finally {
    bar.stop();
  }
}
