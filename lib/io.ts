// Reading input files (models, texts, checkpoints) without trusting them to be ordinary files.
//
// What satrnn accepts (README "Failure behaviour"):
// - Every input path is stat'ed (symbolic links followed) before it is opened. A missing
//   file, a symbolic link loop, a folder, a permission problem, a path through something that
//   is not a folder and a too-long name each get their own one-line message (exit 2).
// - Synchronous whole-file reads (models, checkpoint weights, loadData, reproduce sat_train)
//   take regular files only, after checking their size: a device such as /dev/zero or
//   /dev/urandom never ends, and opening a FIFO (named pipe) waits for a writer; both are
//   refused without being opened.
// - Texts held whole in memory are at most MAX_TEXT_BYTES (1 GiB); `satrnn train` reads its
//   text with readInputWhole (also stdin and FIFOs, interruptible). Analyses stream their
//   texts instead and take any length.
// - Bounded reads (the originals' first 1,100 bytes of data, loadData's maxBytes) also take
//   devices and FIFOs: only the bytes asked for are read. Their FIFOs are opened non-blocking,
//   so one that no writer holds open is reported at once instead of waiting forever.
// - Streamed reads (readInputBlocks: analysis texts, `-d -`) go block by block, check the
//   caller's AbortSignal between blocks, and with `streams` also read stdin and FIFOs (a FIFO
//   waits for its writer without blocking a thread, so Ctrl-C still stops it).
import { close, closeSync, constants, fchmodSync, fchownSync, fsyncSync, open, openSync, read, readSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { getSystemErrorMap } from 'node:util';
import type { Readable } from 'node:stream';
import { SatrnnError, abortError, throwIfAborted } from './errors.js';

/** Largest text read whole into memory (training texts, loadData): 1 GiB. */
export const MAX_TEXT_BYTES = 2 ** 30;

/** Block size of streamed reads. */
const READ_BLOCK = 1 << 20;

// Asynchronous reads through node:fs's callback API rather than node:fs/promises: every run
// loads node:fs, while node:fs/promises (with the readline module it pulls in) costs ~5 ms of
// start-up, which a plain `satrnn reproduce` would pay without reading anything through it.
const openAsync = (file: string): Promise<number> => new Promise((resolve, reject) => open(file, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
const readAsync = (fd: number, buf: Uint8Array): Promise<number> =>
  new Promise((resolve, reject) => read(fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n))));
const closeAsync = (fd: number): Promise<void> => new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));

/** `path` shortened for a message (a too-long name would otherwise fill the screen). */
function shown(file: string): string {
  return file.length > 120 ? `${file.slice(0, 60)}…${file.slice(-40)}` : file;
}

/** What a stat'ed path is, for messages: "a folder", "a character device", … */
export function fileKind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a folder';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The SatrnnError for a failed stat, open or read of an input path: each errno its own
 * message naming the file and its role (`FILE_NOT_FOUND` for a missing file, otherwise
 * `FILE_UNREADABLE`). SatrnnErrors pass through unchanged.
 */
export function inputError(err: unknown, file: string, role: string): SatrnnError {
  if (err instanceof SatrnnError) return err;
  const e = err as NodeJS.ErrnoException;
  const f = shown(file);
  const what = role.endsWith('folder') ? role : `${role} file`; // "model file", "model folder"
  const unreadable = (message: string): SatrnnError => new SatrnnError('FILE_UNREADABLE', message, { cause: err });
  switch (e?.code) {
    case 'ENOENT':
      return new SatrnnError('FILE_NOT_FOUND', `${what} not found: ${f}`, { cause: err });
    case 'ELOOP':
      return unreadable(`${role} path ${f} is a symbolic link loop (or a chain of too many links); point the link at a file`);
    case 'EACCES':
    case 'EPERM':
      return unreadable(`permission denied: cannot read ${what} ${f}; check its permissions and those of the folders above it`);
    case 'EISDIR':
      return unreadable(`${role} path ${f} is a folder, not a file`);
    case 'ENOTDIR':
      return unreadable(`${role} path ${f} goes through something that is not a folder; check the path`);
    case 'ENAMETOOLONG':
      return unreadable(`${role} path ${f} is too long (${file.length} characters; a name is at most 255 bytes, a path 4095); use a shorter path`);
    case 'ENXIO':
      return unreadable(`${role} path ${f} is a socket or a device that is not there; give a regular file`);
    default:
      return unreadable(`cannot read ${what} ${f}: ${e?.message ?? String(err)}`);
  }
}

