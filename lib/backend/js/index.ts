import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { abortError, throwIfAborted } from '../../errors.js';
import type { Model } from '../../model.js';
import type { Backend, ReadoutRequest, ReadoutResult, RunOptions, Trajectory } from '../types.js';
import { forwardJs, readoutJs } from './kernels.js';

/**
 * The pure TypeScript backend: same answers as native, bit for bit. Work is done in slices
 * with a turn of the event loop between them, so timers, progress and aborts keep running.
 */
export class JsBackend implements Backend {
  readonly name = 'js' as const;
  readonly isa = 'js' as const;
  readonly threads = 1;

  async forward(model: Model, bytes: Uint8Array, h0?: Float32Array): Promise<Trajectory> {
    const states = forwardJs(model, bytes, h0);
    return { hidden: model.hidden, steps: bytes.length, states };
  }

  async readout(req: ReadoutRequest, opts: RunOptions = {}): Promise<ReadoutResult> {
    const H = req.model.hidden;
    const V = req.keep.length / H;
    const T = req.targets.length;
    const method = req.method ?? 'certified';
    const mean = new Float64Array(V);
    const bits = req.bits ? new Float64Array(V * T) : undefined;
    throwIfAborted(opts.signal);
    // Chunks of variants share each position's full sums; a turn of the event loop between
    // chunks keeps timers, progress output and abort signals alive.
    // About 10^5 variant-positions (~0.1 s) per slice.
    const chunk = Math.max(1, Math.min(V, Math.ceil(100_000 / T)));
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
        shouldStop: () => opts.signal?.aborted === true,
      });
      fallbacks += r.fallbacks;
      used = r.method;
      throwIfAborted(opts.signal);
      opts.onProgress?.(v1, V);
      if (v1 < V) {
        await yieldToLoop();
        if (opts.signal?.aborted) throw abortError();
      }
    }
    return { mean, ...(bits ? { bits } : {}), method: used, fallbacks };
  }
}
