import os from 'node:os';
import { SatrnnError } from '../errors.js';
import { JsBackend } from './js/index.js';
import { NativeBackend, loadAddon, nativeLoadError } from './native.js';
import type { Backend, BackendName } from './types.js';

export type { Backend, BackendName, ChunkGroup, ChunkRequest, ChunkResult, Isa, ReadoutMethod, RunOptions, StatsAccumulators, TrainEpochParams } from './types.js';
export { JsBackend } from './js/index.js';
export { NativeBackend, loadAddon, nativeAddonFile, nativeLoadError, type NativeIsa } from './native.js';
import type { NativeIsa } from './native.js';

/** Every native code path, best first. */
const NATIVE_ISAS = ['avx512', 'avx2', 'sse2', 'scalar'] as const;

/**
 * Which backend to use. A name alone (`'native'`, `'js'`, `'auto'`) or an object whose
 * `name` decides which other fields exist: only the native backend has an ISA.
 * - `'auto'` (the default): SATRNN_BACKEND, else native when the addon loads, else js.
 * - `threads`: worker threads for batches (native threads or js worker_threads); default
 *   SATRNN_THREADS, else all cores. Results never depend on it.
 * - `isa` (native only): 'avx512', 'avx2', 'sse2' or 'scalar' (portable loops); default
 *   SATRNN_ISA, else the best the CPU has (avx512, then avx2, sse2, scalar). Every ISA gives
 *   the same bits.
 */
export type BackendChoice =
  | 'auto'
  | BackendName
  | {
      /** Native when the addon loads, else js (SATRNN_BACKEND decides when set). */
      readonly name?: 'auto';
      /** Worker threads (default SATRNN_THREADS, else all cores). */
      readonly threads?: number;
    }
  | {
      /** The C++ addon (an error when it is not available). */
      readonly name: 'native';
      /** Its code path (default SATRNN_ISA, else the best the CPU has). */
      readonly isa?: NativeIsa;
      /** Native threads (default SATRNN_THREADS, else all cores). */
      readonly threads?: number;
    }
  | {
      /** The pure TypeScript backend. */
      readonly name: 'js';
      /** worker_threads (default SATRNN_THREADS, else all cores). */
      readonly threads?: number;
    };

function envChoice<T extends string>(name: string, allowed: readonly T[]): T | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  if (!(allowed as readonly string[]).includes(v))
    throw new SatrnnError('BAD_OPTION', `${name}=${v} is not valid; use one of: ${allowed.join(', ')}`);
  return v as T;
}

/** Picks a backend: explicit choice > environment > native when it loads > js. */
export function selectBackend(choice: BackendChoice = 'auto'): Backend {
  const o: { name?: string; isa?: string; threads?: number } =
    typeof choice === 'string' ? { name: choice } : choice !== null && typeof choice === 'object' ? choice : { name: String(choice) };
  const name = o.name === undefined || o.name === 'auto' ? envChoice('SATRNN_BACKEND', ['native', 'js'] as const) : o.name;
  if (name !== undefined && name !== 'native' && name !== 'js')
    throw new SatrnnError('BAD_OPTION', `unknown backend '${String(name)}'; use 'native', 'js' or 'auto'`);
  if (o.isa !== undefined && name !== 'native')
    throw new SatrnnError('BAD_OPTION', `an ISA (${String(o.isa)}) only exists for the native backend; use { name: 'native', isa: '${String(o.isa)}' }`);
  let threads = o.threads;
  if (threads === undefined && process.env.SATRNN_THREADS) threads = Number(process.env.SATRNN_THREADS);
  threads ??= Math.max(1, os.availableParallelism());
  if (!Number.isInteger(threads) || threads < 1 || threads > 256)
    throw new SatrnnError('BAD_OPTION', `threads must be an integer from 1 to 256 (got ${threads})`);
  if (name === 'js') return new JsBackend(threads);
  const addon = loadAddon();
  if (!addon) {
    // SATRNN_ADDON asks for one specific build: never fall back to js behind its back.
    if (name === 'native' || process.env.SATRNN_ADDON)
      throw new SatrnnError('BACKEND_UNAVAILABLE', `the native backend is not available: ${nativeLoadError()}`);
    return new JsBackend(threads);
  }
  const info = addon.info();
  // (An addon built before AVX-512 existed has no `avx512` field: not available.)
  const available = (isa: NativeIsa): boolean => isa === 'scalar' || info[isa] === true;
  const best = NATIVE_ISAS.find(available)!;
  const isa = o.isa ?? envChoice('SATRNN_ISA', NATIVE_ISAS) ?? best;
  if (!(NATIVE_ISAS as readonly string[]).includes(isa)) throw new SatrnnError('BAD_OPTION', `unknown ISA '${String(isa)}'; use ${NATIVE_ISAS.join(', ')}`);
  if (!available(isa as NativeIsa))
    throw new SatrnnError('BACKEND_UNAVAILABLE', `${isa} was requested but this CPU (or this build) does not have it; use SATRNN_ISA=${best}, the best it has`);
  return new NativeBackend(addon, isa as NativeIsa, threads);
}

/** A ready backend as is, or one selected from options. */
export function resolveBackend(b: Backend | BackendChoice | undefined): Backend {
  return b !== null && typeof b === 'object' && typeof (b as Backend).runChunk === 'function' ? (b as Backend) : selectBackend(b as BackendChoice | undefined);
}
