// The training loop of sat_train (spec sat_train.md), generalised: any H, any text, any
// epoch count, checkpoints and resume. Kernels come from the backend (native or js, same
// bytes); this file only orchestrates epochs, the schedule, the best copy and evaluation.
//
// Failure behaviour (README, "Failure behaviour"):
// - Options are checked before anything is allocated: wrong types and out-of-range values
//   are `BAD_OPTION`, never a TypeError or RangeError. H is capped at MAX_TRAIN_HIDDEN (its
//   model file must stay under 2 GiB, the most a model file can be read whole) and by memory:
//   training keeps TRAIN_WEIGHT_COPIES copies of the weights, which must fit in os.totalmem().
// - A run whose train bpc or weights become NaN or infinite stops at that epoch and rejects
//   with TrainingDivergedError (exit 1 in the CLI), carrying the last finite best copy; no
//   NaN weights ever reach a result, a checkpoint or a file.
// - Checkpoints (schema satrnn.checkpoint/2) record the sha256 of their weight files and the
//   kernels; loadCheckpoint checks every field, the hashes and the weights, and never prints
//   a file's contents. Schema 1 files are still read, with a warning (their best copy's hash
//   and their kernels were not recorded).
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveBackend, type Backend, type BackendChoice } from '../../engine/index.js';
import { checkData } from '../../data.js';
import { errnoText, readFileChecked, writeFileAtomic } from '../../io.js';
import { SatrnnError, throwIfAborted, type SatrnnErrorCode } from '../../errors.js';
import { Model, VOCAB, hiddenFromParamCount, paramCount, parseModel } from '../../model.js';
import { trainInit, trainLr } from '../../engine/js/train.js';
import { VERSION } from '../../version.js';

/** Options of {@link train} (checked when training starts; see ResolvedTrainOptions for the ranges). */
export interface TrainOptions {
  /** Training text (any bytes, at least 2). */
  data: Uint8Array;
  /** Hidden units (default 128, the original; at most 22,915, and what memory allows: see train's errors). */
  hidden?: number;
  /** Total epochs E; the cosine schedule spans them (the original's max_epochs). */
  epochs: number;
  /** Predictions per truncated-BPTT window (default 50). */
  bptt?: number;
  /** Peak learning rate, rounded to float32 (default 0.01); the floor is 1% of it. */
  lr?: number;
  /** glibc srand seed of the initial weights (default 42). */
  seed?: number;
  /** Global gradient-norm clip threshold, float32 (default 5). */
  clip?: number;
  /**
   * When to run the (full-text) evaluation: 'reported' = the original's schedule (epochs
   * 1-10, every 10th to 100, every 100th to 1000, every 1000th, and the last), 'every', or 'never'.
   */
  evaluate?: 'reported' | 'every' | 'never';
  /** A backend, or options to pick one (default: SATRNN_BACKEND, else native when the addon loads, else js). */
  backend?: Backend | BackendChoice;
  /**
   * Fast, non-exact kernels (native backend on AVX2+FMA CPUs: FMA, reassociated sums, a
   * helper thread when the backend has 2+ threads; trains as well, bytes differ in the last
   * bits but not between runs or thread counts). Elsewhere the exact kernels run;
   * TrainResult.kernels says which.
   */
  fast?: boolean;
  /** Called after every epoch (awaited: write checkpoints here). `state` is live and keeps changing: copy what you keep (makeCheckpoint does). */
  onEpoch?: (epoch: EpochMetrics, state: TrainState) => void | Promise<void>;
  /** Aborts training: the promise rejects with `SatrnnError('ABORTED')`. */
  signal?: AbortSignal;
  /** Continue a run from a checkpoint (its options, data and kernels must match these). */
  resume?: TrainCheckpoint;
}

/** One epoch's numbers (in TrainResult.history and for onEpoch). */
export interface EpochMetrics {
  /** The epoch, 1-based. */
  epoch: number;
  /** Float32 learning rate of this epoch: the cosine schedule over all epochs from the peak `lr`, floored at 1% of it. */
  epochLr: number;
  /** Bits per character of the epoch's training pass (window losses, weights changing as it goes). */
  trainBpc: number;
  /** Evaluation bpc (the trainer's float readout) of the weights after this epoch, null when not evaluated. */
  evalBpc: number | null;
  /** This epoch became the best copy (train bpc improved by more than 1e-4). */
  improved: boolean;
  /** The original's `*`: train bpc within 1e-4 of the best so far. */
  nearBest: boolean;
}

/** The train bpc of the best copy before there is one: the original's sentinel (999). */
export const NO_BEST_BPC = 999;

