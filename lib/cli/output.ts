// Where commands put their results and warnings. Kept free of commander and other heavy
// modules: the fast `reproduce` path (cli/reproduce-run.ts) and every command share it.
//
// `-o FILE` is written whole or not at all: a temp file beside FILE (`.<name>.<pid>.<rand>.tmp`),
// written, flushed to disk (fsync), then renamed over FILE. On any failure (a full disk, an
// I/O error) the temp file is removed and the previous FILE is left as it was. A device or a
// FIFO (`-o /dev/null`) is written directly: it cannot be replaced. `-o` naming one of the
// command's inputs (same file: realpath, or device and inode) is refused before any work.
//
// stdout and stderr never throw: a closed pipe (EPIPE) or a full device (ENOSPC) is recorded
// here and main.ts turns it into the exit status once stdout has drained (flushStdout).
import {
  accessSync,
  closeSync,
  constants,
  lstatSync,
  openSync,
  readlinkSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { SatrnnError } from '../errors.js';
import { errnoText, replaceFile, writeAll } from '../io.js';

/** The files a command reads (models, data): `-o` may not name one. `undefined`, '' and '-' are skipped. */
export type Inputs = readonly (string | undefined)[];

export { errnoText } from '../io.js';

const statOf = (p: string): Stats | undefined => {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
};

/** Follows a chain of symlinks (even a dangling one) to the path that is really written. */
function followLinks(file: string): string {
  let p = path.resolve(file);
  for (let i = 0; i < 40; i++) {
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      return p; // missing (or unreachable: checkOutput reports it)
    }
    if (!st.isSymbolicLink()) return p;
    p = path.resolve(path.dirname(p), readlinkSync(p));
  }
  throw new SatrnnError('BAD_OPTION', `cannot write ${file}: too many levels of symbolic links`);
}

/** Where and how an output goes: replaced atomically, or written in place (a device, a FIFO). */
interface OutputTarget {
  /** The path written: `-o`'s path with symlinks followed. */
  path: string;
  /** The file it replaces, if one exists. */
  existing: Stats | undefined;
  /** A device, FIFO or socket: written directly (it cannot be replaced by a rename). */
  direct: boolean;
}

/**
 * Checks `-o FILE` before any work is done, and says where to write it (`undefined`: `-o -`,
 * stdout). Refused (exit 2):
 * an empty name, an input of the command (same file, by realpath or device and inode), a
 * folder, a missing folder or a file used as a folder. Failed (exit 1): a folder that cannot
 * be written (read-only file system, permissions).
 *
 * @throws SatrnnError `BAD_OPTION` or `WRITE_FAILED`
 */
