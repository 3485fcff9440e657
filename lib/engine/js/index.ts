import os from 'node:os';
import { SatrnnError, abortError, throwIfAborted } from '../../errors.js';
import type { Backend, ChunkGroup, ChunkRequest, ChunkResult, ReadoutStats, RunOptions, TrainEpochParams } from '../types.js';
import { readoutStatsJs } from '../model-stats.js';
import type { TaskInput } from './pool.js';
import { ownChunk, ownTraining } from './owned.js';
import { SLICE_WORK, WORKER_THRESHOLD, readoutTiles } from './schedule.js';
import { VOCAB, layout } from '../layout.js';

// The kernels and the worker pool load on a JsBackend's first call (loadKernels()), not
// with this module: the engine imports this module always, the native backend never needs
// them. Once loaded, calls no longer await anything for them (`kernelsLoaded`).
let evalBpc: typeof import('./train.js').evalBpc;
let trainEpoch: typeof import('./train.js').trainEpoch;
let runDynamicsJs: typeof import('./dynamics.js').runDynamicsJs;
let runQueue: typeof import('./pool.js').runQueue;
let shared: typeof import('./pool.js').shared;
let sharedZeros: typeof import('./pool.js').sharedZeros;
let workersAvailable: typeof import('./pool.js').workersAvailable;
let addBitsInOrder: typeof import('./readout.js').addBitsInOrder;
let readoutTileJs: typeof import('./readout.js').readoutTileJs;
let statesBounded: typeof import('./readout.js').statesBounded;
let kernelsLoaded = false;
let loading: Promise<void> | undefined;

function loadKernels(): Promise<void> {
  return (loading ??= Promise.all([import('./train.js'), import('./dynamics.js'), import('./pool.js'), import('./readout.js')]).then(
    ([train, dynamics, pool, readout]) => {
      ({ evalBpc, trainEpoch } = train);
      ({ runDynamicsJs } = dynamics);
      ({ runQueue, shared, sharedZeros, workersAvailable } = pool);
      ({ addBitsInOrder, readoutTileJs, statesBounded } = readout);
      kernelsLoaded = true;
    },
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  ));
}

/**
 * The pure TypeScript backend: same answers as native, bit for bit. A chunk's dynamics
 * (one task per group) and then its readout tiles run on worker_threads when the chunk is
 * large; small chunks run in-process in slices with a turn of the event loop between them.
 */
export class JsBackend implements Backend {
  /** Always `'js'`. */
  readonly name = 'js' as const;
  /** Always `'js'`: the code path is TypeScript. */
  readonly isa = 'js' as const;
  /** Worker threads a large chunk's tasks are spread over (with 1, chunks run in-process). */
  readonly threads: number;
  /** The js backend has exact training kernels only; `fast` runs them. */
  readonly fastTraining = false;

  /** Per-model readout statistics (TypeScript loops). */
  readoutStats(Wy: Float32Array, by: Float32Array): ReadoutStats {
    return readoutStatsJs(Wy, by);
  }

  /**
   * @param threads - worker threads, an integer from 1 to 256 (default: all cores, `os.availableParallelism()`)
   * @throws SatrnnError `BAD_OPTION` for another `threads`
   */
  constructor(threads = Math.max(1, os.availableParallelism())) {
    if (!Number.isInteger(threads) || threads < 1 || threads > 256)
      throw new SatrnnError('BAD_OPTION', `threads must be an integer from 1 to 256 (got ${threads})`);
    this.threads = threads;
  }

  /**
   * Runs one chunk (see {@link Backend.runChunk}): in-process in slices for small chunks,
   * on worker threads for large ones; the same bits either way.
   */
  async runChunk(request: ChunkRequest, opts: RunOptions = {}): Promise<ChunkResult> {
    checkChunk(request);
    throwIfAborted(opts.signal);
    // Private copies, taken before the first await (owned.ts): JS may detach the caller's
    // arrays while the chunk runs; its outputs go back at the end.
    const own = ownChunk(request);
    const req = own.req;
    if (!kernelsLoaded) await loadKernels();
    const H = req.hidden;
    const T = req.steps;
    const dynSteps = req.groups.reduce((s, g) => s + (g.states ? 0 : T - (g.from ?? 0)), 0);
    const predictions = req.groups.reduce((s, g) => s + (g.use ? (g.use.length / H) * readoutPositions(req, g).count : 0), 0);
    const total = dynSteps + predictions;
    const work = dynSteps * H * H + predictions * H * VOCAB;
    const parallel = work >= WORKER_THRESHOLD && workersAvailable() && this.threads > 1;
    const result = await (parallel ? this.runInWorkers(req, total, opts) : this.runInProcess(req, total, opts));
    own.commit();
    return result;
  }