/** Everything needed to continue a run exactly. */
export interface TrainState {
  /** Epochs done (0 before the first). */
  epoch: number;
  /** Total epochs E of the run. */
  epochs: number;
  /** H, the hidden units. */
  hidden: number;
  /** The current weights (file layout), updated in place every epoch. */
  weights: Float32Array;
  /** The train bpc of the best copy (999, the original's sentinel, before there is one). */
  bestBpc: number;
  /** The epoch of the best copy, null before any. */
  bestEpoch: number | null;
  /** The weights after `bestEpoch`, null before any. */
  bestWeights: Float32Array | null;
  /**
   * The kernels that trained these weights: 'exact' or 'fast' (a resume must use the same);
   * null when not recorded (a checkpoint of schema satrnn.checkpoint/1).
   */
  kernels: 'exact' | 'fast' | null;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** The weights after the last epoch (source `'trained'`). */
  model: Model;
  /** The weights after the epoch with the lowest train bpc; null when no epoch improved. */
  best: {
    /** The best copy (source `'best'`). */
    model: Model;
    /** Its epoch's train bpc. */
    trainBpc: number;
    /** Its epoch, 1-based. */
    epoch: number;
  } | null;
  /** The metrics of the epochs this call ran, in order (after a resume: from the checkpoint's next epoch). */
  history: EpochMetrics[];
  /** 'fast' when the non-exact kernels ran, else 'exact' (bit-identical on every backend). */
  kernels: 'exact' | 'fast';
}

/**
 * How {@link train} rejects when a run diverges: an epoch's train bpc or weights became NaN
 * or infinite (the learning rate or the clip threshold is too large for the data). Training
 * stops at that epoch; `best` is the last finite best copy (null when no epoch before it
 * improved). Its code is `TRAINING_DIVERGED` (exit status 1 in the CLI).
 */
export class TrainingDivergedError extends SatrnnError {
  /** The epoch (1-based) whose train bpc or weights were not finite. */
  readonly epoch: number;
  /** That epoch's train bpc (NaN or infinite, or finite when only the weights overflowed). */
  readonly trainBpc: number;
  /** The best copy before the divergence, as TrainResult.best; null when there is none. */
  readonly best: TrainResult['best'];
  /** The metrics of the epochs this call ran before the diverged one. */
  readonly history: EpochMetrics[];
  /**
   * @param epoch - the diverged epoch
   * @param epochs - the run's total epochs (for the message)
   * @param trainBpc - that epoch's train bpc
   * @param best - the last finite best copy, or null
   * @param history - the metrics of the epochs before it
   */
  constructor(epoch: number, epochs: number, trainBpc: number, best: TrainResult['best'], history: EpochMetrics[]) {
    super(
      'TRAINING_DIVERGED',
      `training diverged at epoch ${epoch} of ${epochs}: ${Number.isFinite(trainBpc) ? 'the weights' : `the train bpc is ${trainBpc} and the weights`} overflowed to NaN/infinity; ` +
        `${best ? `the best copy is epoch ${best.epoch} (${best.trainBpc.toFixed(4)} bpc)` : 'no epoch before it improved'}; lower lr or clip`,
    );
    this.name = 'TrainingDivergedError';
    this.epoch = epoch;
    this.trainBpc = trainBpc;
    this.best = best;
    this.history = history;
  }
}

/**
 * The original's report schedule (sat_train.md, main loop step 3): whether epoch `e`
 * (1-based) of `total` is evaluated and printed.
 */
export function isReportedEpoch(e: number, total: number): boolean {
  return e <= 10 || (e <= 100 && e % 10 === 0) || (e <= 1000 && e % 100 === 0) || e % 1000 === 0 || e === total;
}

