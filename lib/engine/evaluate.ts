// The engine's driver: runs groups (a dynamics variant and its readout variants) over a
// text chunk by chunk on any backend, carrying each group's state, statistics and running
// sums across chunks. A chunked run equals a whole-text run bit for bit (the running sums
// continue in t order), and working memory is O(H^2 + chunk) whatever the text's length.
import { SatrnnError, throwIfAborted } from '../errors.js';
import type { Model } from '../model.js';
import { VOCAB, layout } from './layout.js';
import { knownLength, predictionChunks, type TextSource } from './source.js';
import { NEURON } from './types.js';
import type { Backend, ChunkGroup, ReadoutMethod, RunOptions, StatsAccumulators } from './types.js';

/** An intervention on neuron j inside the recurrence, applied after every step. */
export type NeuronIntervention = { neuron: number; clamp: number } | { neuron: number; sign: true };

/** A variant of the forward pass. */
export interface DynamicsSpec {
  /** The variant's weights with its edits applied (lib/engine/edits.ts); default: the model's. */
  weights?: Float32Array;
  neurons?: readonly NeuronIntervention[];
  /** Input bytes replaced at absolute positions. */
  inputs?: readonly { position: number; byte: number }[];
  /**
   * Start the dynamics at absolute position `position` from `state` (the state before that
   * input, e.g. the base run's state at position - 1): a variant that differs from the base
   * only from there on need not re-run what comes before. Its readout covers positions >=
   * start, unless `prefix` gives the states of every earlier position ([position*H], e.g.
   * the base run's): they are then read out as the variant's own, so its means cover the
   * whole text and equal a full re-run's bit for bit. Statistics cover the steps it ran.
   */
  start?: { position: number; state: Float32Array; prefix?: Float32Array };
}

export interface GroupSpec {
  dynamics?: DynamicsSpec;
  /**
   * The states of the whole text, already computed (states[t*H + i], t = 0 .. n-2): the
   * group reads them instead of running dynamics (no `dynamics`, no `stats`).
   */
  states?: Float32Array;
  /** Readout variants: USE codes, V*H (may be empty). */
  use?: Uint8Array;
  /** Accumulate the trajectory statistics of this group. */
  stats?: boolean;
  /** Read out only at these absolute positions (ascending; default: every position). */
  positions?: readonly number[];
  /** Stream the probability rows of the positions read out (ChunkOutput.groups[i].probs). */
  probs?: boolean;
  /** Write this group's states of the whole text here ([(n-1)*H]; in-memory texts). */
  keepStates?: Float32Array;
}

/** What a chunk hands to `onChunk` when per-position outputs are streamed. */
export interface ChunkOutput {
  pos0: number;
  steps: number;
  /**
   * Per group: bits [V*steps] (when stream.bits), states and pre-activations [steps*H];
   * probability rows [V*P*256] of the P positions read out in this chunk (`rowPositions`).
   */
  groups: { bits?: Float64Array; states?: Float32Array; pre?: Float32Array; probs?: Float64Array; rowPositions?: number[] }[];
}

export interface EvaluateRequest {
  model: Model;
  text: TextSource;
  groups: readonly GroupSpec[];
  method?: ReadoutMethod;
  /** Predictions per chunk (default: as many as fit the memory budget). */
  chunkSize?: number;
  /** Per-position outputs, handed to onChunk chunk by chunk (never kept whole). */
  stream?: { bits?: boolean; states?: boolean; pre?: boolean };
  onChunk?: (out: ChunkOutput) => void;
  /** Smallest text length accepted (default 2: one prediction). */
  minBytes?: number;
}

export interface TrajectoryStats {
  /** mean over t of |h_t[j]|, summed in double in t order (q3's mean|h_j|). */
  meanAbs: Float64Array;
  /** The float32 running sum of |h_t[j]| (q4_saturation's sumabs). */
  sumAbsF32: Float32Array;
  minAbs: Float32Array;
  /** Steps with |h_t[j]| >= 0.999f. */
  saturated: Uint32Array;
  /** Sign changes between consecutive steps (sign: h >= 0). */
  flips: Uint32Array;
}

