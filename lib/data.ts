import { SatrnnError } from './errors.js';
import { MAX_TEXT_BYTES, readFileChecked, readFilePrefix } from './io.js';

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
 * Reads a data file: any bytes, n >= 2 (or opts.minBytes), cut to opts.maxBytes. With
 * `maxBytes` (up to 1 GiB) only those first bytes are read, from a regular file, a device or a
 * FIFO (one with no writer is an error at once). Without it the whole file is read: a regular
 * file of at most 1 GiB (MAX_TEXT_BYTES); longer texts, devices and FIFOs are refused (give
 * the path or a stream to an Analysis instead: it reads texts of any length in blocks).
 *
 * @throws SatrnnError `FILE_NOT_FOUND`, `FILE_UNREADABLE` or `DATA_TOO_SHORT`
 */
export function loadData(file: string, opts: LoadDataOptions = {}): Uint8Array {
  const max = opts.maxBytes;
  const bytes =
    max !== undefined && Number.isSafeInteger(max) && max >= 0 && max <= MAX_TEXT_BYTES
      ? readFilePrefix(file, 'data', max)
      : readFileChecked(file, 'data', { hint: 'pass maxBytes to read only its first bytes; an Analysis reads a text path or stream of any length in blocks' });
  return checkData(bytes, file, opts);
}
