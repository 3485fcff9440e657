import { readFileSync, statSync } from 'node:fs';
import { SatrnnError } from './errors.js';

/**
 * Reads a whole file, turning fs errors into SatrnnErrors that name the file and its role.
 *
 * @param role - what the file is for in messages, e.g. `'model'` or `'data'`
 * @returns the file's bytes (a Uint8Array over the Buffer that was read)
 * @throws SatrnnError `FILE_NOT_FOUND` when the path cannot be stat'ed, `FILE_UNREADABLE`
 *   for a folder or a read error
 */
export function readFileChecked(file: string, role: string): Uint8Array {
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new SatrnnError('FILE_NOT_FOUND', `${role} file not found: ${file}`);
  }
  if (st.isDirectory()) throw new SatrnnError('FILE_UNREADABLE', `${role} path is a folder, not a file: ${file}`);
  try {
    const b = readFileSync(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (err) {
    throw new SatrnnError('FILE_UNREADABLE', `cannot read ${role} file ${file}: ${(err as Error).message}`);
  }
}
