import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { BackendChoice } from '../engine/index.js';
import { checkData } from '../data.js';
import type { TextSource } from '../engine/source.js';
import { SatrnnError } from '../errors.js';
import { MAX_TEXT_BYTES, inputError, kindError, readInputBlocks, readInputWhole, statInput } from '../io.js';

export interface BackendFlags {
  backend?: string;
  isa?: string;
  threads?: number;
}

/** The backend the flags choose (--isa implies the native backend). */
export function backendOptions(f: BackendFlags): BackendChoice {
  if (f.backend !== undefined && f.backend !== 'native' && f.backend !== 'js')
    throw new SatrnnError('BAD_OPTION', `--backend must be native or js (got '${f.backend}')`);
  const threads = f.threads !== undefined ? { threads: f.threads } : {};
  if (f.isa !== undefined) {
    if (f.isa !== 'avx512' && f.isa !== 'avx2' && f.isa !== 'sse2' && f.isa !== 'scalar') throw new SatrnnError('BAD_OPTION', `--isa must be avx512, avx2, sse2 or scalar (got '${f.isa}')`);
    if (f.backend === 'js') throw new SatrnnError('BAD_OPTION', '--isa chooses a native code path; it cannot be combined with --backend js');
    return { name: 'native', isa: f.isa, ...threads };
  }
  return f.backend === 'native' ? { name: 'native', ...threads } : f.backend === 'js' ? { name: 'js', ...threads } : threads;
}

/** The flags every computing command takes: --backend, --isa, --threads (`threadsHelp` says what threads do there). */
export function addBackendOptions(cmd: Command, threadsHelp = 'worker threads (native threads or js worker_threads; default: all cores)'): Command {
  return cmd
    .addOption(new Option('--backend <name>', 'native or js (default: native when it loads)'))
    .addOption(new Option('--isa <isa>', 'native code path: avx512, avx2, sse2 or scalar (portable loops); default: the best available'))
    .addOption(new Option('--threads <n>', threadsHelp).argParser(parseIntOption(1, 256)));
}

export function parseIntOption(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** Writes output to a file (-o) or stdout. */
export { emit, warn } from './output.js';

/** Aborted by Ctrl-C (SIGINT) while a CLI command runs; commands pass it to long work. */
export const interrupt = new AbortController();

/** Expands folders given as --model into their *.bin files (sorted by name). */
export function expandModelPaths(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      // a missing file (or a link loop, …) is reported by the loader, with its role
    }
    if (!isDir) {
      out.push(p);
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(p);
    } catch (err) {
      throw inputError(err, p, 'model folder');
    }
    const files = names
      .filter((f) => f.endsWith('.bin'))
      .sort()
      .map((f) => path.join(p, f));
    if (files.length === 0) throw new SatrnnError('BAD_OPTION', `model folder ${p} contains no .bin files`);
    out.push(...files);
  }
  return out;
}

/** The data text of an analysis command, as {@link openDataSource} opened it. */
export interface DataSource {
  /** The text to analyse: a regular file's path, or a stream that can be read once. */
  readonly data: TextSource;
  /** The data as messages and provenance name it: the path, or `<stdin>` for `-`. */
  readonly label: string;
  /** Its length in bytes (for a stream read once: known after that read). */
  readonly bytes: number;
  /** Its SHA-256, hex (for a stream read once: known after that read). */
  readonly sha256: string;
  /** Removes a temporary copy of a stream, if one was made. */
  cleanup(): void;
}

/** What to do with an endless or interactive device, in messages. */
const DEVICE_HINT = (file: string, command: string): string => `to analyse a part of it, pipe that part to stdin: head -c 1000000 ${file} | satrnn ${command} -d -`;

/**
 * The data of a command that reads texts of any length, never holding it whole in memory.
 *
 * - A regular file is read as its path, once per pass; its size (stat) and sha256 (one
 *   streaming pass, checking `opts.signal` between blocks) are known before the analysis.
 * - `-` (stdin) and FIFOs are streams, read once: with `passes` 1 the analysis reads the
 *   stream itself (bounded memory, any length; an endless stream runs until Ctrl-C), and
 *   its size and sha256 are known after that pass; with more passes the stream is first
 *   copied to a temporary file (interruptible; `cleanup` removes it).
 * - Devices (/dev/zero, /dev/urandom, a terminal by path) are refused: they may never end.
 *   Pipe a part of one to `-d -`.
 *
 * @param opts - `passes`: how many times the text will be read (default 1); `signal`: Ctrl-C;
 *   `command`: the command's name, for messages
 * @throws SatrnnError `FILE_NOT_FOUND`, `FILE_UNREADABLE`, `DATA_TOO_SHORT` (fewer than 2
 *   bytes: at once for a file, at the end of the pass for a stream), `ABORTED`
 */
