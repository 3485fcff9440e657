import os from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { SatrnnError, abortError, throwIfAborted } from '../../errors.js';
import type { Model } from '../../model.js';
import type { Backend, ReadoutRequest, ReadoutResult, RunOptions, TrainEpochParams, Trajectory } from '../types.js';
import { evalBpc, trainEpoch } from '../../train/kernels.js';
import { forwardJs, readoutJs } from './kernels.js';
import { runTasks, shared, sharedZeros, workersAvailable } from './pool.js';

/** Below this many multiply-adds a call runs in-process (a worker round trip costs more). */
const WORKER_THRESHOLD = 5e6;

/**
 * The pure TypeScript backend: same answers as native, bit for bit. Large batches are split
 * over worker_threads (contiguous variant ranges; a variant's result never depends on the
 * split); small ones run in-process in slices with a turn of the event loop between them.
 */
export class JsBackend implements Backend {
  readonly name = 'js' as const;
  readonly isa = 'js' as const;
  readonly threads: number;
  /** The js backend has exact training kernels only; `fast` runs them. */
  readonly fastTraining = false;

  constructor(threads = Math.max(1, os.availableParallelism())) {
    if (!Number.isInteger(threads) || threads < 1 || threads > 256)
      throw new SatrnnError('BAD_OPTION', `threads must be an integer from 1 to 256 (got ${threads})`);
    this.threads = threads;
  }

  async forward(model: Model, bytes: Uint8Array, h0?: Float32Array): Promise<Trajectory> {
    const H = model.hidden;
    if (bytes.length * H * H < WORKER_THRESHOLD || !workersAvailable()) {
      return { hidden: H, steps: bytes.length, states: forwardJs(model, bytes, h0) };
    }
    const out = sharedZeros(Float32Array, bytes.length * H);
    await runTasks(
      [{ type: 'forward', weights: shared(model.weights), hidden: H, bytes: shared(bytes), ...(h0 ? { h0: shared(h0) } : {}), out }],
      () => {},
      undefined,
      abortError,
    );
    return { hidden: H, steps: bytes.length, states: new Float32Array(out) };
  }

  async readout(req: ReadoutRequest, opts: RunOptions = {}): Promise<ReadoutResult> {
    const H = req.model.hidden;
    const V = req.keep.length / H;
    const T = req.targets.length;
    const method = req.method ?? 'certified';
    throwIfAborted(opts.signal);
    // About 10^5 variant-positions (~0.1 s) per slice: progress granularity, and a chunk of
    // variants shares each position's full sums.
    // An ordered variant costs ~H/4 times a certified one.
    const perSlice = method === 'ordered' ? 400_000 / H : 100_000;
    const chunk = Math.max(1, Math.min(V, Math.floor(perSlice / T)));
    const work = V * T * H * 256;
    const nWorkers = Math.min(this.threads, Math.ceil(V / chunk));
    if (work >= WORKER_THRESHOLD && workersAvailable() && nWorkers > 1) return this.readoutInWorkers(req, opts, chunk, nWorkers);

    const mean = new Float64Array(V);
    const bits = req.bits ? new Float64Array(V * T) : undefined;
    let fallbacks = 0;
    let used: ReadoutResult['method'] = method;
    for (let v0 = 0; v0 < V; v0 += chunk) {
      const v1 = Math.min(V, v0 + chunk);
      const r = readoutJs({
        model: req.model,
        states: req.states,
        targets: req.targets,
        keep: req.keep,
        ...(req.snap ? { snap: req.snap } : {}),
        v0,
        v1,
        mean,
        ...(bits ? { bits } : {}),
        method,
      });
      fallbacks += r.fallbacks;
      used = r.method;
      opts.onProgress?.(v1, V);
      if (v1 < V) {
        await yieldToLoop();
        if (opts.signal?.aborted) throw abortError();
      }
    }
    return { mean, ...(bits ? { bits } : {}), method: used, fallbacks };
  }

  private async readoutInWorkers(req: ReadoutRequest, opts: RunOptions, chunk: number, nWorkers: number): Promise<ReadoutResult> {
    const H = req.model.hidden;
    const V = req.keep.length / H;
    const T = req.targets.length;
    const mean = sharedZeros(Float64Array, V);
    const bits = req.bits ? sharedZeros(Float64Array, V * T) : undefined;
    const common = {
      type: 'readout' as const,
      weights: shared(req.model.weights),
      hidden: H,
      states: shared(req.states),
      targets: shared(req.targets),
      keep: shared(req.keep),
      ...(req.snap ? { snap: shared(req.snap) } : {}),
      mean,
      ...(bits ? { bits } : {}),
      method: req.method ?? 'certified',
      chunk,
    };
    const per = Math.ceil(V / nWorkers);
    const tasks = [];
    for (let v0 = 0; v0 < V; v0 += per) tasks.push({ ...common, v0, v1: Math.min(V, v0 + per) });
    let done = 0;
    const replies = await runTasks(
      tasks,
      (d) => {
        done += d;
        opts.onProgress?.(done, V);
      },
      opts.signal,
      abortError,
    );
    const fallbacks = replies.reduce((s, r) => s + (r.fallbacks ?? 0), 0);
    const used = replies.some((r) => r.method === 'ordered') ? 'ordered' : (req.method ?? 'certified');
    return { mean: new Float64Array(mean), ...(bits ? { bits: new Float64Array(bits) } : {}), method: used, fallbacks };
  }

  /**
   * Training runs in a worker when workers are available (the weights travel through shared
   * memory and are copied back), so a long epoch never blocks the event loop.
   */
  async trainEpoch(weights: Float32Array, hidden: number, data: Uint8Array, lr: number, params: TrainEpochParams, signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    if (!workersAvailable()) return trainEpoch(weights, data, lr, { H: hidden, bptt: params.bptt, lrPeak: params.lrPeak, clip: params.clip });
    const w = shared(weights);
    const { bptt, lrPeak, clip } = params;
    const [reply] = await runTasks([{ type: 'trainEpoch', weights: w, hidden, data: shared(data), lr, params: { bptt, lrPeak, clip } }], () => {}, signal, abortError);
    weights.set(w);
    return reply!.value!;
  }

  async evalBpc(weights: Float32Array, hidden: number, data: Uint8Array): Promise<number> {
    if (!workersAvailable()) return evalBpc(weights, hidden, data);
    const [reply] = await runTasks([{ type: 'evalBpc', weights: shared(weights), hidden, data: shared(data) }], () => {}, undefined, abortError);
    return reply!.value!;
  }
}
