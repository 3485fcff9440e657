// The training loop of sat_train (spec sat_train.md), generalised: any H, any text, any
// epoch count, checkpoints and resume. Kernels come from the backend (native or js, same
// bytes); this file only orchestrates epochs, the schedule, the best copy and evaluation.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { resolveBackend, type Backend, type BackendChoice } from '../../engine/index.js';
import { checkData } from '../../data.js';
import { readFileChecked } from '../../io.js';
import { SatrnnError, throwIfAborted } from '../../errors.js';
import { Model, paramCount, parseModel, saveModel } from '../../model.js';
import { trainInit, trainLr } from '../../engine/js/train.js';

/** Options of {@link train} (checked when training starts; see ResolvedTrainOptions for the ranges). */
export interface TrainOptions {
  /** Training text (any bytes, at least 2). */
  data: Uint8Array;
  /** Hidden units (default 128, the original). */
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
  /** Continue a run from a checkpoint (its options must match these). */
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
  /** The train bpc of the best copy (999 before there is one). */
  bestBpc: number;
  /** The epoch of the best copy, null before any. */
  bestEpoch: number | null;
  /** The weights after `bestEpoch`, null before any. */
  bestWeights: Float32Array | null;
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
 * The original's report schedule (sat_train.md, main loop step 3): whether epoch `e`
 * (1-based) of `total` is evaluated and printed.
 */
export function isReportedEpoch(e: number, total: number): boolean {
  return e <= 10 || (e <= 100 && e % 10 === 0) || (e <= 1000 && e % 100 === 0) || e % 1000 === 0 || e === total;
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new SatrnnError('BAD_OPTION', `${name} must be an integer from ${min} to ${max} (got ${v})`);
  return v;
}

function checkFloat(name: string, v: number): number {
  const f = Math.fround(v);
  if (!Number.isFinite(v) || !(f > 0) || !Number.isFinite(f)) throw new SatrnnError('BAD_OPTION', `${name} must be a positive finite number (got ${v})`);
  return f;
}

/** Training options checked and with their defaults filled in: what a checkpoint records and a resume must match. */
export interface ResolvedTrainOptions {
  /** H, 1 to 65536 (default 128). */
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

/**
 * Checks the hyper-parameters of `o` and fills in the defaults.
 *
 * @throws SatrnnError `BAD_OPTION` for a value out of range (lr and clip: positive and finite as float32)
 */
export function resolveTrainOptions(o: Omit<TrainOptions, 'data'>): ResolvedTrainOptions {
  return {
    hidden: checkInt('hidden', o.hidden ?? 128, 1, 65536),
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

/**
 * Trains a sat-rnn (sat_train.md, generalised): epochs of truncated BPTT with SGD, global
 * gradient-norm clipping and a cosine learning rate, from {@link initialModel} or a
 * checkpoint. Deterministic; with the exact kernels (the default) the bytes are the same on
 * every backend.
 *
 * @throws SatrnnError `BAD_OPTION` for bad options or a checkpoint that does not match
 *   them or the data, `DATA_TOO_SHORT`, `ABORTED`
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const o = resolveTrainOptions(opts);
  const data = checkData(opts.data);
  const backend = resolveBackend(opts.backend);
  const evaluate = opts.evaluate ?? 'reported';
  const H = o.hidden;
  let state: TrainState;
  if (opts.resume) {
    const r = opts.resume;
    const mismatch = (['hidden', 'epochs', 'bptt', 'lr', 'seed', 'clip'] as const).filter((k) => r.options[k] !== o[k]);
    if (mismatch.length > 0)
      throw new SatrnnError('BAD_OPTION', `cannot resume: the checkpoint was made with different ${mismatch.join(', ')} (${mismatch.map((k) => `${k}=${r.options[k]}`).join(', ')})`);
    if (r.dataSha256 !== sha256(data)) throw new SatrnnError('BAD_OPTION', 'cannot resume: the checkpoint was trained on different data');
    state = { ...r.state, weights: new Float32Array(r.state.weights), bestWeights: r.state.bestWeights ? new Float32Array(r.state.bestWeights) : null };
  } else {
    state = { epoch: 0, epochs: o.epochs, hidden: H, weights: initialModel(H, o.seed).weights, bestBpc: 999.0, bestEpoch: null, bestWeights: null };
  }
  const history: EpochMetrics[] = [];
  const fast = opts.fast === true && backend.fastTraining;
  const params = { bptt: o.bptt, lr: o.lr, clip: o.clip, fast };
  for (let e = state.epoch + 1; e <= o.epochs; e++) {
    throwIfAborted(opts.signal);
    const epochLr = trainLr(e, o.epochs, o.lr);
    const trainBpc = await backend.trainEpoch(state.weights, H, data, epochLr, params, opts.signal);
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
  return {
    model: new Model(state.weights, H, 'trained'),
    best: state.bestWeights && state.bestEpoch !== null ? { model: new Model(state.bestWeights, H, 'best'), trainBpc: state.bestBpc, epoch: state.bestEpoch } : null,
    history,
    kernels: fast ? 'fast' : 'exact',
  };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A resumable snapshot: the options, the data hash and the full training state. */
export interface TrainCheckpoint {
  /** Format tag of the checkpoint. */
  schema: 'satrnn.checkpoint/1';
  /** The run's options; a resume must use the same. */
  options: ResolvedTrainOptions;
  /** SHA-256 (hex) of the training data; a resume must use the same data. */
  dataSha256: string;
  /** The training state after the checkpoint's epoch. */
  state: TrainState;
}

/** A checkpoint of a run: `state` is copied (training may go on changing it), `data` only hashed. */
export function makeCheckpoint(options: ResolvedTrainOptions, data: Uint8Array, state: TrainState): TrainCheckpoint {
  return { schema: 'satrnn.checkpoint/1', options, dataSha256: sha256(data), state: { ...state, weights: new Float32Array(state.weights), bestWeights: state.bestWeights ? new Float32Array(state.bestWeights) : null } };
}

/**
 * Writes a checkpoint as `<base>.bin` (the current model, a normal model file),
 * `<base>.best.bin` (the best copy, if any) and `<base>.json` (options and state), each
 * through a temp file and a rename.
 *
 * @returns the path of the `.json` file (what {@link loadCheckpoint} reads)
 * @throws SatrnnError `WRITE_FAILED`
 */
export function saveCheckpoint(cp: TrainCheckpoint, base: string): string {
  const H = cp.state.hidden;
  saveModel(new Model(cp.state.weights, H), `${base}.bin`);
  if (cp.state.bestWeights) saveModel(new Model(cp.state.bestWeights, H), `${base}.best.bin`);
  const meta = {
    schema: cp.schema,
    options: cp.options,
    dataSha256: cp.dataSha256,
    epoch: cp.state.epoch,
    bestBpc: cp.state.bestBpc,
    bestEpoch: cp.state.bestEpoch,
    model: path.basename(`${base}.bin`),
    best: cp.state.bestWeights ? path.basename(`${base}.best.bin`) : null,
    modelSha256: sha256(new Model(cp.state.weights, H).toBytes()),
  };
  const json = `${base}.json`;
  const tmp = `${json}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(meta, null, 2)}\n`);
    renameSync(tmp, json);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new SatrnnError('WRITE_FAILED', `cannot write checkpoint ${json}: ${(err as Error).message}`);
  }
  return json;
}

/**
 * Reads a checkpoint written by saveCheckpoint (give the .json file; the model files are
 * read from the same folder).
 *
 * @throws SatrnnError `FILE_UNREADABLE` for a file that is not a satrnn checkpoint, or the
 *   model files' errors (`FILE_NOT_FOUND`, `BAD_MODEL_SIZE`, ...)
 */
export function loadCheckpoint(file: string): TrainCheckpoint {
  let meta: {
    schema?: string;
    options: ResolvedTrainOptions;
    dataSha256: string;
    epoch: number;
    bestBpc: number;
    bestEpoch: number | null;
    model: string;
    best: string | null;
  };
  try {
    meta = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SatrnnError('FILE_UNREADABLE', `cannot read checkpoint ${file}: ${(err as Error).message}; pass the .json file written by --checkpoint-every`);
  }
  if (meta.schema !== 'satrnn.checkpoint/1') throw new SatrnnError('FILE_UNREADABLE', `${file} is not a satrnn checkpoint (schema ${String(meta.schema)})`);
  const dir = path.dirname(file);
  const H = meta.options.hidden;
  const load = (name: string): Float32Array => parseModel(readFileChecked(path.join(dir, name), 'checkpoint model'), path.join(dir, name), { hidden: H }).weights;
  return {
    schema: 'satrnn.checkpoint/1',
    options: meta.options,
    dataSha256: meta.dataSha256,
    state: {
      epoch: meta.epoch,
      epochs: meta.options.epochs,
      hidden: H,
      weights: load(meta.model),
      bestBpc: meta.bestBpc,
      bestEpoch: meta.bestEpoch,
      bestWeights: meta.best ? load(meta.best) : null,
    },
  };
}
