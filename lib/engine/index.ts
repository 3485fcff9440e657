import os from 'node:os';
import { SatrnnError } from '../errors.js';
import { JsBackend } from './js/index.js';
import { NativeBackend, loadAddon, nativeLoadError, type NativeIsa } from './native.js';
import type { Backend, BackendName } from './types.js';

export type { Backend, BackendName, ChunkGroup, ChunkRequest, ChunkResult, Isa, ReadoutMethod, RunOptions, StatsAccumulators, TrainEpochParams } from './types.js';
export { JsBackend } from './js/index.js';
export { NativeBackend, loadAddon, nativeAddonFile, nativeLoadError } from './native.js';

export interface BackendOptions {
  /** 'native' or 'js'; default: SATRNN_BACKEND, else native when the addon loads, else js. */
  backend?: BackendName;
  /** Native code path: 'avx2', 'sse2' or 'scalar' (portable loops); default: SATRNN_ISA, else the best the CPU has. */
  isa?: NativeIsa;
  /** Worker threads for batches (native threads or js worker_threads); default: SATRNN_THREADS, else all cores. */
  threads?: number;
}

function envChoice<T extends string>(name: string, allowed: readonly T[]): T | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  if (!(allowed as readonly string[]).includes(v))
    throw new SatrnnError('BAD_OPTION', `${name}=${v} is not valid; use one of: ${allowed.join(', ')}`);
  return v as T;
}

/** Picks a backend: explicit option > environment > native when it loads > js. */
export function selectBackend(opts: BackendOptions = {}): Backend {
  const requested = opts.backend ?? envChoice('SATRNN_BACKEND', ['native', 'js'] as const);
  if (requested !== undefined && requested !== 'native' && requested !== 'js')
    throw new SatrnnError('BAD_OPTION', `unknown backend '${String(requested)}'; use native or js`);
  let threads = opts.threads;
  if (threads === undefined && process.env.SATRNN_THREADS) threads = Number(process.env.SATRNN_THREADS);
  threads ??= Math.max(1, os.availableParallelism());
  if (!Number.isInteger(threads) || threads < 1 || threads > 256)
    throw new SatrnnError('BAD_OPTION', `threads must be an integer from 1 to 256 (got ${threads})`);
  if (requested === 'js') return new JsBackend(threads);
  const addon = loadAddon();
  if (!addon) {
    if (requested === 'native')
      throw new SatrnnError('BACKEND_UNAVAILABLE', `the native backend is not available: ${nativeLoadError()}`);
    return new JsBackend(threads);
  }
  const info = addon.info();
  const isa = opts.isa ?? envChoice('SATRNN_ISA', ['avx2', 'sse2', 'scalar'] as const) ?? (info.avx2 ? 'avx2' : info.sse2 ? 'sse2' : 'scalar');
  if (isa !== 'avx2' && isa !== 'sse2' && isa !== 'scalar') throw new SatrnnError('BAD_OPTION', `unknown ISA '${String(isa)}'; use avx2, sse2 or scalar`);
  if ((isa === 'avx2' && !info.avx2) || (isa === 'sse2' && !info.sse2))
    throw new SatrnnError('BACKEND_UNAVAILABLE', `${isa} was requested but this CPU (or this build) does not have it; use SATRNN_ISA=scalar`);
  return new NativeBackend(addon, isa, threads);
}

/** A ready backend as is, or one selected from options. */
export function resolveBackend(b: Backend | BackendOptions | undefined): Backend {
  return b !== undefined && typeof (b as Backend).runChunk === 'function' ? (b as Backend) : selectBackend(b as BackendOptions | undefined);
}