/** A short description of a value of the wrong type, for messages (strings shortened and quoted, never file bytes). */
function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'nothing';
  if (Array.isArray(x)) return 'an array';
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 32 ? `${x.slice(0, 32)}…` : x).replace(/[^\x20-\x7e…]/g, '?')}`;
  if (typeof x === 'function') return 'a function';
  if (typeof x === 'object') return 'an object';
  return `${typeof x === 'number' ? '' : `${typeof x} `}${String(x)}`;
}

function checkInt(name: string, v: unknown, min: number, max: number, code: SatrnnErrorCode = 'BAD_OPTION'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new SatrnnError(code, `${name} must be an integer from ${min} to ${max} (got ${describeValue(v)})`);
  return v;
}

function checkFloat(name: string, v: unknown): number {
  const f = Math.fround(v as number);
  if (typeof v !== 'number' || !Number.isFinite(v) || !(f > 0) || !Number.isFinite(f)) throw new SatrnnError('BAD_OPTION', `${name} must be a positive finite number (got ${describeValue(v)})`);
  return f;
}

/** The most a model file may hold: 2 GiB − 1 bytes (what a file read whole can be). */
const MODEL_FILE_MAX_BYTES = 2 ** 31 - 1;

/**
 * The largest hidden size {@link train} accepts, 22,915: its model file (4·(H² + 513·H + 256)
 * bytes) stays under 2 GiB, the most a model file can be read whole. Memory may allow less
 * (see {@link checkTrainingMemory}).
 */
export const MAX_TRAIN_HIDDEN: number = (() => {
  let h = Math.floor(Math.sqrt(MODEL_FILE_MAX_BYTES / 4));
  while (paramCount(h) * 4 > MODEL_FILE_MAX_BYTES) h--;
  return h;
})();

/**
 * Copies of the weights training keeps at once: the current weights, the best copy, the
 * backend's private copy of the epoch, the gradient, and one more (the js backend's shared
 * copy for its worker; the bytes of a file being written).
 */
export const TRAIN_WEIGHT_COPIES = 5;

const gb = (bytes: number): string => (bytes / 1e9).toFixed(1);

/**
 * About how many bytes training H hidden units on `n` bytes with BPTT windows of `bptt`
 * takes: five copies of the weights, a window's states and
 * probabilities, and the text (with the backend's copies).
 */
export function trainingMemoryBytes(hidden: number, bptt: number, n: number): number {
  const window = Math.max(1, Math.min(bptt, n - 1));
  return 4 * (TRAIN_WEIGHT_COPIES * paramCount(hidden) + (window + 1) * hidden + window * VOCAB) + 3 * n;
}

/**
 * Refuses a training run this machine's memory cannot hold ({@link trainingMemoryBytes}
 * over `totalBytes`, by default os.totalmem()).
 *
 * @returns the bytes the run needs (about)
 * @throws SatrnnError `BAD_OPTION` with the numbers and the largest hidden size that fits
 */
export function checkTrainingMemory(hidden: number, bptt: number, n: number, totalBytes: number = os.totalmem()): number {
  const need = trainingMemoryBytes(hidden, bptt, n);
  if (need <= totalBytes) return need;
  let lo = 0;
  let hi = Math.min(hidden, MAX_TRAIN_HIDDEN);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (trainingMemoryBytes(mid, bptt, n) <= totalBytes) lo = mid;
    else hi = mid - 1;
  }
  throw new SatrnnError(
    'BAD_OPTION',
    `hidden ${hidden} needs about ${gb(need)} GB of memory to train (${TRAIN_WEIGHT_COPIES} copies of its ${gb(4 * paramCount(hidden))} GB of weights, and a ${Math.min(bptt, n - 1)}-prediction BPTT window), ` +
      `more than this machine's ${gb(totalBytes)} GB; ${lo >= 1 ? `use hidden ${lo} or less` : 'use a smaller bptt or text'}`,
  );
}

/** Training options checked and with their defaults filled in: what a checkpoint records and a resume must match. */
export interface ResolvedTrainOptions {
  /** H, 1 to 22,915 (its model file stays under 2 GiB; default 128). */
  hidden: number;
  /** Total epochs E, 1 to 1e9. */
  epochs: number;
  /** Predictions per truncated-BPTT window, 1 to 2^20 (default 50). */
  bptt: number;
  /** Peak learning rate, rounded to float32 (default 0.01). */
  lr: number;
  /** glibc srand seed of the initial weights, 0 to 2^32-1 (default 42). */
  seed: number;
  /** Global gradient-norm clip threshold, rounded to float32 (default 5). */
  clip: number;
}

const OPTION_KEYS = ['hidden', 'epochs', 'bptt', 'lr', 'seed', 'clip'] as const;

/**
 * Checks the hyper-parameters of `o` and fills in the defaults.
 *
 * @throws SatrnnError `BAD_OPTION` for a value of the wrong type or out of range (lr and
 *   clip: positive and finite as float32; hidden: at most 22,915)
 */