export interface GroupResult {
  /** Mean bits per character of each readout variant over the positions read out (00-common §5). */
  mean: Float64Array;
  /** Positions read out (n - 1 unless `positions` or `start` narrowed them). */
  predictions: number;
  stats?: TrajectoryStats;
  /** The state after the last input. */
  finalState?: Float32Array;
}

export interface EvaluateResult {
  /** Number of predictions, n - 1. */
  predictions: number;
  groups: GroupResult[];
  /** False when some readout used the ordered sums (states outside [-1, 1]). */
  certified: boolean;
  fallbacks: number;
}

/** Working memory per chunk (states, pre-activations and bits of all groups). */
export const CHUNK_MEMORY_BUDGET = 64 << 20;
const MIN_CHUNK = 256;
const MAX_CHUNK = 1 << 20;

function newStats(H: number): StatsAccumulators {
  return {
    sumAbs: new Float64Array(H),
    sumAbsF32: new Float32Array(H),
    minAbs: new Float32Array(H).fill(2),
    saturated: new Uint32Array(H),
    flips: new Uint32Array(H),
    lastSign: new Uint8Array(H),
  };
}

function checkNeuron(j: number, H: number, what: string): number {
  if (!Number.isInteger(j)) throw new SatrnnError('BAD_OPTION', `${what}: neuron index ${j} is not an integer`);
  if (j < 0 || j >= H) throw new SatrnnError('BAD_OPTION', `${what}: neuron index ${j} is out of range 0..${H - 1}`);
  return j;
}

/** The chunk group of a spec, with its carried arrays. */
function makeGroup(model: Model, spec: GroupSpec): ChunkGroup {
  const H = model.hidden;
  const d = spec.dynamics ?? {};
  const weights = d.weights ?? model.weights;
  if (weights.length !== layout(H).count)
    throw new SatrnnError('BAD_OPTION', `variant weights have ${weights.length} floats, a model with H=${H} needs ${layout(H).count}`);
  if (spec.states && (spec.dynamics || spec.stats)) throw new SatrnnError('BAD_OPTION', 'a group with given states has no dynamics or stats');
  const g: ChunkGroup = spec.states ? { weights } : { weights, state: new Float32Array(H), stepsBefore: 0 };
  if (d.neurons && d.neurons.length > 0) {
    g.mode = new Uint8Array(H);
    g.value = new Float32Array(H);
    for (const n of d.neurons) {
      const j = checkNeuron(n.neuron, H, 'neuron intervention');
      if ('clamp' in n) {
        if (!Number.isFinite(n.clamp)) throw new SatrnnError('BAD_OPTION', `clamp value for neuron ${j} must be finite`);
        g.mode[j] = NEURON.clamp;
        g.value[j] = n.clamp;
      } else g.mode[j] = NEURON.sign;
    }
  }
  if (d.inputs && d.inputs.length > 0) {
    const sorted = [...d.inputs].sort((a, b) => a.position - b.position);
    sorted.forEach((s, i) => {
      if (!Number.isInteger(s.position) || s.position < 0) throw new SatrnnError('BAD_OPTION', `input position ${s.position} must be a non-negative integer`);
      if (i > 0 && s.position === sorted[i - 1]!.position) throw new SatrnnError('BAD_OPTION', `input position ${s.position} is substituted twice`);
      if (!Number.isInteger(s.byte) || s.byte < 0 || s.byte > 255) throw new SatrnnError('BAD_OPTION', `substituted byte ${s.byte} must be an integer in 0..255`);
    });
    g.substPos = Float64Array.from(sorted, (s) => s.position);
    g.substByte = Uint8Array.from(sorted, (s) => s.byte);
  }
  if (d.start) {
    if (!Number.isInteger(d.start.position) || d.start.position < 0) throw new SatrnnError('BAD_OPTION', `start position ${d.start.position} must be a non-negative integer`);
    if (!(d.start.state instanceof Float32Array) || d.start.state.length !== H) throw new SatrnnError('BAD_OPTION', `start state must be a Float32Array of ${H} values`);
    g.state!.set(d.start.state);
    if (d.start.prefix && d.start.prefix.length < d.start.position * H)
      throw new SatrnnError('BAD_OPTION', `start prefix holds ${d.start.prefix.length / H} positions, start is ${d.start.position}`);
  }
  if (spec.positions) {
    spec.positions.forEach((p, i) => {
      if (!Number.isInteger(p) || p < 0 || (i > 0 && !(p > spec.positions![i - 1]!)))
        throw new SatrnnError('BAD_OPTION', 'positions must be ascending, distinct, non-negative integers');
    });
  }
  if (spec.stats) g.stats = newStats(H);
  if (spec.use) {
    if (spec.use.length % H !== 0) throw new SatrnnError('BAD_OPTION', `readout use codes have length ${spec.use.length}, not a multiple of H=${H}`);
    g.use = spec.use;
    g.totals = new Float64Array(spec.use.length / H);
  }
  return g;
}