  /** In-process: dynamics, then readout tiles, yielding to the event loop between slices. */
  private async runInProcess(req: ChunkRequest, total: number, opts: RunOptions): Promise<ChunkResult> {
    const H = req.hidden;
    const T = req.steps;
    let done = 0;
    let certified = req.method === 'certified';
    let fallbacks = 0;
    const states = new Map<ChunkGroup, Float32Array>();
    for (const g of req.groups) {
      if (g.states) {
        states.set(g, g.states);
        continue;
      }
      const out = g.statesOut ?? new Float32Array(T * H);
      if (g.prefix) out.set(g.prefix);
      runDynamicsJs(dynamicsArgs(req, g, out));
      states.set(g, out);
      done += T - (g.from ?? 0);
      opts.onProgress?.(done, total);
      await this.pause(opts);
    }
    for (const g of req.groups) {
      if (!g.use || T === 0 || g.use.length === 0 || readoutPositions(req, g).count === 0) continue;
      const V = g.use.length / H;
      const st = states.get(g)!;
      const method = req.method === 'certified' && statesBounded(st.subarray(firstRead(g) * H)) ? 'certified' : 'ordered';
      if (method !== req.method) certified = false;
      const bits = g.bitsOut ?? new Float64Array(V * T);
      const sel = readoutPositions(req, g);
      // Slices of positions (all variants share each position's full sums), small enough to
      // keep the event loop responsive: a position costs the full sums plus about one term
      // pass per variant (an ordered variant: H passes).
      const perPosition = VOCAB * (H + V * (method === 'ordered' ? H : 4));
      const perSlice = Math.max(1, Math.floor(SLICE_WORK / perPosition));
      for (let t0 = 0; t0 < T; t0 += perSlice) {
        const t1 = Math.min(T, t0 + perSlice);
        fallbacks += readoutTileJs({ weights: g.weights, hidden: H, states: st, targets: req.bytes.subarray(1, T + 1), use: g.use, ...(g.useValues ? { useValues: g.useValues } : {}), bits, v0: 0, v1: V, t0, t1, method, ...sel.tile });
        done += V * sel.countIn(t0, t1);
        opts.onProgress?.(done, total);
        await this.pause(opts);
      }
      addBitsInOrder(bits, V, T, g.totals!, sel.tile.select);
    }
    return { certified, fallbacks };
  }