export async function openDataSource(file: string, opts: { passes?: number; signal?: AbortSignal; command?: string } = {}): Promise<DataSource> {
  const { signal } = opts;
  const label = file === '-' ? '<stdin>' : file;
  const tooShort = (n: number): SatrnnError =>
    new SatrnnError('DATA_TOO_SHORT', `${label}: ${n} byte${n === 1 ? '' : 's'} of data; at least 2 needed (n - 1 predictions are scored)`);
  let isStream = file === '-';
  if (!isStream) {
    const st = statInput(file, 'data');
    if (st.isFIFO()) isStream = true;
    else if (!st.isFile()) throw kindError(file, 'data', st, 'a regular file or a FIFO', DEVICE_HINT(file, opts.command ?? '<command>'));
    else if (st.size < 2) throw tooShort(st.size);
  }
  if (!isStream) {
    const h = createHash('sha256');
    let bytes = 0;
    for await (const b of readInputBlocks(file, 'data', { signal })) {
      h.update(b);
      bytes += b.length;
    }
    if (bytes < 2) throw tooShort(bytes);
    return { data: file, label, bytes, sha256: h.digest('hex'), cleanup: () => {} };
  }
  if ((opts.passes ?? 1) <= 1) {
    // One pass: the analysis reads the stream itself, hashing it on the way.
    let result: { bytes: number; sha256: string } | undefined;
    let used = false;
    const once = (): AsyncIterable<Uint8Array> => {
      if (used) throw new SatrnnError('INTERNAL', `${label} is a stream and can be read only once`);
      used = true;
      return (async function* () {
        const h = createHash('sha256');
        let n = 0;
        for await (const b of readInputBlocks(file, 'data', { signal, streams: true })) {
          h.update(b);
          n += b.length;
          yield b;
        }
        if (n < 2) throw tooShort(n);
        result = { bytes: n, sha256: h.digest('hex') };
      })();
    };
    const known = (): { bytes: number; sha256: string } => {
      if (!result) throw new SatrnnError('INTERNAL', `the size and sha256 of ${label} are known after it has been read`);
      return result;
    };
    return {
      data: once,
      label,
      get bytes() {
        return known().bytes;
      },
      get sha256() {
        return known().sha256;
      },
      cleanup: () => {},
    };
  }
  // Several passes: copy the stream to a temporary file first (disk, not memory).
  const dir = mkdtempSync(path.join(os.tmpdir(), 'satrnn-stdin-'));
  const p = path.join(dir, 'stdin.bin');
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  const h = createHash('sha256');
  let bytes = 0;
  try {
    const out = await open(p, 'w');
    try {
      for await (const b of readInputBlocks(file, 'data', { signal, streams: true })) {
        h.update(b);
        bytes += b.length;
        await out.write(b);
      }
    } finally {
      await out.close();
    }
  } catch (err) {
    cleanup();
    if (err instanceof SatrnnError) throw err;
    throw new SatrnnError('WRITE_FAILED', `cannot copy ${label} to a temporary file in ${os.tmpdir()}: ${(err as Error).message}`, { cause: err });
  }
  if (bytes < 2) {
    cleanup();
    throw tooShort(bytes);
  }
  return { data: p, label, bytes, sha256: h.digest('hex'), cleanup };
}

/**
 * A training text, whole in memory (training needs it there): a regular file, stdin (`-`)
 * or a FIFO, read in blocks (Ctrl-C stops the read), at most {@link MAX_TEXT_BYTES} (1 GiB):
 * a larger file is refused before reading, a longer stream when it passes the limit.
 * Devices (/dev/zero, /dev/urandom) are refused.
 *
 * @throws SatrnnError `FILE_NOT_FOUND`, `FILE_UNREADABLE`, `DATA_TOO_SHORT`, `ABORTED`
 */
export async function readTrainingText(file: string, signal?: AbortSignal): Promise<Uint8Array> {
  const label = file === '-' ? '<stdin>' : file;
  const data = await readInputWhole(file, 'data', {
    signal,
    streams: true,
    hint: `train on a part of it: head -c ${MAX_TEXT_BYTES} ${file === '-' ? 'FILE' : file} | satrnn train -d -`,
  });
  return checkData(data, label);
}
