// Where commands put their results and warnings. Kept free of commander and other heavy
// modules: the fast `reproduce` path (cli/reproduce-run.ts) and every command share it.
import { writeFileSync } from 'node:fs';
import { SatrnnError } from '../errors.js';

/** Writes a command's output to a file (`-o`) or to stdout. */
export function emit(text: string, outFile?: string): void {
  if (outFile) {
    try {
      writeFileSync(outFile, text);
    } catch (err) {
      throw new SatrnnError('WRITE_FAILED', `cannot write ${outFile}: ${(err as Error).message}`);
    }
  } else {
    process.stdout.write(text);
  }
}

/** A one-line warning on stderr. */
export function warn(message: string): void {
  process.stderr.write(`satrnn: warning: ${message}\n`);
}
