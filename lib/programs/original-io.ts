// Input rules shared by the originals' reproduce entries (notes/conventions.md).
import { Analysis } from '../analysis.js';
import { checkData } from '../data.js';
import { SatrnnError } from '../errors.js';
import { readFifoPrefix, readFilePrefix, statInput } from '../io.js';
import type { BackendChoice } from '../engine/index.js';
import { type Model, REFERENCE_HIDDEN, loadModel } from '../model.js';

/** The size of the originals' one read of the data file. */
const ORIGINAL_READ = 1100;

/**
 * The originals read one 1,100-byte buffer and use at most 1,024 bytes: only those 1,100 are
 * read, from a regular file, a device (/dev/zero gives 1,100 zeros) or a FIFO (read on the
 * event loop, so Ctrl-C (`signal`) ends a wait for a silent writer; one with no writer is an
 * error at once, not an endless wait).
 */
export async function readOriginalData(file: string, minBytes = 2, signal?: AbortSignal): Promise<Uint8Array> {
  const bytes = statInput(file, 'data').isFIFO() ? await readFifoPrefix(file, 'data', ORIGINAL_READ, signal) : readFilePrefix(file, 'data', ORIGINAL_READ);
  return checkData(bytes.subarray(0, 1024), file, { minBytes });
}

/**
 * H = 128 only; short files are errors; trailing bytes are ignored with a warning (and not
 * read). The model must be a regular file (loadModel's rules: devices and FIFOs refused).
 */
export function readOriginalModel(file: string, onWarning?: (m: string) => void): Model {
  return loadModel(file, { hidden: REFERENCE_HIDDEN, allowTrailing: true, ...(onWarning ? { onWarning } : {}) });
}

/** C atoi: leading blanks, an optional sign, digits; anything else gives 0. */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  const v = Number(m[1]);
  if (!Number.isSafeInteger(v) || v > 2147483647 || v < -2147483648)
    throw new SatrnnError('BAD_OPTION', `'${s}' is out of the range of a C int`);
  return v;
}

/** The analysis of a `<data> <model>` program: the originals' input rules, the context's backend. */
export async function originalAnalysis(dataFile: string, modelFile: string, ctx: { backend?: BackendChoice; onWarning?: (m: string) => void; signal?: AbortSignal }): Promise<Analysis> {
  const data = await readOriginalData(dataFile, 2, ctx.signal);
  const model = readOriginalModel(modelFile, ctx.onWarning);
  return new Analysis({ model, data, ...(ctx.backend ? { backend: ctx.backend } : {}), ...(ctx.onWarning ? { onWarning: ctx.onWarning } : {}) });
}