export function resolveTrainOptions(o: Omit<TrainOptions, 'data'>): ResolvedTrainOptions {
  if (o === null || typeof o !== 'object') throw new SatrnnError('BAD_OPTION', `training options must be an object { epochs, hidden, … } (got ${describeValue(o)})`);
  const h = o.hidden ?? 128;
  if (typeof h === 'number' && Number.isInteger(h) && h > MAX_TRAIN_HIDDEN)
    throw new SatrnnError(
      'BAD_OPTION',
      `hidden ${h} is too large: its model file would be ${gb(4 * paramCount(h))} GB (4·(H²+513·H+256) bytes), over the 2 GiB a model file can hold; hidden is at most ${MAX_TRAIN_HIDDEN}`,
    );
  return {
    hidden: checkInt('hidden', h, 1, MAX_TRAIN_HIDDEN),
    epochs: checkInt('epochs', o.epochs, 1, 1e9),
    bptt: checkInt('bptt', o.bptt ?? 50, 1, 1 << 20),
    lr: checkFloat('lr', o.lr ?? 0.01),
    seed: checkInt('seed', o.seed ?? 42, 0, 0xffffffff),
    clip: checkFloat('clip', o.clip ?? 5),
  };
}

/** The original's initial weights for H hidden units (glibc rand, seed). */
export function initialModel(hidden: number, seed = 42): Model {
  const w = new Float32Array(paramCount(hidden));
  trainInit(w, hidden, seed);
  return new Model(w, hidden, `init(H=${hidden}, seed=${seed})`);
}

/** True when every weight is finite (one pass: x·0 is NaN exactly for NaN and ±Infinity). */
function allFinite(w: Float32Array): boolean {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i]! * 0;
  return s === 0;
}

const isAbortSignal = (s: unknown): s is AbortSignal =>
  s !== null && typeof s === 'object' && typeof (s as AbortSignal).aborted === 'boolean' && typeof (s as AbortSignal).addEventListener === 'function';

/**
 * Trains a sat-rnn (sat_train.md, generalised): epochs of truncated BPTT with SGD, global
 * gradient-norm clipping and a cosine learning rate, from {@link initialModel} or a
 * checkpoint. Deterministic; with the exact kernels (the default) the bytes are the same on
 * every backend.
 *
 * @throws SatrnnError `BAD_OPTION` for options of the wrong type or out of range, a hidden
 *   size memory cannot hold, a checkpoint that is not valid or does not match the options,
 *   the data or the kernels; `DATA_TOO_SHORT`; `ABORTED`; `TRAINING_DIVERGED` (a TrainingDivergedError,
 *   with `epoch`, `trainBpc`, `best` and `history`) when the weights become NaN or infinite:
 *   training stops at that epoch and `best` is the last finite best copy
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  if (opts === null || typeof opts !== 'object') throw new SatrnnError('BAD_OPTION', `train() takes an options object { data, epochs, … } (got ${describeValue(opts)})`);
  if (!(opts.data instanceof Uint8Array)) throw new SatrnnError('BAD_OPTION', `data must be a Uint8Array of the text's bytes (got ${describeValue(opts.data)}); read a file with loadData(file)`);
  const o = resolveTrainOptions(opts);
  if (opts.onEpoch !== undefined && typeof opts.onEpoch !== 'function') throw new SatrnnError('BAD_OPTION', `onEpoch must be a function (got ${describeValue(opts.onEpoch)})`);
  if (opts.signal !== undefined && !isAbortSignal(opts.signal)) throw new SatrnnError('BAD_OPTION', `signal must be an AbortSignal (got ${describeValue(opts.signal)})`);
  if (opts.evaluate !== undefined && opts.evaluate !== 'reported' && opts.evaluate !== 'every' && opts.evaluate !== 'never')
    throw new SatrnnError('BAD_OPTION', `evaluate must be 'reported', 'every' or 'never' (got ${describeValue(opts.evaluate)})`);
  if (opts.fast !== undefined && typeof opts.fast !== 'boolean') throw new SatrnnError('BAD_OPTION', `fast must be a boolean (got ${describeValue(opts.fast)})`);
  const data = checkData(opts.data);
  checkTrainingMemory(o.hidden, o.bptt, data.length);
  const backend = resolveBackend(opts.backend);
  const evaluate = opts.evaluate ?? 'reported';
  const fast = opts.fast === true && backend.fastTraining;
  const kernels = fast ? 'fast' : 'exact';
  const H = o.hidden;
  let state: TrainState;
  if (opts.resume !== undefined) {
    const r = checkCheckpoint(opts.resume, 'resume', 'BAD_OPTION');
    const mismatch = OPTION_KEYS.filter((k) => r.options[k] !== o[k]);
    if (mismatch.length > 0)
      throw new SatrnnError('BAD_OPTION', `cannot resume: the checkpoint was made with different ${mismatch.join(', ')} (${mismatch.map((k) => `${k}=${r.options[k]}`).join(', ')})`);
    if (r.dataSha256 !== sha256(data)) throw new SatrnnError('BAD_OPTION', 'cannot resume: the checkpoint was trained on different data');
    if (r.state.kernels !== null && r.state.kernels !== kernels)
      throw new SatrnnError(
        'BAD_OPTION',
        r.state.kernels === 'fast'
          ? `cannot resume: the checkpoint was trained with the fast kernels; resume with --fast (fast: true)${opts.fast === true ? `, on a backend that has them (native on an AVX2+FMA CPU; this is ${backend.name})` : ''}`
          : 'cannot resume: the checkpoint was trained with the exact kernels; resume without --fast (fast: false)',
      );
    state = { ...r.state, weights: new Float32Array(r.state.weights), bestWeights: r.state.bestWeights ? new Float32Array(r.state.bestWeights) : null, kernels };
  } else {
    state = { epoch: 0, epochs: o.epochs, hidden: H, weights: initialModel(H, o.seed).weights, bestBpc: NO_BEST_BPC, bestEpoch: null, bestWeights: null, kernels };
  }
  const history: EpochMetrics[] = [];
  const params = { bptt: o.bptt, lr: o.lr, clip: o.clip, fast };
  const bestOf = (): TrainResult['best'] =>
    state.bestWeights && state.bestEpoch !== null ? { model: new Model(state.bestWeights, H, 'best'), trainBpc: state.bestBpc, epoch: state.bestEpoch } : null;
  for (let e = state.epoch + 1; e <= o.epochs; e++) {
    throwIfAborted(opts.signal);
    const epochLr = trainLr(e, o.epochs, o.lr);
    const trainBpc = await backend.trainEpoch(state.weights, H, data, epochLr, params, opts.signal);
    // NaN weights stay NaN: stop here, keeping the last finite best copy.
    if (!Number.isFinite(trainBpc) || !allFinite(state.weights)) throw new TrainingDivergedError(e, o.epochs, trainBpc, bestOf(), history);
    const improved = trainBpc < state.bestBpc - 0.0001;
    if (improved) {
      state.bestBpc = trainBpc;
      state.bestEpoch = e;
      // Copy into one buffer kept for the whole run: allocating 4·|weights| bytes per
      // improvement costs more than an epoch's arithmetic on small texts (fresh pages).
      if (state.bestWeights) state.bestWeights.set(state.weights);
      else state.bestWeights = new Float32Array(state.weights);
    }
    const doEval = evaluate === 'every' || (evaluate === 'reported' && isReportedEpoch(e, o.epochs));
    const evalBpc = doEval ? await backend.evalBpc(state.weights, H, data, { fast }) : null;
    state.epoch = e;
    const m: EpochMetrics = { epoch: e, epochLr, trainBpc, evalBpc, improved, nearBest: trainBpc <= state.bestBpc + 0.0001 };
    history.push(m);
    await opts.onEpoch?.(m, state);
  }
  // The run is over, so its buffers become the result's (no copies); onEpoch callers that
  // kept `state` must copy (makeCheckpoint does).
  return { model: new Model(state.weights, H, 'trained'), best: bestOf(), history, kernels };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The checkpoint schema saveCheckpoint writes. */
