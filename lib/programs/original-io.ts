// Input rules shared by the originals' reproduce entries (notes/conventions.md).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Analysis } from '../analysis.js';
import { checkData } from '../data.js';
import { SatrnnError } from '../errors.js';
import { readFileChecked } from '../io.js';
import type { BackendChoice } from '../engine/index.js';
import { Model, REFERENCE_HIDDEN, paramCount, parseModel } from '../model.js';

/** The size of the originals' one read of the data file. */
const ORIGINAL_READ = 1100;

/**
 * The first `max` bytes of a file (fewer when it is shorter), read without reading the rest;
 * a path that cannot be opened or is a folder gets readFileChecked's errors.
 */
function readFilePrefix(file: string, role: string, max: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return readFileChecked(file, role).subarray(0, max); // throws its FILE_NOT_FOUND / FILE_UNREADABLE
  }
  try {
    if (fstatSync(fd).isDirectory()) return readFileChecked(file, role).subarray(0, max); // throws: a folder
    const buf = new Uint8Array(max);
    let n = 0;
    while (n < max) {
      const r = readSync(fd, buf, n, max - n, null);
      if (r === 0) break;
      n += r;
    }
    return buf.subarray(0, n);
  } catch (err) {
    if (err instanceof SatrnnError) throw err;
    throw new SatrnnError('FILE_UNREADABLE', `cannot read ${role} file ${file}: ${(err as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** The originals read one 1,100-byte buffer and use at most 1,024 bytes (only those are read). */
export function readOriginalData(file: string, minBytes = 2): Uint8Array {
  const bytes = readFilePrefix(file, 'data', ORIGINAL_READ);
  return checkData(bytes.subarray(0, 1024), file, { minBytes });
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** H = 128 only; short files are errors; trailing bytes are ignored with a warning. */
export function readOriginalModel(file: string, onWarning?: (m: string) => void): Model {
  const bytes = readFileChecked(file, 'model');
  // A file of exactly one model on a little-endian host: its bytes are the floats (a view,
  // no conversion loop); Model's constructor checks them as parseModel's result would be.
  const floats = paramCount(REFERENCE_HIDDEN);
  if (littleEndian && bytes.length === floats * 4 && bytes.byteOffset % 4 === 0)
    return new Model(new Float32Array(bytes.buffer, bytes.byteOffset, floats), REFERENCE_HIDDEN, file);
  return parseModel(bytes, file, {
    hidden: REFERENCE_HIDDEN,
    allowTrailing: true,
    ...(onWarning ? { onWarning } : {}),
  });
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
export function originalAnalysis(dataFile: string, modelFile: string, ctx: { backend?: BackendChoice; onWarning?: (m: string) => void }): Analysis {
  const data = readOriginalData(dataFile);
  const model = readOriginalModel(modelFile, ctx.onWarning);
  return new Analysis({ model, data, ...(ctx.backend ? { backend: ctx.backend } : {}) });
}
