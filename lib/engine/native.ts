import { existsSync } from 'node:fs';
import path from 'node:path';
import { SatrnnError, abortError, throwIfAborted } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { Backend, ChunkRequest, ChunkResult, ReadoutStats, RunOptions, TrainEpochParams } from './types.js';
import { checkReadoutArrays } from './model-stats.js';

/** Opaque native handle (a tagged External). */
export type FastWorkspace = { readonly __brand: 'FastWorkspace' };

/**
 * The addon's raw surface (native/napi/bind_*.cc). Every async call copies its arrays at the
 * call and copies its outputs back when it settles (an output detached meanwhile: a
 * TypeError rejection); arrays on a SharedArrayBuffer are used in place, and `cancel` must
 * be one (native/napi/args.h "Memory of async jobs").
 */
export interface NativeAddon {
  info(): { avx2Compiled: boolean; avx2: boolean; avx512: boolean; sse2: boolean; fastTraining: boolean; hardwareThreads: number; napiVersion: number; sanitized: boolean };
  run(
    o: Omit<ChunkRequest, 'method'> & { method: number; isa: number; threads: number; cancel?: Int32Array },
    onProgress?: (done: number, total: number) => void,
  ): Promise<{ certified: boolean; fallbacks: number; work: number }>;
  readoutStats(Wy: Float32Array, by: Float32Array): ReadoutStats;
  mathF32(name: string, input: Float32Array): Float32Array;
  mathF64(name: string, input: Float64Array): Float64Array;
  checksumF32(name: string): Promise<string>;
  trainEpoch(o: {
    weights: Float32Array;
    hidden: number;
    data: Uint8Array;
    lr: number;
    lrPeak: number;
    bptt: number;
    clip: number;
    isa: number;
    /** Fast kernels only: 1 = calling thread, 2+ = with a helper thread. */
    threads?: number;
    cancel?: Int32Array;
    fast?: FastWorkspace;
  }): Promise<number>;
  evalBpc(o: { weights: Float32Array; hidden: number; data: Uint8Array; isa: number; threads?: number; fast?: FastWorkspace }): Promise<number>;
  /** Scratch memory + helper thread of the fast trainer; null without AVX2+FMA. */
  createFastWorkspace(): FastWorkspace | null;
}

/**
 * Native code paths, all bit-identical: 'avx512' (the readout's logit sums and softmax on
 * AVX-512, every other kernel on AVX2), 'avx2', 'sse2', or the portable C++ loops ('scalar').
 */
export type NativeIsa = 'avx512' | 'avx2' | 'sse2' | 'scalar';
/** The addon's ISA codes (native/core/cpu.h). */
const ISA_CODE: Readonly<Record<NativeIsa, number>> = { scalar: 0, avx2: 1, sse2: 2, avx512: 3 };

/**
 * Calls the addon: argument errors (thrown synchronously as TypeError/RangeError) become
 * BAD_OPTION, and so does a job rejected with a TypeError/RangeError (an output array was
 * detached or resized while it ran: native/napi/args.h "Memory of async jobs"); a
 * cancelled job ABORTED, any other failure INTERNAL.
 */