  private async pause(opts: RunOptions): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // (not node:timers/promises: a module more at start-up)
    if (opts.signal?.aborted) throw abortError();
  }

  /**
   * On worker threads: inputs copied once to shared memory, one dynamics task per group,
   * then the readout tiles of every group; outputs copied back to the caller's arrays.
   */
  private async runInWorkers(req: ChunkRequest, total: number, opts: RunOptions): Promise<ChunkResult> {
    const H = req.hidden;
    const T = req.steps;
    const bytes = shared(req.bytes);
    let done = 0;
    const weights = new Map<Float32Array, Float32Array>();
    const sharedWeights = (w: Float32Array): Float32Array => {
      let s = weights.get(w);
      if (!s) weights.set(w, (s = shared(w)));
      return s;
    };
    // Phase 1: dynamics.
    const plan = req.groups.map((g) => {
      if (g.states) return { g, states: shared(g.states), dyn: undefined };
      const states = sharedZeros(Float32Array, T * H);
      if (g.prefix) states.set(g.prefix);
      const from = g.from ?? 0;
      const preAll = g.preOut ? sharedZeros(Float32Array, T * H) : undefined;
      const args = dynamicsArgs(req, g, states);
      const dyn = {
        ...args,
        weights: sharedWeights(g.weights),
        bytes: bytes.subarray(from),
        state: shared(args.state),
        ...(args.mode ? { mode: shared(args.mode), value: shared(args.value!) } : {}),
        ...(args.substPos ? { substPos: shared(args.substPos), substByte: shared(args.substByte!) } : {}),
        ...(args.patchPos ? { patchPos: shared(args.patchPos), patchNeurons: shared(args.patchNeurons!), patchValues: shared(args.patchValues!) } : {}),
        ...(args.stats ? { stats: sharedStats(args.stats) } : {}),
        ...(preAll ? { preOut: preAll.subarray(from * H) } : {}),
      };
      return { g, states, dyn, preAll };
    });
    const dynPlans = plan.filter((p) => p.dyn);
    const dynTasks: TaskInput[] = dynPlans.map((p) => ({ type: 'dynamics' as const, ...p.dyn! }));
    await runQueue(dynTasks, this.threads, (i) => opts.onProgress?.((done += dynPlans[i]!.dyn!.steps), total), opts.signal, abortError);
    for (const p of plan) {
      if (!p.dyn) continue;
      const g = p.g;
      const from = (g.from ?? 0) * H;
      g.state!.set(p.dyn.state);
      if (g.stats && p.dyn.stats) copyStats(p.dyn.stats, g.stats);
      g.statesOut?.set(p.states.subarray(firstRead(g) * H), firstRead(g) * H);
      if (g.preOut && p.preAll) g.preOut.set(p.preAll.subarray(from), from);
    }
    // Phase 2: readout tiles.
    let certified = req.method === 'certified';
    const tasks: TaskInput[] = [];
    const owners: { bits: Float64Array; V: number; g: ChunkGroup; select: Uint8Array | undefined; probs: Float64Array | undefined }[] = [];
    const targets = bytes.subarray(1, T + 1);
    for (const p of plan) {
      const g = p.g;
      if (!g.use || T === 0 || g.use.length === 0 || readoutPositions(req, g).count === 0) continue;
      const V = g.use.length / H;
      const method = req.method === 'certified' && statesBounded(p.states.subarray(firstRead(g) * H)) ? 'certified' : 'ordered';
      if (method !== req.method) certified = false;
      const bits = sharedZeros(Float64Array, V * T);
      const sel = readoutPositions(req, g);
      const select = sel.tile.select ? shared(sel.tile.select) : undefined;
      const probs = g.probsOut ? sharedZeros(Float64Array, g.probsOut.length) : undefined;
      owners.push({ bits, V, g, select, probs });
      const use = shared(g.use);
      const w = sharedWeights(g.weights);
      const extra = {
        ...(select ? { select } : {}),
        ...(g.useValues ? { useValues: shared(g.useValues) } : {}),
        ...(probs ? { probs, probRow: shared(sel.tile.probRow!), rows: sel.tile.rows! } : {}),
      };
      for (const tile of readoutTiles(V, T, this.threads))
        tasks.push({ type: 'readout', weights: w, hidden: H, states: p.states, targets, use, bits, method, ...tile, ...extra, count: (tile.v1 - tile.v0) * sel.countIn(tile.t0, tile.t1) });
    }
    let fallbacks = 0;
    await runQueue(
      tasks,
      this.threads,
      (i, reply) => {
        const t = tasks[i] as Extract<TaskInput, { type: 'readout' }>;
        fallbacks += reply.value;
        done += t.count ?? 0;
        opts.onProgress?.(done, total);
      },
      opts.signal,
      abortError,
    );
    for (const { bits, V, g, select, probs } of owners) {
      // Only the positions read out (the caller's other entries stay as they were, as native leaves them).
      if (g.bitsOut) for (let i = 0; i < V * T; i++) if (!select || select[i % T] !== 0) g.bitsOut[i] = bits[i]!;
      if (probs) g.probsOut!.set(probs);
      addBitsInOrder(bits, V, T, g.totals!, select);
    }
    return { certified, fallbacks };
  }

  /**
   * Training runs in a worker when workers are available (the weights travel through shared
   * memory and are copied back), so a long epoch never blocks the event loop.
   */
  async trainEpoch(weights: Float32Array, hidden: number, data: Uint8Array, epochLr: number, params: TrainEpochParams, signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    // Private copies before the first await (owned.ts); the trained weights go back at the end.
    const own = ownTraining(weights, data, true);
    if (!kernelsLoaded) await loadKernels();
    if (!workersAvailable()) {
      const bpc = trainEpoch(own.weights, own.data, epochLr, { H: hidden, bptt: params.bptt, lrPeak: params.lr, clip: params.clip });
      own.commit();
      return bpc;
    }
    const w = shared(own.weights);
    const { bptt, lr: lrPeak, clip } = params;
    const [reply] = await runQueue([{ type: 'trainEpoch', weights: w, hidden, data: shared(own.data), lr: epochLr, params: { bptt, lrPeak, clip } }], 1, () => {}, signal, abortError);
    own.weights.set(w);
    own.commit();
    return reply!.value;
  }

  /** The trainer's float evaluation (bpc) of `weights` on `data`, on a worker thread when workers are available. */
  async evalBpc(weights: Float32Array, hidden: number, data: Uint8Array): Promise<number> {
    const own = ownTraining(weights, data, false); // private copies before the first await
    if (!kernelsLoaded) await loadKernels();
    if (!workersAvailable()) return evalBpc(own.weights, hidden, own.data);
    const [reply] = await runQueue([{ type: 'evalBpc', weights: shared(own.weights), hidden, data: shared(own.data) }], 1, () => {}, undefined, abortError);
    return reply!.value;
  }
}