export const CHECKPOINT_SCHEMA = 'satrnn.checkpoint/2';
const CHECKPOINT_SCHEMA_1 = 'satrnn.checkpoint/1';

/** A resumable snapshot: the options, the data hash and the full training state. */
export interface TrainCheckpoint {
  /** Format tag of the checkpoint (what saveCheckpoint writes; loadCheckpoint also reads satrnn.checkpoint/1). */
  schema: 'satrnn.checkpoint/2';
  /** The run's options; a resume must use the same. */
  options: ResolvedTrainOptions;
  /** SHA-256 (hex) of the training data; a resume must use the same data. */
  dataSha256: string;
  /** The training state after the checkpoint's epoch (with the kernels that trained it). */
  state: TrainState;
}

/** A checkpoint of a run: `state` is copied (training may go on changing it), `data` only hashed. */
export function makeCheckpoint(options: ResolvedTrainOptions, data: Uint8Array, state: TrainState): TrainCheckpoint {
  return checkpointView(options, sha256(data), {
    ...state,
    weights: new Float32Array(state.weights),
    bestWeights: state.bestWeights ? new Float32Array(state.bestWeights) : null,
  });
}

/**
 * @internal A checkpoint that shares `state`'s arrays (no copy): for a caller that saves it
 * at once (saveCheckpoint is synchronous), e.g. the CLI's onEpoch, where two more copies of
 * large weights would cost memory.
 */
export function checkpointView(options: ResolvedTrainOptions, dataSha256: string, state: TrainState): TrainCheckpoint {
  return { schema: CHECKPOINT_SCHEMA, options: resolveTrainOptions(options), dataSha256, state: { ...state, kernels: state.kernels ?? null } };
}

