import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SatrnnError, abortError, throwIfAborted } from '../errors.js';
import type { Model } from '../model.js';
import type { Backend, ReadoutRequest, ReadoutResult, RunOptions, TrainEpochParams, Trajectory } from './types.js';

/** Opaque native handle (a tagged External). */
export type FastWorkspace = { readonly __brand: 'FastWorkspace' };

/** The addon's raw surface (native/addon.cc). */
export interface NativeAddon {
  info(): { avx2Compiled: boolean; avx2: boolean; fastTraining: boolean; hardwareThreads: number; napiVersion: number; sanitized: boolean };
  forward(o: { weights: Float32Array; hidden: number; bytes: Uint8Array; h0?: Float32Array; isa: number }): Promise<Float32Array>;
  readout(
    o: {
      weights: Float32Array;
      hidden: number;
      states: Float32Array;
      targets: Uint8Array;
      keep: Uint8Array;
      snap?: Uint8Array;
      bits?: boolean;
      isa: number;
      method: number;
      threads: number;
      cancel?: Int32Array;
    },
    onProgress?: (done: number, total: number) => void,
  ): Promise<{ mean: Float64Array; bits?: Float64Array; method: 'ordered' | 'certified'; fallbacks: number }>;
  mathF32(name: string, input: Float32Array): Float32Array;
  mathF64(name: string, input: Float64Array): Float64Array;
  checksumF32(name: string): Promise<string>;
  trainInit(o: { hidden: number; seed: number }): Float32Array;
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

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let cached: { addon: NativeAddon | null; error: string | null; file?: string } | undefined;

/** Candidate addon files: SATRNN_ADDON (e.g. a sanitizer build) first, then the normal builds. */
function candidates(): string[] {
  const list: string[] = [];
  if (process.env.SATRNN_ADDON) list.push(path.resolve(process.env.SATRNN_ADDON));
  list.push(path.join(packageRoot, 'build', 'Release', 'satrnn.node'));
  list.push(path.join(packageRoot, 'build', 'Debug', 'satrnn.node'));
  return list;
}

/** Loads the addon once; returns null (with the reason in nativeLoadError()) if it cannot. */
export function loadAddon(): NativeAddon | null {
  if (cached) return cached.addon;
  const require = createRequire(import.meta.url);
  let error = 'no built addon found (run `npm run build:addon`)';
  for (const file of candidates()) {
    if (!existsSync(file)) continue;
    try {
      const addon = require(file) as NativeAddon;
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
  readonly isa: 'avx2' | 'scalar';
  readonly threads: number;
  private readonly addon: NativeAddon;

  constructor(addon: NativeAddon, isa: 'avx2' | 'scalar', threads: number) {
    this.addon = addon;
    this.isa = isa;
    this.threads = threads;
  }

  private get isaCode(): number {
    return this.isa === 'avx2' ? 1 : 0;
  }

  async forward(model: Model, bytes: Uint8Array, h0?: Float32Array): Promise<Trajectory> {
    const states = await this.addon.forward({
      weights: model.weights,
      hidden: model.hidden,
      bytes,
      ...(h0 ? { h0 } : {}),
      isa: this.isaCode,
    });
    return { hidden: model.hidden, steps: bytes.length, states };
  }

  async readout(req: ReadoutRequest, opts: RunOptions = {}): Promise<ReadoutResult> {
    throwIfAborted(opts.signal);
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const onAbort = (): void => {
      Atomics.store(cancel, 0, 1);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await this.addon.readout(
        {
          weights: req.model.weights,
          hidden: req.model.hidden,
          states: req.states,
          targets: req.targets,
          keep: req.keep,
          ...(req.snap ? { snap: req.snap } : {}),
          bits: req.bits === true,
          isa: this.isaCode,
          method: req.method === 'ordered' ? 0 : 1,
          threads: this.threads,
          cancel,
        },
        opts.onProgress,
      );
      opts.onProgress?.(req.keep.length / req.model.hidden, req.keep.length / req.model.hidden);
      return { mean: res.mean, ...(res.bits ? { bits: res.bits } : {}), method: res.method, fallbacks: res.fallbacks };
    } catch (err) {
      if (opts.signal?.aborted) throw abortError();
      throw new SatrnnError('INTERNAL', `native readout failed: ${(err as Error).message}`, { cause: err });
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Idle fast-trainer workspaces; one per concurrent call, reused across epochs. */
  private readonly workspaces: FastWorkspace[] = [];

  get fastTraining(): boolean {
    return this.isa === 'avx2' && this.addon.info().fastTraining;
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

  async trainEpoch(weights: Float32Array, hidden: number, data: Uint8Array, lr: number, params: TrainEpochParams, signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const onAbort = (): void => {
      Atomics.store(cancel, 0, 1);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const { fast, ...rest } = params;
    try {
      const bpc = await this.withWorkspace(fast && this.isa === 'avx2', (ws) =>
        this.addon.trainEpoch({ weights, hidden, data, lr, ...rest, isa: this.isaCode, cancel, ...(ws ? { fast: ws, threads: this.threads } : {}) }),
      );
      throwIfAborted(signal);
      return bpc;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  evalBpc(weights: Float32Array, hidden: number, data: Uint8Array, opts: { fast?: boolean } = {}): Promise<number> {
    return this.withWorkspace(opts.fast && this.isa === 'avx2', (ws) =>
      this.addon.evalBpc({ weights, hidden, data, isa: this.isaCode, ...(ws ? { fast: ws, threads: this.threads } : {}) }),
    );
  }
}
