import { SatrnnError } from './errors.js';
import { readFileChecked } from './io.js';

/** Options of {@link loadData} and {@link checkData}. */
export interface LoadDataOptions {
  /** Use at most this many bytes, the first ones (the q-programs use 1024; default: all). */
  maxBytes?: number;
  /** Smallest acceptable length (default 2: one prediction). */
  minBytes?: number;
}

/**
 * Checks a byte string is long enough to predict anything; returns it, or its first
 * `opts.maxBytes` bytes (a view, not a copy).
 *
 * @param source - file path or label for the message (default `'<memory>'`)
 * @throws SatrnnError `DATA_TOO_SHORT` below `opts.minBytes` (default 2)
 */
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

/**
 * Reads a data file: any bytes, n >= 2 (or opts.minBytes), cut to opts.maxBytes.
 *
 * @throws SatrnnError `FILE_NOT_FOUND`, `FILE_UNREADABLE` or `DATA_TOO_SHORT`
 */
export function loadData(file: string, opts: LoadDataOptions = {}): Uint8Array {
  return checkData(readFileChecked(file, 'data'), file, opts);
}