/**
 * Writes a checkpoint as `<base>.bin` (the current model, a normal model file),
 * `<base>.best.bin` (the best copy, if any) and `<base>.json` (options, state, kernels and
 * the sha256 of both model files), each through a temp file and a rename; the `.json` goes
 * last, so it exists only beside complete model files.
 *
 * @returns the path of the `.json` file (what {@link loadCheckpoint} reads)
 * @throws SatrnnError `BAD_OPTION` for a checkpoint that is not valid, `WRITE_FAILED`
 */
export function saveCheckpoint(cp: TrainCheckpoint, base: string): string {
  const c = checkCheckpoint(cp, 'checkpoint', 'BAD_OPTION');
  const H = c.state.hidden;
  const modelBytes = new Model(c.state.weights, H).toBytes();
  writeFileAtomic(`${base}.bin`, modelBytes, 'checkpoint model');
  let bestSha256: string | null = null;
  if (c.state.bestWeights) {
    const bestBytes = new Model(c.state.bestWeights, H).toBytes();
    writeFileAtomic(`${base}.best.bin`, bestBytes, 'checkpoint model');
    bestSha256 = sha256(bestBytes);
  }
  const meta = {
    schema: CHECKPOINT_SCHEMA,
    satrnn: VERSION,
    options: c.options,
    dataSha256: c.dataSha256,
    kernels: c.state.kernels,
    epoch: c.state.epoch,
    bestBpc: c.state.bestBpc,
    bestEpoch: c.state.bestEpoch,
    model: path.basename(`${base}.bin`),
    modelSha256: sha256(modelBytes),
    best: c.state.bestWeights ? path.basename(`${base}.best.bin`) : null,
    bestSha256,
  };
  const json = `${base}.json`;
  writeFileAtomic(json, `${JSON.stringify(meta, null, 2)}\n`, 'checkpoint');
  return json;
}

/**
 * Checks a checkpoint object (from loadCheckpoint, makeCheckpoint or a caller) field by
 * field: options complete and valid, data hash, epoch 0..epochs, weights of the right
 * length and finite, bestBpc finite (or the 999 sentinel with no best copy), bestEpoch
 * consistent with the best copy, kernels. Returns it with resolved options.
 */
function checkCheckpoint(cp: unknown, where: string, code: SatrnnErrorCode): TrainCheckpoint {
  const fail = (what: string): never => {
    throw new SatrnnError(code, `${where}: ${what}`);
  };
  if (cp === null || typeof cp !== 'object') fail(`not a checkpoint (got ${describeValue(cp)}); use loadCheckpoint(file) or makeCheckpoint(...)`);
  const c = cp as Partial<TrainCheckpoint> & { schema?: unknown };
  if (c.schema !== CHECKPOINT_SCHEMA && c.schema !== CHECKPOINT_SCHEMA_1) fail(`not a satrnn checkpoint (schema ${describeValue(c.schema)}); use loadCheckpoint(file) or makeCheckpoint(...)`);
  const options = checkOptions(c.options, where, code);
  if (typeof c.dataSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(c.dataSha256)) fail(`dataSha256 must be 64 hex digits (got ${describeValue(c.dataSha256)})`);
  const s = c.state as Partial<TrainState> | undefined;
  if (s === null || typeof s !== 'object') fail(`state must be an object (got ${describeValue(s)})`);
  const st = s as Partial<TrainState>;
  const H = options.hidden;
  if (st.hidden !== H) fail(`state.hidden (${describeValue(st.hidden)}) differs from options.hidden (${H})`);
  if (st.epochs !== options.epochs) fail(`state.epochs (${describeValue(st.epochs)}) differs from options.epochs (${options.epochs})`);
  const epoch = checkInt(`${where}: epoch`, st.epoch, 0, options.epochs, code);
  const weights = (name: string, w: unknown): Float32Array => {
    if (!(w instanceof Float32Array) || w.length !== paramCount(H)) fail(`${name} must be a Float32Array of ${paramCount(H)} weights for hidden=${H} (got ${w instanceof Float32Array ? `${w.length} weights` : describeValue(w)})`);
    if (!allFinite(w as Float32Array)) fail(`${name} hold NaN or infinite values`);
    return w as Float32Array;
  };
  weights('weights', st.weights);
  const bestWeights = st.bestWeights === null ? null : weights('bestWeights', st.bestWeights);
  if (typeof st.bestBpc !== 'number' || !Number.isFinite(st.bestBpc)) fail(`bestBpc must be a finite number (got ${describeValue(st.bestBpc)})`);
  const bestBpc = st.bestBpc as number;
  if (st.bestEpoch === null) {
    if (bestWeights !== null) fail('bestEpoch is null but there is a best copy');
    if (bestBpc !== NO_BEST_BPC) fail(`bestBpc must be ${NO_BEST_BPC} (no best copy yet) when bestEpoch is null (got ${bestBpc})`);
  } else {
    checkInt(`${where}: bestEpoch`, st.bestEpoch, 1, epoch, code);
    if (bestWeights === null) fail(`bestEpoch is ${st.bestEpoch} but there is no best copy`);
    if (!(bestBpc >= 0 && bestBpc < NO_BEST_BPC)) fail(`bestBpc must be from 0 to below ${NO_BEST_BPC} when there is a best copy (got ${bestBpc})`);
  }
  const kernels = st.kernels ?? null;
  if (kernels !== null && kernels !== 'exact' && kernels !== 'fast') fail(`kernels must be 'exact' or 'fast' (got ${describeValue(kernels)})`);
  return { schema: CHECKPOINT_SCHEMA, options, dataSha256: c.dataSha256 as string, state: { ...(st as TrainState), kernels } };
}