/** stat (following symbolic links) with {@link inputError}'s messages. */
export function statInput(file: string, role: string): Stats {
  try {
    return statSync(file);
  } catch (err) {
    throw inputError(err, file, role);
  }
}

function folderError(file: string, role: string): SatrnnError {
  return new SatrnnError('FILE_UNREADABLE', `${role} path ${shown(file)} is a folder, not a file`);
}

/**
 * The error for an input of the wrong kind: "<role> path <file> is a folder, not a file", or
 * "… is a character device, not <accepted>; <hint>".
 */
export function kindError(file: string, role: string, st: Stats, accepted = 'a regular file', hint?: string): SatrnnError {
  if (st.isDirectory()) return folderError(file, role);
  return new SatrnnError('FILE_UNREADABLE', `${role} path ${shown(file)} is ${fileKind(st)}, not ${accepted}${hint ? `; ${hint}` : ''}`);
}

/**
 * The stat of an input that must be a regular file (symbolic links followed): a folder, a
 * device, a FIFO or a socket is refused, with `hint` saying what to do instead.
 */
export function regularFileStat(file: string, role: string, hint = 'copy it to a regular file first'): Stats {
  const st = statInput(file, role);
  if (!st.isFile()) throw kindError(file, role, st, 'a regular file', hint);
  return st;
}

/** "1 GiB", "512 MiB" or a byte count. */
function sizeText(bytes: number): string {
  if (bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  return `${bytes} bytes`;
}

/** The message for a text over `max` bytes (`size`: its length, or undefined for "more than max"). */
export function tooLargeError(file: string, role: string, size: number | undefined, max: number, hint = ''): SatrnnError {
  const is = size === undefined ? `has more than ${max} bytes` : `is ${size} bytes`;
  return new SatrnnError('FILE_UNREADABLE', `${role} file ${shown(file)} ${is}; at most ${sizeText(max)} (${max} bytes) is read into memory${hint ? `; ${hint}` : ''}`);
}

/** Reads up to `max` bytes from an open descriptor (fewer at end of file). */
function readUpTo(fd: number, max: number): Uint8Array {
  const buf = new Uint8Array(max);
  let n = 0;
  while (n < max) {
    const r = readSync(fd, buf, n, Math.min(max - n, 2 ** 30), null);
    if (r === 0) break;
    n += r;
  }
  return n === max ? buf : buf.subarray(0, n);
}

/** Opens `file` read-only (its errors as inputError's), runs `fn`, closes it. */
function withFd<T>(file: string, role: string, flags: number, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(file, flags);
  } catch (err) {
    throw inputError(err, file, role);
  }
  try {
    return fn(fd);
  } catch (err) {
    throw inputError(err, file, role);
  } finally {
    closeSync(fd);
  }
}

/**
 * The first `max` bytes of a regular file (stat'ed by the caller), read without reading the
 * rest. Fewer when the file is shorter.
 */
export function readRegularPrefix(file: string, role: string, max: number): Uint8Array {
  return withFd(file, role, constants.O_RDONLY, (fd) => readUpTo(fd, max));
}

/**
 * Reads a whole regular file, its size checked first.
 *
 * @param role - what the file is for in messages, e.g. `'model'` or `'data'`
 * @param opts - `maxBytes`: refuse a larger file without reading it (default
 *   {@link MAX_TEXT_BYTES}); `hint`: what to do instead, for the messages
 * @returns the file's bytes
 * @throws SatrnnError `FILE_NOT_FOUND` when the path does not exist, `FILE_UNREADABLE` for a
 *   folder, a device, a FIFO, a socket, a symbolic link loop, a permission problem, a file
 *   over `maxBytes` or a read error
 */
