import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { BackendChoice } from '../engine/index.js';
import { SatrnnError } from '../errors.js';

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
    if (f.isa !== 'avx2' && f.isa !== 'sse2' && f.isa !== 'scalar') throw new SatrnnError('BAD_OPTION', `--isa must be avx2, sse2 or scalar (got '${f.isa}')`);
    if (f.backend === 'js') throw new SatrnnError('BAD_OPTION', '--isa chooses a native code path; it cannot be combined with --backend js');
    return { name: 'native', isa: f.isa, ...threads };
  }
  return f.backend === 'native' ? { name: 'native', ...threads } : f.backend === 'js' ? { name: 'js', ...threads } : threads;
}

/** The flags every computing command takes: --backend, --isa, --threads (`threadsHelp` says what threads do there). */
export function addBackendOptions(cmd: Command, threadsHelp = 'worker threads (native threads or js worker_threads; default: all cores)'): Command {
  return cmd
    .addOption(new Option('--backend <name>', 'native or js (default: native when it loads)'))
    .addOption(new Option('--isa <isa>', 'native code path: avx2, sse2 or scalar (portable loops); default: the best available'))
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
      // a missing file is reported by the loader, with its role
    }
    if (!isDir) {
      out.push(p);
      continue;
    }
    const files = readdirSync(p)
      .filter((f) => f.endsWith('.bin'))
      .sort()
      .map((f) => path.join(p, f));
    if (files.length === 0) throw new SatrnnError('BAD_OPTION', `model folder ${p} contains no .bin files`);
    out.push(...files);
  }
  return out;
}

/**
 * A data file for commands that read texts of any length: never read whole. Its size and
 * sha256 (for provenance) come from one streaming pass; `-` spills stdin to a temp file
 * first (experiments make several passes over their text). `cleanup` removes the spill.
 */
export async function openDataSource(file: string): Promise<{ path: string; bytes: number; sha256: string; cleanup: () => void }> {
  let p = file;
  let cleanup = (): void => {};
  if (file === '-') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'satrnn-stdin-'));
    p = path.join(dir, 'stdin.bin');
    cleanup = () => rmSync(dir, { recursive: true, force: true });
    try {
      await pipeline(process.stdin, createWriteStream(p));
    } catch (err) {
      cleanup();
      throw new SatrnnError('FILE_UNREADABLE', `cannot read the data from stdin: ${(err as Error).message}`);
    }
  } else {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new SatrnnError('FILE_NOT_FOUND', `data file not found: ${p}`);
    }
    if (st.isDirectory()) throw new SatrnnError('FILE_UNREADABLE', `data path is a folder, not a file: ${p}`);
  }
  const h = createHash('sha256');
  let bytes = 0;
  try {
    for await (const b of createReadStream(p, { highWaterMark: 1 << 20 })) {
      h.update(b as Buffer);
      bytes += (b as Buffer).length;
    }
  } catch (err) {
    cleanup();
    throw new SatrnnError('FILE_UNREADABLE', `cannot read data file ${file}: ${(err as Error).message}`);
  }
  if (bytes < 2) {
    cleanup();
    throw new SatrnnError('DATA_TOO_SHORT', `${file === '-' ? '<stdin>' : file}: ${bytes} byte${bytes === 1 ? '' : 's'} of data; at least 2 needed (n - 1 predictions are scored)`);
  }
  return { path: p, bytes, sha256: h.digest('hex'), cleanup };
}