/** A checkpoint's options: all six present, numbers, valid (resolveTrainOptions's checks). */
function checkOptions(v: unknown, where: string, code: SatrnnErrorCode): ResolvedTrainOptions {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new SatrnnError(code, `${where}: options must be an object of ${OPTION_KEYS.join(', ')} (got ${describeValue(v)})`);
  const o = v as Record<string, unknown>;
  for (const k of OPTION_KEYS) if (typeof o[k] !== 'number') throw new SatrnnError(code, `${where}: options.${k} must be a number (got ${describeValue(o[k])})`);
  try {
    return resolveTrainOptions(o as unknown as ResolvedTrainOptions);
  } catch (err) {
    throw new SatrnnError(code, `${where}: options.${(err as Error).message}`);
  }
}

/** A checkpoint's JSON is a few hundred bytes; anything over this is not one. */
const CHECKPOINT_JSON_MAX_BYTES = 1 << 20;

/**
 * Reads a checkpoint written by saveCheckpoint (give the .json file; the model files are
 * read from the same folder). Every field is checked (types, ranges, consistency), the
 * model files' sha256 must match the recorded ones, and no message quotes the file's bytes.
 * A satrnn.checkpoint/1 file (no hash of its best copy, no kernels) is read with a warning.
 *
 * @param file - the checkpoint's `.json` file
 * @param opts - `onWarning` receives one-line warnings (a satrnn.checkpoint/1 file: what
 *   cannot be checked); by default they are not reported
 *
 * @throws SatrnnError `FILE_NOT_FOUND`, `FILE_UNREADABLE` for a file that is not a valid
 *   satrnn checkpoint (or whose model files were changed), or the model files' errors
 *   (`BAD_MODEL_SIZE`, `BAD_MODEL_VALUES`, ...)
 */