export function readFileChecked(file: string, role: string, opts: { maxBytes?: number; hint?: string } = {}): Uint8Array {
  const st = regularFileStat(file, role, opts.hint);
  const max = opts.maxBytes ?? MAX_TEXT_BYTES;
  if (st.size > max) throw tooLargeError(file, role, st.size, max, opts.hint);
  // stat's size is read (a file that grows meanwhile is read as it was).
  return readRegularPrefix(file, role, st.size);
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * The first `max` bytes of a file, a device or a FIFO, reading nothing after them (fewer when
 * it ends first). A FIFO is opened non-blocking: with no writer it gives no bytes at once (a
 * `DATA_TOO_SHORT` error naming the FIFO) instead of waiting for one; with a writer it is read
 * until `max` bytes or the writer closes it (this wait is synchronous).
 *
 * @throws SatrnnError as {@link inputError}; `FILE_UNREADABLE` for a folder or a socket
 */
export function readFilePrefix(file: string, role: string, max: number): Uint8Array {
  const st = statInput(file, role);
  if (st.isDirectory()) throw folderError(file, role);
  if (st.isSocket()) throw kindError(file, role, st, 'a file');
  if (!st.isFIFO()) return withFd(file, role, constants.O_RDONLY, (fd) => readUpTo(fd, max));
  return withFd(file, role, constants.O_RDONLY | constants.O_NONBLOCK, (fd) => {
    const buf = new Uint8Array(max);
    let n = 0;
    let wait = 1;
    while (n < max) {
      let r: number;
      try {
        r = readSync(fd, buf, n, max - n, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        Atomics.wait(sleepCell, 0, 0, wait); // a writer holds it open but has sent nothing yet
        wait = Math.min(50, wait * 2);
        continue;
      }
      if (r === 0) break;
      n += r;
      wait = 1;
    }
    if (n === 0)
      throw new SatrnnError('DATA_TOO_SHORT', `${role} path ${shown(file)} is a FIFO (named pipe) with no writer, or its writer sent nothing; start the writer first, or give a regular file`);
    return buf.subarray(0, n);
  });
}

/** Options of {@link readInputBlocks} and {@link readInputWhole}. */
export interface InputReadOptions {
  /** Checked between blocks; a pending wait for a stream's data ends with `ABORTED` too. */
  signal?: AbortSignal | undefined;
  /**
   * Also read streams: `-` (stdin), FIFOs and sockets' stdin. Default false: regular files
   * only. Devices are always refused (they may never end); pipe a part of one to stdin.
   */
  streams?: boolean;
  /** What to do instead, appended to the messages refusing a device or a stream. */
  hint?: string;
}

/** The blocks of a Node stream, ending early (ABORTED) when the signal fires; the stream is destroyed after. */
async function* streamBlocks(stream: Readable, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  throwIfAborted(signal);
  const onAbort = (): void => {
    stream.destroy(abortError());
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const b of stream) {
      throwIfAborted(signal);
      const u = b as Buffer;
      yield new Uint8Array(u.buffer, u.byteOffset, u.byteLength);
    }
    throwIfAborted(signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stream.destroy();
  }
}

/**
 * The blocks of one read of an input, checking `opts.signal` between them: a regular file in
 * 1 MiB blocks; with `opts.streams`, `-` (stdin) and FIFOs as their data arrives (a FIFO
 * with no writer waits for one, and Ctrl-C still stops the wait). Blocks are fresh arrays.
 *
 * @throws SatrnnError as {@link inputError}; `FILE_UNREADABLE` for a folder, a device, a
 *   socket, or a stream without `opts.streams`; `ABORTED`
 */
export async function* readInputBlocks(file: string, role: string, opts: InputReadOptions = {}): AsyncGenerator<Uint8Array> {
  const { signal } = opts;
  throwIfAborted(signal);
  if (file === '-' && opts.streams) {
    yield* streamBlocks(process.stdin, signal);
    return;
  }
  const st = statInput(file, role);
  if (st.isFIFO() && opts.streams) {
    // Non-blocking open: it returns at once even with no writer; the socket then waits for
    // data on the event loop (no thread blocked), so an abort ends the wait.
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw inputError(err, file, role);
    }
    // (process.getBuiltinModule, not import(): no ES module loader for a built-in module)
    const net = process.getBuiltinModule('node:net');
    yield* streamBlocks(new net.Socket({ fd, readable: true, writable: false }), signal);
    return;
  }
  if (!st.isFile()) throw kindError(file, role, st, opts.streams ? 'a regular file or a FIFO' : 'a regular file', opts.hint);
  let fd: number;
  try {
    fd = await openAsync(file);
  } catch (err) {
    throw inputError(err, file, role);
  }
  try {
    for (;;) {
      throwIfAborted(signal);
      const buf = new Uint8Array(READ_BLOCK);
      let bytesRead: number;
      try {
        bytesRead = await readAsync(fd, buf);
      } catch (err) {
        throw inputError(err, file, role);
      }
      if (bytesRead === 0) return;
      yield bytesRead === READ_BLOCK ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await closeAsync(fd);
  }
}

/**
 * The first `max` bytes of a FIFO, without blocking a thread: opened non-blocking and read
 * while data is there; EOF at once means no writer (or it closed); when a writer holds the
 * FIFO open but has sent nothing, the rest is awaited on the event loop, so `signal`
 * (Ctrl-C) ends the wait. A FIFO that gives no byte is `DATA_TOO_SHORT`.
 *
 * @throws SatrnnError as {@link inputError}; `DATA_TOO_SHORT`; `ABORTED`
 */
export async function readFifoPrefix(file: string, role: string, max: number, signal?: AbortSignal): Promise<Uint8Array> {
  const out = new Uint8Array(max);
  let n = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw inputError(err, file, role);
  }
  try {
    while (n < max) {
      let r: number;
      try {
        r = readSync(fd, out, n, max - n, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw inputError(err, file, role);
        // A writer, but no data yet: wait for it on the event loop (the socket owns fd now).
        const net = process.getBuiltinModule('node:net');
        const socket = new net.Socket({ fd, readable: true, writable: false });
        fd = undefined;
        for await (const b of streamBlocks(socket, signal)) {
          const k = Math.min(b.length, max - n);
          out.set(b.subarray(0, k), n);
          n += k;
          if (n === max) break;
        }
        break;
      }
      if (r === 0) break; // EOF: no writer, or it closed
      n += r;
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (n === 0)
    throw new SatrnnError('DATA_TOO_SHORT', `${role} path ${shown(file)} is a FIFO (named pipe) with no writer, or its writer sent nothing; start the writer first, or give a regular file`);
  return out.subarray(0, n);
}

/**
 * A whole input in memory, read in blocks (interruptible): a regular file, or with
 * `opts.streams` stdin (`-`) or a FIFO. At most `maxBytes` (default {@link MAX_TEXT_BYTES}):
 * a larger regular file is refused before reading, a longer stream once it passes the limit.
 *
 * @throws SatrnnError as {@link readInputBlocks}; `FILE_UNREADABLE` over the limit
 */
export async function readInputWhole(file: string, role: string, opts: InputReadOptions & { maxBytes?: number } = {}): Promise<Uint8Array> {
  const max = opts.maxBytes ?? MAX_TEXT_BYTES;
  const label = file === '-' ? '<stdin>' : file;
  if (file !== '-') {
    const st = statInput(file, role);
    if (st.isFile() && st.size > max) throw tooLargeError(label, role, st.size, max, opts.hint);
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const b of readInputBlocks(file, role, opts)) {
    total += b.length;
    if (total > max) throw tooLargeError(label, role, undefined, max, opts.hint);
    parts.push(b);
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The C library's words for an fs error's errno ("no space left on device"); else its message. */
export function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  const known = typeof e?.errno === 'number' ? getSystemErrorMap().get(e.errno) : undefined;
  return known ? known[1] : String(e?.message ?? err);
}

/** Writes all of `bytes` at the file position of `fd`. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** Flushes a folder's entries (a rename) to disk; not every file system supports it. */
function syncFolder(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}

/**
 * Replaces `target` with `bytes` whole or not at all: a hidden temp file beside it (unique
 * per process and call), fsync, a rename over `target`, then the folder synced. On failure
 * the temp file is removed, an existing `target` is left as it was, and the fs error is
 * rethrown as is (callers word the message).
 *
 * @param like - the file being replaced: the new one keeps its permissions (and, as root, its owner)
 */
export function replaceFile(target: string, bytes: Uint8Array, like?: Stats): void {
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, 'wx', 0o666);
    created = true;
    if (like) {
      fchmodSync(fd, like.mode & 0o7777);
      if (process.getuid?.() === 0) {
        try {
          fchownSync(fd, like.uid, like.gid);
        } catch {
          // keep root's ownership
        }
      }
    }
    writeAll(fd, bytes);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing
      }
    }
    if (created) rmSync(tmp, { force: true });
    throw err;
  }
  syncFolder(dir);
}

/**
 * Writes `bytes` to `file` whole or not at all ({@link replaceFile}). (The CLI's `-o` writer,
 * lib/cli/output.ts, adds its checks against inputs and devices.)
 *
 * @param what - what the file is, for the message ("model", "checkpoint")
 * @throws SatrnnError `WRITE_FAILED`, in the system's words
 */
export function writeFileAtomic(file: string, bytes: Uint8Array | string, what: string): void {
  try {
    replaceFile(file, typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  } catch (err) {
    throw new SatrnnError('WRITE_FAILED', `cannot write ${what} ${file}: ${errnoText(err)}`, { cause: err });
  }
}