export function checkOutput(file: string, inputs: Inputs = []): OutputTarget | undefined {
  if (file === '-') return undefined; // stdout
  if (file === '') throw new SatrnnError('BAD_OPTION', 'cannot write to an empty file name (-o)');
  const target = followLinks(file);
  let existing: Stats | undefined;
  try {
    existing = statSync(target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOENT, ENOTDIR: no such file yet (the folder checks below say why if it cannot be made)
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new SatrnnError('WRITE_FAILED', `cannot write ${file}: ${errnoText(err)}`, { cause: err });
  }
  if (existing?.isDirectory()) throw new SatrnnError('BAD_OPTION', `cannot write ${file}: it is a folder (give -o a file name)`);
  for (const input of inputs) {
    if (input === undefined || input === '' || input === '-') continue;
    const st = statOf(input);
    const same = existing && st ? existing.dev === st.dev && existing.ino === st.ino : target === followLinks(input);
    if (same) throw new SatrnnError('BAD_OPTION', `refusing to write ${file}: it is the input ${input}; choose another output file`);
  }
  const direct = existing !== undefined && !existing.isFile();
  if (!direct) {
    const dir = path.dirname(target);
    const dirStat = statOf(dir);
    if (!dirStat) {
      // Which is it: a folder that does not exist, or a file where a folder should be?
      let p = dir;
      while (!statOf(p) && path.dirname(p) !== p) p = path.dirname(p);
      if (statOf(p)?.isDirectory() !== false) throw new SatrnnError('BAD_OPTION', `cannot write ${file}: folder ${path.dirname(file)} does not exist`);
      throw new SatrnnError('BAD_OPTION', `cannot write ${file}: ${p} is not a folder`);
    }
    if (!dirStat.isDirectory()) throw new SatrnnError('BAD_OPTION', `cannot write ${file}: ${path.dirname(file)} is not a folder`);
    // The temp file goes beside the output: its folder must take new files.
    try {
      accessSync(dir, constants.W_OK);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'EACCES' ? `permission denied (folder ${path.dirname(file)} is not writable: satrnn writes a temp file beside the output, then renames it)` : errnoText(err);
      throw new SatrnnError('WRITE_FAILED', `cannot write ${file}: ${why}`, { cause: err });
    }
  }
  return { path: target, existing, direct };
}

/**
 * Writes `bytes` to `file` whole or not at all: a temp file in the same folder, fsync, then a
 * rename over `file` (which keeps its permissions). On failure the temp file is removed and
 * `file` is left as it was. Devices and FIFOs are written directly.
 *
 * @param inputs - files `file` may not be (see {@link checkOutput})
 * @throws SatrnnError `BAD_OPTION` (see {@link checkOutput}) or `WRITE_FAILED`
 */
export function writeFileAtomic(file: string, bytes: Uint8Array, inputs: Inputs = []): void {
  const t = checkOutput(file, inputs);
  if (!t) {
    writeStdout(bytes);
    return;
  }
  if (t.direct) {
    let fd: number | undefined;
    try {
      fd = openSync(t.path, 'w');
      writeAll(fd, bytes);
    } catch (err) {
      throw new SatrnnError('WRITE_FAILED', `cannot write ${file}: ${errnoText(err)}`, { cause: err });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return;
  }
  try {
    replaceFile(t.path, bytes, t.existing);
  } catch (err) {
    throw new SatrnnError('WRITE_FAILED', `cannot write ${file}: ${errnoText(err)}${t.existing ? ' (the existing file is unchanged)' : ''}`, { cause: err });
  }
}

/**
 * Writes a command's output to a file (`-o`: whole or not at all, never over one of `inputs`)
 * or to stdout (no `-o`, or `-o -`).
 *
 * @param inputs - the command's input files (models, with folders expanded, and data)
 */
export function emit(text: string, outFile?: string, inputs: Inputs = []): void {
  if (outFile === undefined || outFile === '-') writeStdout(text);
  else writeFileAtomic(outFile, Buffer.from(text), inputs);
}

/** A one-line warning on stderr. */
export function warn(message: string): void {
  process.stderr.write(`satrnn: warning: ${message}\n`);
}

// --- stdout and stderr: errors recorded, never thrown ---------------------------------------
//
// Results go to fd 1 with write(2) directly while nothing has made `process.stdout`: creating
// that stream loads Node's stream (and, for a pipe, net) modules, ~4 ms of a ~200 ms run. A
// blocking fd (a file, a terminal, a pipe as a shell or a spawning parent hands it over) takes
// each write whole, in order. A pipe left non-blocking by another process answers EAGAIN when
// full: the rest then goes through the stream, which waits for the reader, and so does every
// later write (one path at a time keeps the order).

let stdoutFailure: NodeJS.ErrnoException | undefined;
let stdoutStream: NodeJS.WriteStream | undefined;
let guarded = false;

/**
 * Runs `attach` on process[name] when something first creates that stream (Node makes the
 * stdio streams lazily, through a getter), or now if the getter cannot be wrapped.
 */
function whenCreated(name: 'stdout' | 'stderr', attach: (s: NodeJS.WriteStream) => void): void {
  const d = Object.getOwnPropertyDescriptor(process, name);
  const get = d?.get;
  if (!get || !d.configurable) {
    attach(process[name]);
    return;
  }
  let made = false;
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: d.enumerable ?? true,
    get() {
      const s = get.call(process) as NodeJS.WriteStream;
      if (!made) {
        made = true;
        attach(s);
      }
      return s;
    },
  });
}

/**
 * Catches write errors on stdout and stderr (a closed pipe, a full device) so that they never
 * surface as an unhandled 'error' event, whoever writes (satrnn, commander, Node's warnings):
 * stdout's first error is kept for {@link flushStdout}; stderr's are dropped (there is nowhere
 * left to report them). The guards attach when each stream is first made.
 */
export function guardStdio(): void {
  if (guarded) return;
  guarded = true;
  whenCreated('stdout', (s) => {
    stdoutStream = s;
    s.on('error', (err: NodeJS.ErrnoException) => {
      stdoutFailure ??= err;
    });
  });
  whenCreated('stderr', (s) => s.on('error', () => {}));
}

function writeStdout(text: string | Uint8Array): void {
  guardStdio();
  if (stdoutFailure) return; // the reader has gone: drop the rest
  let rest: string | Uint8Array = text;
  if (!stdoutStream) {
    const bytes = typeof text === 'string' ? Buffer.from(text) : text;
    let off = 0;
    try {
      while (off < bytes.length) off += writeSync(1, bytes, off, bytes.length - off);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
        stdoutFailure = err as NodeJS.ErrnoException;
        return;
      }
      rest = bytes.subarray(off);
    }
  }
  const out = process.stdout; // (made here at the latest: guarded, and stdoutStream from now on)
  if (stdoutFailure || out.destroyed) return;
  out.write(rest, (err) => {
    if (err) stdoutFailure ??= err;
  });
}

/**
 * Waits until everything written to stdout has reached the pipe, file or terminal (or failed).
 *
 * @returns the first error writing stdout, if any (`EPIPE`: the reader closed the pipe)
 */
export async function flushStdout(): Promise<NodeJS.ErrnoException | undefined> {
  const out = stdoutStream;
  if (!out) return stdoutFailure; // only direct writes, each complete when it returned
  // A file or device stdout writes synchronously and reports its error on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
  if (stdoutFailure || out.destroyed || out.writableLength === 0) return stdoutFailure;
  return new Promise((resolve) => {
    out.write('', (err) => resolve(stdoutFailure ?? (err as NodeJS.ErrnoException | null | undefined) ?? undefined));
  });
}