export function loadCheckpoint(file: string, opts: { onWarning?: (message: string) => void } = {}): TrainCheckpoint {
  const pass = 'pass the checkpoint-epoch<e>.json written by --checkpoint-every';
  const notCheckpoint = (why: string): never => {
    throw new SatrnnError('FILE_UNREADABLE', `${file} is not a satrnn checkpoint JSON (${why}; pass the checkpoint-epoch<e>.json)`);
  };
  const looksLikeModel = (size: number): boolean => size > 0 && size % 4 === 0 && hiddenFromParamCount(size / 4) !== null;
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    const c = (err as NodeJS.ErrnoException).code;
    throw new SatrnnError(c === 'ENOENT' || c === 'ENOTDIR' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE', `cannot read checkpoint ${file}: ${errnoText(err)}; ${pass}`);
  }
  if (st.isDirectory()) throw new SatrnnError('FILE_UNREADABLE', `cannot read checkpoint ${file}: it is a folder; ${pass}`);
  if (!st.isFile()) notCheckpoint('it is a device, FIFO or socket, not a file');
  if (st.size > CHECKPOINT_JSON_MAX_BYTES) notCheckpoint(looksLikeModel(st.size) ? 'it looks like a model file' : `${st.size} bytes, too large for one`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new SatrnnError('FILE_UNREADABLE', `cannot read checkpoint ${file}: ${errnoText(err)}`);
  }
  if (bytes.length === 0) notCheckpoint('it is empty');
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // not UTF-8: binary
  }
  if (text === '' || text.includes('\0')) notCheckpoint(looksLikeModel(bytes.length) ? 'it looks like a model file' : 'it is a binary file');
  let meta: unknown = undefined;
  try {
    meta = JSON.parse(text);
  } catch {
    notCheckpoint('it is not valid JSON');
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) notCheckpoint(`it holds ${describeValue(meta)}, not a JSON object`);
  const m = meta as Record<string, unknown>;
  const schema = m.schema;
  if (schema !== CHECKPOINT_SCHEMA && schema !== CHECKPOINT_SCHEMA_1) {
    const named = typeof schema === 'string' && /^satrnn\.[a-z0-9_-]{1,32}\/\d{1,6}$/.test(schema) ? schema : undefined;
    if (named?.startsWith('satrnn.checkpoint/'))
      throw new SatrnnError('FILE_UNREADABLE', `${file} is a checkpoint of a newer satrnn (schema ${named}); this version ${VERSION} reads ${CHECKPOINT_SCHEMA} and ${CHECKPOINT_SCHEMA_1}`);
    if (named?.startsWith('satrnn.train/')) notCheckpoint(`it is a \`satrnn train --json\` report, schema ${named}`);
    notCheckpoint(named ? `its schema is ${named}` : `no "schema": "${CHECKPOINT_SCHEMA}" in it`);
  }
  const v1 = schema === CHECKPOINT_SCHEMA_1;
  const where = `checkpoint ${file}`;
  const fail = (what: string): never => {
    throw new SatrnnError('FILE_UNREADABLE', `${where}: ${what}`);
  };
  const options = checkOptions(m.options, where, 'FILE_UNREADABLE');
  const H = options.hidden;
  const hex = (k: string): string => {
    const h = m[k];
    if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)) fail(`${k} must be 64 hex digits (got ${describeValue(h)})`);
    return h as string;
  };
  const fileName = (k: string): string => {
    const n = m[k];
    if (typeof n !== 'string' || n === '' || n === '.' || n === '..' || /[/\\\0]/.test(n)) fail(`${k} must be the name of a file in the checkpoint's folder (got ${describeValue(n)})`);
    return n as string;
  };
  const dataSha256 = hex('dataSha256');
  const epoch = checkInt(`${where}: epoch`, m.epoch, 0, options.epochs, 'FILE_UNREADABLE');
  if (typeof m.bestBpc !== 'number') fail(`bestBpc must be a number (got ${describeValue(m.bestBpc)})`);
  if (m.bestEpoch !== null) checkInt(`${where}: bestEpoch`, m.bestEpoch, 1, epoch, 'FILE_UNREADABLE');
  let kernels: 'exact' | 'fast' | null = null;
  if (!v1) {
    if (m.kernels !== 'exact' && m.kernels !== 'fast' && m.kernels !== null) fail(`kernels must be 'exact' or 'fast' (got ${describeValue(m.kernels)})`);
    kernels = m.kernels as 'exact' | 'fast' | null;
  }
  const modelName = fileName('model');
  // A v1 file recorded the model's hash (never checked then); v2 records both files'.
  const modelSha = v1 && m.modelSha256 === undefined ? null : hex('modelSha256');
  const bestName = m.best === null ? null : fileName('best');
  const bestSha = bestName === null ? null : v1 ? null : hex('bestSha256');
  if (v1)
    opts.onWarning?.(
      `checkpoint ${file} is schema ${CHECKPOINT_SCHEMA_1}: the hash of its best copy${modelSha === null ? ' and of its model' : ''} and its kernels were not recorded, so they cannot be checked (resume it with the same --fast choice as the run that wrote it)`,
    );
  else if (kernels === null) opts.onWarning?.(`checkpoint ${file} does not record its kernels (it was converted from ${CHECKPOINT_SCHEMA_1}): they cannot be checked`);
  const dir = path.dirname(file);
  const load = (name: string, sha: string | null): Float32Array => {
    const p = path.join(dir, name);
    const b = readFileChecked(p, 'checkpoint model');
    if (sha !== null && sha256(b) !== sha)
      throw new SatrnnError('FILE_UNREADABLE', `${p} does not match its checkpoint ${file} (sha256 differs: the file was replaced or changed after the checkpoint was written); use the files written with it, or another checkpoint`);
    return parseModel(b, p, { hidden: H }).weights;
  };
  const weights = load(modelName, modelSha);
  const bestWeights = bestName === null ? null : load(bestName, bestSha);
  return checkCheckpoint(
    {
      schema: CHECKPOINT_SCHEMA,
      options,
      dataSha256,
      state: { epoch, epochs: options.epochs, hidden: H, weights, bestBpc: m.bestBpc as number, bestEpoch: m.bestEpoch as number | null, bestWeights, kernels },
    },
    where,
    'FILE_UNREADABLE',
  );
}