async function callNative<T>(what: string, signal: AbortSignal | undefined, fn: (cancel: Int32Array) => Promise<T>): Promise<T> {
  throwIfAborted(signal);
  const cancel = new Int32Array(new SharedArrayBuffer(4));
  const onAbort = (): void => {
    Atomics.store(cancel, 0, 1);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let pending: Promise<T>;
    try {
      pending = fn(cancel);
    } catch (err) {
      throw new SatrnnError('BAD_OPTION', `${what}: ${(err as Error).message.replace(/^satrnn native: /, '')}`, { cause: err });
    }
    return await pending;
  } catch (err) {
    if (err instanceof SatrnnError) throw err;
    if (signal?.aborted || (err as Error)?.message === 'aborted') throw abortError();
    if (err instanceof TypeError || err instanceof RangeError)
      throw new SatrnnError('BAD_OPTION', `${what}: ${err.message.replace(/^satrnn native: /, '')}`, { cause: err });
    throw new SatrnnError('INTERNAL', `native ${what} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

let cached: { addon: NativeAddon | null; error: string | null; file?: string } | undefined;

/**
 * Candidate addon files: SATRNN_ADDON alone when it is set (it names one specific build,
 * e.g. the sanitizer build: falling back to another would silently test the wrong one),
 * else the normal builds.
 */
function candidates(): string[] {
  if (process.env.SATRNN_ADDON) return [path.resolve(process.env.SATRNN_ADDON)];
  const list: string[] = [];
  list.push(path.join(packageRoot, 'build', 'Release', 'satrnn.node'));
  list.push(path.join(packageRoot, 'build', 'Debug', 'satrnn.node'));
  return list;
}

/** Loads the addon once; returns null (with the reason in nativeLoadError()) if it cannot. */
export function loadAddon(): NativeAddon | null {
  if (cached) return cached.addon;
  let error = 'no built addon found (run `npm run build:addon`)';
  for (const file of candidates()) {
    if (!existsSync(file)) {
      if (process.env.SATRNN_ADDON) error = `SATRNN_ADDON=${process.env.SATRNN_ADDON}: no such file ${file}`;
      continue;
    }
    try {
      // What require() does for a .node file, without the CommonJS loader around it.
      const mod = { exports: {} as NativeAddon };
      process.dlopen(mod, path.toNamespacedPath(file));
      const addon = mod.exports;
      addon.info();
      cached = { addon, error: null, file };
      return addon;
    } catch (err) {
      error = `cannot load ${file}: ${(err as Error).message}`;
      break;
    }
  }
  cached = { addon: null, error };
  return null;
}

/** The addon file that was loaded, if any. */
export function nativeAddonFile(): string | undefined {
  loadAddon();
  return cached?.file;
}

export function nativeLoadError(): string | null {
  loadAddon();
  return cached?.error ?? null;
}

export class NativeBackend implements Backend {
  readonly name = 'native' as const;
  readonly isa: NativeIsa;
  readonly threads: number;
  private readonly addon: NativeAddon;

  constructor(addon: NativeAddon, isa: NativeIsa, threads: number) {
    this.addon = addon;
    this.isa = isa;
    this.threads = threads;
  }

  private get isaCode(): number {
    return ISA_CODE[this.isa];
  }

  /** Whether this code path runs on an AVX2 CPU (avx512's CPUs all have AVX2; the fast trainer needs it). */
  private get hasAvx2(): boolean {
    return this.isa === 'avx2' || this.isa === 'avx512';
  }

  async runChunk(req: ChunkRequest, opts: RunOptions = {}): Promise<ChunkResult> {
    const { method, ...rest } = req;
    const r = await callNative('engine run', opts.signal, (cancel) =>
      this.addon.run({ ...rest, method: method === 'ordered' ? 0 : 1, isa: this.isaCode, threads: this.threads, cancel }, opts.onProgress),
    );
    opts.onProgress?.(r.work, r.work); // the watcher reports while running; this is the end
    return { certified: r.certified, fallbacks: r.fallbacks };
  }

  /** Idle fast-trainer workspaces; one per concurrent call, reused across epochs. */
  private readonly workspaces: FastWorkspace[] = [];

  get fastTraining(): boolean {
    return this.hasAvx2 && this.addon.info().fastTraining;
  }

  /** Per-model readout statistics (one native pass; the same doubles as the TypeScript loops). */
  readoutStats(Wy: Float32Array, by: Float32Array): ReadoutStats {
    checkReadoutArrays(Wy, by);
    return this.addon.readoutStats(Wy, by);
  }

  private withWorkspace<T>(fast: boolean | undefined, fn: (ws: FastWorkspace | undefined) => T): T {
    if (!fast) return fn(undefined);
    const ws = this.workspaces.pop() ?? this.addon.createFastWorkspace() ?? undefined;
    const release = (): void => {
      if (ws) this.workspaces.push(ws);
    };
    let out: T;
    try {
      out = fn(ws);
    } catch (err) {
      release();
      throw err;
    }
    if (out instanceof Promise) return out.finally(release) as T;
    release();
    return out;
  }

  trainEpoch(weights: Float32Array, hidden: number, data: Uint8Array, epochLr: number, params: TrainEpochParams, signal?: AbortSignal): Promise<number> {
    const { fast, bptt, clip } = params;
    return callNative('trainEpoch', signal, (cancel) =>
      this.withWorkspace(fast && this.hasAvx2, (ws) =>
        this.addon.trainEpoch({ weights, hidden, data, lr: epochLr, lrPeak: params.lr, bptt, clip, isa: this.isaCode, cancel, ...(ws ? { fast: ws, threads: this.threads } : {}) }),
      ),
    );
  }

  evalBpc(weights: Float32Array, hidden: number, data: Uint8Array, opts: { fast?: boolean } = {}): Promise<number> {
    return callNative('evalBpc', undefined, () =>
      this.withWorkspace(opts.fast && this.hasAvx2, (ws) =>
        this.addon.evalBpc({ weights, hidden, data, isa: this.isaCode, ...(ws ? { fast: ws, threads: this.threads } : {}) }),
      ),
    );
  }
}
