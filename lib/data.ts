import { SatrnnError } from './errors.js';
import { readFileChecked } from './io.js';

export interface LoadDataOptions {
  /** Use at most this many bytes (the q-programs use 1024). */
  maxBytes?: number;
  /** Smallest acceptable length (default 2: one prediction). */
  minBytes?: number;
}

/** Checks a byte string is long enough to predict anything; returns it (possibly truncated). */
export function checkData(bytes: Uint8Array, source = '<memory>', opts: LoadDataOptions = {}): Uint8Array {
  const minBytes = opts.minBytes ?? 2;
  const data = opts.maxBytes !== undefined && bytes.length > opts.maxBytes ? bytes.subarray(0, opts.maxBytes) : bytes;
  if (data.length < minBytes)
    throw new SatrnnError(
      'DATA_TOO_SHORT',
      `${source}: ${data.length} byte${data.length === 1 ? '' : 's'} of data; at least ${minBytes} needed (n - 1 predictions are scored)`,
    );
  return data;
}

/** Reads a data file: any bytes, n >= 2 (or opts.minBytes). */
export function loadData(file: string, opts: LoadDataOptions = {}): Uint8Array {
  return checkData(readFileChecked(file, 'data'), file, opts);
}