/** Predictions per chunk so that one chunk's states, pre-activations and bits fit the budget. */
export function chunkSizeFor(H: number, groups: readonly GroupSpec[], stream: EvaluateRequest['stream'] = {}): number {
  let perPosition = 0;
  for (const g of groups) {
    if (!g.states && !g.keepStates) perPosition += 4 * H * (1 + (stream.pre ? 1 : 0)); // states (scratch or streamed), pre
    perPosition += 8 * (g.use ? g.use.length / H : 0) * (1 + (g.probs && !g.positions ? VOCAB : 0)); // bits, probability rows
  }
  return Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, Math.floor(CHUNK_MEMORY_BUDGET / Math.max(1, perPosition))));
}

/** Runs the groups over the text; see the file comment. */
export async function evaluate(backend: Backend, req: EvaluateRequest, opts: RunOptions = {}): Promise<EvaluateResult> {
  const { model } = req;
  const H = model.hidden;
  const groups = req.groups.map((s) => makeGroup(model, s));
  const stream = req.stream ?? {};
  const size = req.chunkSize ?? chunkSizeFor(H, req.groups, stream);
  if (!Number.isInteger(size) || size < 1) throw new SatrnnError('BAD_OPTION', `chunkSize must be a positive integer (got ${size})`);
  const method = req.method ?? 'certified';
  if (method !== 'certified' && method !== 'ordered') throw new SatrnnError('BAD_OPTION', `readout method must be 'certified' or 'ordered' (got '${String(method)}')`);
  const n = await knownLength(req.text);
  const perPrediction = groups.reduce((s, g) => s + 1 + (g.totals?.length ?? 0), 0);
  const total = n !== undefined ? Math.max(0, n - 1) * perPrediction : 0;
  let doneBefore = 0;
  let predictions = 0;
  const counts = groups.map(() => 0);
  let certified = method === 'certified';
  let fallbacks = 0;
  for await (const chunk of predictionChunks(req.text, size)) {
    throwIfAborted(opts.signal);
    const T = chunk.steps;
    req.groups.forEach((spec, i) => {
      if (!spec.states) return;
      if (spec.states.length < (chunk.pos0 + T) * H) throw new SatrnnError('BAD_OPTION', `given states cover ${spec.states.length / H} positions; the text has more`);
      groups[i]!.states = spec.states.subarray(chunk.pos0 * H, (chunk.pos0 + T) * H);
    });
    const rowPositions: (number[] | undefined)[] = [];
    req.groups.forEach((spec, i) => {
      const g = groups[i]!;
      const st = spec.dynamics?.start;
      let start = st?.position ?? 0;
      if (st?.prefix) {
        // Before the start the group reads the given states; the chunk holding the start
        // gets the rows before it as a prefix; after it, plain dynamics.
        delete g.states;
        delete g.prefix;
        if (chunk.pos0 + T <= st.position) {
          g.states = st.prefix.subarray(chunk.pos0 * H, (chunk.pos0 + T) * H);
          delete g.from;
        } else if (chunk.pos0 < st.position) g.prefix = st.prefix.subarray(chunk.pos0 * H, st.position * H);
        start = 0; // every position is read out
      }
      if (!g.states && !spec.states) g.from = Math.min(T, Math.max(0, (st?.position ?? 0) - chunk.pos0));
      let rows: number[] | undefined;
      if (spec.positions) {
        const sel = new Uint8Array(T);
        rows = [];
        for (const p of spec.positions)
          if (p >= chunk.pos0 && p < chunk.pos0 + T && p >= start) {
            sel[p - chunk.pos0] = 1;
            rows.push(p);
          }
        g.select = sel;
      } else if (spec.probs) {
        rows = [];
        for (let t = Math.max(0, start - chunk.pos0); t < T; t++) rows.push(chunk.pos0 + t);
      }
      rowPositions.push(rows);
      if (spec.probs && g.totals) g.probsOut = new Float64Array(g.totals.length * rows!.length * VOCAB);
    });
    groups.forEach((g, i) => {
      const keep = req.groups[i]!.keepStates;
      if (keep && !g.states) {
        if (keep.length < (chunk.pos0 + T) * H) throw new SatrnnError('BAD_OPTION', `keepStates holds ${keep.length / H} positions; the text has more`);
        g.statesOut = keep.subarray(chunk.pos0 * H, (chunk.pos0 + T) * H);
      } else if (stream.states && !g.states) g.statesOut = new Float32Array(T * H);
      else delete g.statesOut;
      if (stream.pre && !g.states) g.preOut = new Float32Array(T * H);
      else delete g.preOut;
      if (stream.bits && g.totals) g.bitsOut = new Float64Array(g.totals.length * T);
      else delete g.bitsOut;
    });
    const r = await backend.runChunk(
      { hidden: H, bytes: chunk.bytes, pos0: chunk.pos0, steps: T, method, groups },
      { ...(opts.signal ? { signal: opts.signal } : {}), onProgress: (d) => opts.onProgress?.(doneBefore + d, total) },
    );
    certified &&= r.certified;
    fallbacks += r.fallbacks;
    predictions += T;
    doneBefore += T * perPrediction;
    opts.onProgress?.(doneBefore, total);
    groups.forEach((g, i) => {
      if (!g.states) g.stepsBefore = (g.stepsBefore ?? 0) + (T - (g.from ?? 0));
      counts[i] = counts[i]! + (rowPositions[i]?.length ?? (g.states || g.prefix ? T : T - (g.from ?? 0)));
    });
    req.onChunk?.({
      pos0: chunk.pos0,
      steps: T,
      groups: groups.map((g, i) => ({
        ...(g.bitsOut ? { bits: g.bitsOut } : {}),
        ...(g.statesOut ? { states: g.statesOut } : {}),
        ...(g.preOut ? { pre: g.preOut } : {}),
        ...(g.probsOut ? { probs: g.probsOut, rowPositions: rowPositions[i]! } : {}),
      })),
    });
  }
  const minBytes = req.minBytes ?? 2;
  if (predictions + 1 < minBytes)
    throw new SatrnnError('DATA_TOO_SHORT', `${predictions === 0 ? 'at most 1 byte' : `${predictions + 1} bytes`} of data; at least ${minBytes} needed (n - 1 predictions are scored)`);
  return {
    predictions,
    certified,
    fallbacks,
    groups: groups.map((g, i) => ({
      mean: g.totals ? g.totals.map((s) => s / counts[i]!) : new Float64Array(0),
      predictions: counts[i]!,
      ...(g.stats
        ? {
            stats: {
              meanAbs: g.stats.sumAbs.map((s) => s / g.stepsBefore!),
              sumAbsF32: g.stats.sumAbsF32,
              minAbs: g.stats.minAbs,
              saturated: g.stats.saturated,
              flips: g.stats.flips,
            },
          }
        : {}),
      ...(g.state ? { finalState: g.state } : {}),
    })),
  };
}