/** The first position a group reads out: `from`, or 0 when a prefix supplies the states before it. */
function firstRead(g: ChunkGroup): number {
  return g.prefix ? 0 : (g.from ?? 0);
}

/** The positions a group reads out (from firstRead, where `select` says so), for tiles and counts. */
function readoutPositions(req: ChunkRequest, g: ChunkGroup) {
  const T = req.steps;
  const from = firstRead(g);
  let select: Uint8Array | undefined;
  if (from > 0 || g.select) select = new Uint8Array(T).map((_, t) => (t >= from && (!g.select || g.select[t] !== 0) ? 1 : 0));
  const cum = new Uint32Array(T + 1);
  for (let t = 0; t < T; t++) cum[t + 1] = cum[t]! + (!select || select[t] !== 0 ? 1 : 0);
  let probRow: Uint32Array | undefined;
  if (g.probsOut) probRow = cum.subarray(0, T);
  const count = cum[T]!;
  return {
    count,
    countIn: (t0: number, t1: number): number => cum[t1]! - cum[t0]!,
    tile: { ...(select ? { select } : {}), ...(probRow ? { probs: g.probsOut!, probRow, rows: count } : {}) },
  };
}

/** The dynamics task of a group, writing states (and pre-activations) from row `from` on. */
function dynamicsArgs(req: ChunkRequest, g: ChunkGroup, states: Float32Array) {
  const from = g.from ?? 0;
  const H = req.hidden;
  return {
    weights: g.weights,
    hidden: H,
    bytes: req.bytes.subarray(from),
    pos0: req.pos0 + from,
    steps: req.steps - from,
    states: states.subarray(from * H),
    state: g.state!,
    ...(g.stepsBefore !== undefined ? { stepsBefore: g.stepsBefore } : {}),
    ...(g.mode ? { mode: g.mode, value: g.value! } : {}),
    ...(g.substPos ? { substPos: g.substPos, substByte: g.substByte! } : {}),
    ...(g.patchPos ? { patchPos: g.patchPos, patchNeurons: g.patchNeurons!, patchValues: g.patchValues! } : {}),
    ...(g.stats ? { stats: g.stats } : {}),
    ...(g.preOut ? { preOut: g.preOut.subarray(from * H) } : {}),
  };
}

function sharedStats(s: NonNullable<ChunkGroup['stats']>): NonNullable<ChunkGroup['stats']> {
  return {
    sum: shared(s.sum),
    sumAbs: shared(s.sumAbs),
    sumAbsF32: shared(s.sumAbsF32),
    minAbs: shared(s.minAbs),
    saturated: shared(s.saturated),
    flips: shared(s.flips),
    lastSign: shared(s.lastSign),
  };
}

function copyStats(from: NonNullable<ChunkGroup['stats']>, to: NonNullable<ChunkGroup['stats']>): void {
  to.sum.set(from.sum);
  to.sumAbs.set(from.sumAbs);
  to.sumAbsF32.set(from.sumAbsF32);
  to.minAbs.set(from.minAbs);
  to.saturated.set(from.saturated);
  to.flips.set(from.flips);
  to.lastSign.set(from.lastSign);
}

/** The same argument checks as native/napi/bind_engine.cc, raising BAD_OPTION. */
function checkChunk(req: ChunkRequest): void {
  const bad = (m: string): never => {
    throw new SatrnnError('BAD_OPTION', `engine run: ${m}`);
  };
  const H = req.hidden;
  const T = req.steps;
  if (!Number.isInteger(H) || H < 1 || H > 1 << 16) bad('hidden must be an integer in [1, 65536]');
  if (!Number.isInteger(T) || T < 0) bad('steps must be a non-negative integer');
  if (!Number.isInteger(req.pos0) || req.pos0 < 0) bad('pos0 must be a non-negative integer');
  const count = layout(H).count;
  let readsOut = false;
  const len = (a: { length: number } | undefined, n: number, what: string): void => {
    if (a !== undefined && a.length !== n) bad(`${what} has length ${a.length}, expected ${n}`);
  };
  for (const g of req.groups) {
    len(g.weights, count, 'weights');
    if (g.states) {
      len(g.states, T * H, 'states');
      if (g.from !== undefined || g.prefix !== undefined) bad('from and prefix apply to groups with dynamics, not to given states');
    } else {
      if (!g.state) bad('state is required for a group without given states');
      len(g.state, H, 'state');
      len(g.mode, H, 'mode');
      if (g.mode) {
        if (g.mode.some((m) => m > 2)) bad('mode values must be 0 (free), 1 (clamp) or 2 (sign)');
        if (!g.value) bad('value is required with mode');
        len(g.value, H, 'value');
      }
      const positions = (key: 'substPos' | 'patchPos'): void =>
        g[key]?.forEach((p, i, a) => {
          if (!Number.isInteger(p) || p < 0 || (i > 0 && !(p > a[i - 1]!))) bad(`${key} must hold ascending non-negative integer positions`);
        });
      if (g.substPos) {
        len(g.substByte, g.substPos.length, 'substByte');
        positions('substPos');
      }
      if (g.patchPos || g.patchNeurons || g.patchValues) {
        if (!(g.patchPos instanceof Float64Array)) bad('patchPos must be a Float64Array (patchNeurons and patchValues come with it)');
        positions('patchPos');
        if (!(g.patchNeurons instanceof Uint32Array)) bad('patchNeurons must be a Uint32Array');
        const seen = new Uint8Array(H);
        for (const j of g.patchNeurons!) {
          if (j >= H) bad('patchNeurons must hold neuron indices below hidden');
          if (seen[j] !== 0) bad('patchNeurons must hold distinct neuron indices');
          seen[j] = 1;
        }
        if (!(g.patchValues instanceof Float32Array)) bad('patchValues must be a Float32Array');
        len(g.patchValues, g.patchPos!.length * g.patchNeurons!.length, 'patchValues');
        if (!g.patchValues!.every(Number.isFinite)) bad('patchValues must be finite');
      }
      if (g.stats)
        for (const k of ['sum', 'sumAbs', 'sumAbsF32', 'minAbs', 'saturated', 'flips', 'lastSign'] as const) {
          if (!ArrayBuffer.isView(g.stats[k])) bad(`stats.${k} must be a typed array`);
          len(g.stats[k], H, `stats.${k}`);
        }
      if (g.from !== undefined && !(Number.isInteger(g.from) && g.from >= 0 && g.from <= T)) bad(`from must be an integer in [0, ${T}]`);
      len(g.prefix, (g.from ?? 0) * H, 'prefix');
      len(g.statesOut, T * H, 'statesOut');
      len(g.preOut, T * H, 'preOut');
    }
    if (g.use) {
      if (g.use.length % H !== 0) bad('use length must be a multiple of hidden');
      if (g.use.some((u) => u > 4)) bad('use values must be 0 (absent), 1 (value), 2 (sign), 3 (negated) or 4 (fixed)');
      const V = g.use.length / H;
      if (g.useValues !== undefined) {
        if (!(g.useValues instanceof Float32Array)) bad('useValues must be a Float32Array');
        len(g.useValues, V * H, 'useValues');
        if (!g.useValues.every(Number.isFinite)) bad('useValues must be finite');
      } else if (g.use.includes(4)) bad('useValues is required when a use code is 4 (fixed)');
      if (!g.totals) bad('totals is required with use');
      len(g.totals, V, 'totals');
      len(g.bitsOut, V * T, 'bitsOut');
      len(g.select, T, 'select');
      if (g.probsOut) len(g.probsOut, V * readoutPositions(req, g).count * VOCAB, 'probsOut');
      if (V > 0) readsOut = true;
    }
  }
  if (req.bytes.length < T + (readsOut ? 1 : 0))
    bad('bytes must hold steps bytes, plus the next one (the last target) when a group has readout variants');
}
