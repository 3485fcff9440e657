// The engine's driver: runs groups (a dynamics variant and its readout variants) over a
// text chunk by chunk on any backend, carrying each group's state, statistics and running
// sums across chunks. A chunked run equals a whole-text run bit for bit (the running sums
// continue in t order), and working memory is O(H^2 + chunk) whatever the text's length.
import { SatrnnError, describeValue, throwIfAborted } from '../errors.js';
import { assertFinite, type Model } from '../model.js';
import { VOCAB, layout } from './layout.js';
import { knownLength, predictionChunks, type TextSource } from './source.js';
import { NEURON, USE } from './types.js';
import type { Backend, ChunkGroup, ReadoutMethod, RunOptions, StatsAccumulators } from './types.js';

/** An intervention on neuron j inside the recurrence, applied after every step. */
export type NeuronIntervention =
  | {
      /** The neuron j, 0 .. H-1. */
      neuron: number;
      /** The finite value h_j is set to after every step (0: a full ablation). */
      clamp: number;
    }
  | {
      /** The neuron j, 0 .. H-1. */
      neuron: number;
      /** h_j is replaced by sgn(h_j) after every step: +1 for h_j >= 0 (also -0), else -1. */
      sign: true;
    };

/** A variant of the forward pass. */
export interface DynamicsSpec {
  /** The variant's weights with its edits applied (lib/engine/edits.ts); default: the model's. */
  weights?: Float32Array;
  /** Interventions inside the recurrence (for a neuron listed twice, the later entry wins). */
  neurons?: readonly NeuronIntervention[];
  /** Input bytes replaced at absolute positions (any order, each position once; a position the text never feeds, such as its last byte, changes nothing). */
  inputs?: readonly {
    /** Position t of the input, 0-based: the byte fed at step t instead of `text[t]`. */
    position: number;
    /** The byte fed there, 0-255. */
    byte: number;
  }[];
  /**
   * Start the dynamics at absolute position `position` from `state` (the state before that
   * input, e.g. the base run's state at position - 1): a variant that differs from the base
   * only from there on need not re-run what comes before. Its readout covers positions >=
   * start, unless `prefix` gives the states of every earlier position ([position*H], e.g.
   * the base run's): they are then read out as the variant's own, so its means cover the
   * whole text and equal a full re-run's bit for bit. Statistics cover the steps it ran.
   */
  start?: {
    /** Absolute position of the first input the dynamics feed (at or before the first `patch` position). */
    position: number;
    /** The state before that input, `[H]` (copied). */
    state: Float32Array;
    /** The states of the positions before `position`, at least `[position*H]`. */
    prefix?: Float32Array;
  };
  /**
   * Activation patching inside the recurrence: at each position `positions[p]`, neuron
   * `neurons[k]` is set to `values[p*K + k]` (K = neurons.length) after the step and after
   * the `neurons` interventions (the patch wins), so the readout at that position and the
   * next step both see the patched value (e.g. states of a run on another text or another
   * model). Every position must be one the text feeds (below its number of predictions,
   * n - 1) and at or after a `start`.
   */
  patch?: {
    /** Absolute positions t (the state after input t), ascending, distinct, non-negative integers. */
    positions: readonly number[];
    /** The patched neurons j, distinct, 0 .. H-1. */
    neurons: readonly number[];
    /** The values `[positions.length * neurons.length]`, position-major, finite (any magnitude; copied). */
    values: Float32Array;
  };
}

/** One group of an evaluation: a dynamics variant (or given states) and the readout variants read from it. */
export interface GroupSpec {
  /** The variant of the forward pass (default: the model's weights, no interventions). */
  dynamics?: DynamicsSpec;
  /**
   * The states of the whole text, already computed (states[t*H + i], t = 0 .. n-2): the
   * group reads them instead of running dynamics (no `dynamics`, no `stats`).
   */
  states?: Float32Array;
  /** Readout variants: USE codes, V*H (may be empty). */
  use?: Uint8Array;
  /** The values read where a use code is `USE.fixed`, V*H (finite float32). */
  useValues?: Float32Array;
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
  /** Absolute position of the chunk's first prediction. */
  pos0: number;
  /** Predictions in the chunk: positions pos0 .. pos0+steps-1. */
  steps: number;
  /** One entry per group, in request order; each field only when requested and the group has it. */
  groups: {
    /** Bits of each readout variant at each position, `[V*steps]` (`bits[v*steps + t]`), with `stream.bits`. */
    bits?: Float64Array;
    /**
     * The states `[steps*H]` (`states[t*H + i]`), with `stream.states` or `keepStates`, for
     * groups that run dynamics (rows before a dynamics `start` are not guaranteed).
     */
    states?: Float32Array;
    /** The pre-activations z `[steps*H]`, with `stream.pre`, for groups that run dynamics. */
    pre?: Float32Array;
    /** Probability rows `[V*P*256]` of the P positions read out in this chunk, with the group's `probs`. */
    probs?: Float64Array;
    /** The absolute positions of those P rows, ascending. */
    rowPositions?: number[];
  }[];
}

/** What {@link evaluate} runs: groups of variants over one text. */
export interface EvaluateRequest {
  /** The model: its hidden size, and the weights of groups without their own. */
  model: Model;
  /** The text; n bytes give n - 1 predictions (the state after byte t predicts byte t + 1). */
  text: TextSource;
  /** The groups, run side by side in one pass over the text; results in the same order. */
  groups: readonly GroupSpec[];
  /** How the readouts sum logits (default 'certified'; both give identical bits). */
  method?: ReadoutMethod;
  /** Predictions per chunk (default: as many as fit the memory budget). */
  chunkSize?: number;
  /** Per-position outputs, handed to onChunk chunk by chunk (never kept whole). */
  stream?: {
    /** Stream the bits of every readout variant at every position. */
    bits?: boolean;
    /** Stream the states of groups that run dynamics. */
    states?: boolean;
    /** Stream the pre-activations of groups that run dynamics. */
    pre?: boolean;
  };
  /** Receives each chunk's outputs, in text order, after the chunk ran. */
  onChunk?: (out: ChunkOutput) => void;
  /** Smallest text length accepted (default 2: one prediction). */
  minBytes?: number;
}

/** Per-neuron statistics of a trajectory (arrays `[H]`, indexed by neuron j) over the steps a group ran. */
export interface TrajectoryStats {
  /** Mean over t of h_t[j]: the float h_t[j] summed in double in t order, divided by the steps (meanAblate's value, rounded to float32 by the caller). */
  mean: Float64Array;
  /** mean over t of |h_t[j]|, summed in double in t order (q3's mean|h_j|). */
  meanAbs: Float64Array;
  /** The float32 running sum of |h_t[j]| (q4_saturation's sumabs). */
  sumAbsF32: Float32Array;
  /** Smallest |h_t[j]|. */
  minAbs: Float32Array;
  /** Steps with |h_t[j]| >= 0.999f. */
  saturated: Uint32Array;
  /** Sign changes between consecutive steps (sign: h >= 0). */
  flips: Uint32Array;
}

/** What one group of an evaluation yields. */
export interface GroupResult {
  /** Mean bits per character of each readout variant over the positions read out (00-common §5), `[V]`. */
  mean: Float64Array;
  /** Positions read out (n - 1 unless `positions` or `start` narrowed them). */
  predictions: number;
  /** The trajectory statistics, when the group asked for `stats`. */
  stats?: TrajectoryStats;
  /** The state after the last input `[H]`, for groups that run dynamics. */
  finalState?: Float32Array;
}

/** What {@link evaluate} returns. */
export interface EvaluateResult {
  /** Number of predictions, n - 1. */
  predictions: number;
  /** One result per GroupSpec, in request order. */
  groups: GroupResult[];
  /**
   * True when every readout used the certified sums; false with method 'ordered', or when
   * some readout used the ordered sums (states outside [-1, 1]).
   */
  certified: boolean;
  /** Logits, over all chunks, that the certificate did not cover and were re-summed in order. */
  fallbacks: number;
}

/** Working memory per chunk in bytes, 64 MiB (states, pre-activations and bits of all groups). */
export const CHUNK_MEMORY_BUDGET = 64 << 20;
const MIN_CHUNK = 256;
const MAX_CHUNK = 1 << 20;

function newStats(H: number): StatsAccumulators {
  return {
    sum: new Float64Array(H),
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

/** A group's activation patch over the whole text, checked, and the first row no chunk has had yet. */
interface TextPatch {
  positions: Float64Array;
  neurons: Uint32Array;
  /** A private copy: the caller may reuse its array while the run goes on. */
  values: Float32Array;
  next: number;
}

/** The checked patch of a spec (after makeGroup, which checks `start`). */
function makePatch(spec: GroupSpec, H: number): TextPatch | undefined {
  const p = spec.dynamics?.patch;
  if (p === undefined) return undefined;
  const bad = (m: string): never => {
    throw new SatrnnError('BAD_OPTION', m);
  };
  if (p === null || typeof p !== 'object' || !Array.isArray(p.positions) || !Array.isArray(p.neurons) || !(p.values instanceof Float32Array))
    bad(`patch must be { positions: number[], neurons: number[], values: Float32Array of positions.length * neurons.length } (got ${describeValue(p)})`);
  const { positions, neurons } = p;
  positions.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0) bad(`patch position ${t} must be a non-negative integer`);
    if (i > 0 && !(t > positions[i - 1]!)) bad(`patch positions must be ascending and distinct (${positions[i - 1]} then ${t})`);
  });
  const seen = new Set<number>();
  for (const j of neurons) {
    if (seen.has(checkNeuron(j, H, 'patch'))) bad(`patch: neuron ${j} is listed twice; list each neuron once`);
    seen.add(j);
  }
  const K = neurons.length;
  const want = positions.length * K;
  if (p.values.length !== want)
    bad(`patch values have length ${p.values.length}; ${positions.length} positions x ${K} neurons need ${want} (position-major: values[p*${K} + k])`);
  const values = p.values.slice();
  const i = values.findIndex((v) => !Number.isFinite(v));
  if (i >= 0) bad(`patch value ${values[i]} (position ${positions[Math.floor(i / K)]}, neuron ${neurons[i % K]}) must be finite`);
  const start = spec.dynamics?.start?.position;
  if (start !== undefined && positions.length > 0 && positions[0]! < start)
    bad(`patch position ${positions[0]} is before the dynamics start ${start}: start at or before the first patch position`);
  return { positions: Float64Array.from(positions), neurons: Uint32Array.from(neurons), values, next: 0 };
}

/** Hands a group the patch rows of the chunk: positions below `end` from where the last chunk stopped. */
function patchRows(g: ChunkGroup, tp: TextPatch, end: number): void {
  const a = tp.next;
  let b = a;
  while (b < tp.positions.length && tp.positions[b]! < end) b++;
  tp.next = b;
  if (a === b) {
    delete g.patchPos;
    delete g.patchNeurons;
    delete g.patchValues;
    return;
  }
  const K = tp.neurons.length;
  g.patchPos = tp.positions.subarray(a, b);
  g.patchNeurons = tp.neurons;
  g.patchValues = tp.values.subarray(a * K, b * K);
}

/** Every patch position must be one the text feeds (below its `predictions`). */
function checkPatchesReached(patches: readonly (TextPatch | undefined)[], predictions: number): void {
  for (const tp of patches) {
    const t = tp?.positions.find((x) => x >= predictions);
    if (t !== undefined)
      throw new SatrnnError('BAD_OPTION', `patch position ${t} is past the text's last input (position ${predictions - 1}; the text has ${predictions + 1} bytes)`);
  }
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
    if (spec.useValues) {
      if (!(spec.useValues instanceof Float32Array) || spec.useValues.length !== spec.use.length)
        throw new SatrnnError('BAD_OPTION', `useValues must be a Float32Array of ${spec.use.length} values (one per use code)`);
      if (!spec.useValues.every(Number.isFinite)) throw new SatrnnError('BAD_OPTION', 'useValues must be finite');
      g.useValues = spec.useValues;
    } else if (spec.use.includes(USE.fixed)) throw new SatrnnError('BAD_OPTION', 'useValues is required when a use code is USE.fixed');
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

/**
 * Runs the groups over the text in one pass, chunk by chunk on `backend`: each group's
 * dynamics (or given states) and its readout variants, carrying states, statistics and
 * running sums across chunks. A chunked run equals a whole-text run bit for bit, and
 * working memory stays O(H^2 + chunk) whatever the text's length.
 *
 * @param opts - progress in work units (`total` is 0 when the text's length is not known
 *   in advance, as for streams) and cancellation
 * @throws SatrnnError `BAD_OPTION` for a malformed request, `DATA_TOO_SHORT` below
 *   `req.minBytes`, `FILE_NOT_FOUND` / `FILE_UNREADABLE` for a file text, `ABORTED`
 */
export async function evaluate(backend: Backend, req: EvaluateRequest, opts: RunOptions = {}): Promise<EvaluateResult> {
  if (req === null || typeof req !== 'object') throw new SatrnnError('BAD_OPTION', `an evaluate request must be an object { model, text, groups } (got ${describeValue(req)})`);
  const { model } = req;
  checkModel(model);
  if (!Array.isArray(req.groups) || req.groups.some((g) => g === null || typeof g !== 'object'))
    throw new SatrnnError('BAD_OPTION', `groups must be an array of group objects (got ${describeValue(req.groups)})`);
  const H = model.hidden;
  const groups = req.groups.map((s) => makeGroup(model, s));
  const patches = req.groups.map((s) => makePatch(s, H));
  // Weights stay editable after a Model is built: a NaN written since would give silently
  // wrong bits (every logit NaN, every prediction at the floor), so every call re-checks.
  const checked = new Set<Float32Array>();
  for (const w of [model.weights, ...groups.map((g) => g.weights)])
    if (!checked.has(w)) {
      checked.add(w);
      assertFinite(w, H, w === model.weights ? `${model.source} (weights changed after loading)` : 'edited variant weights');
    }
  const guarded = guardCallbacks(opts);
  try {
    const result = await run(backend, req, groups, patches, guarded);
    guarded.rethrow(); // a callback that threw after the last chunk's work had started
    return result;
  } catch (err) {
    guarded.rethrow();
    throw err;
  }
}

async function run(backend: Backend, req: EvaluateRequest, groups: ChunkGroup[], patches: (TextPatch | undefined)[], opts: RunOptions): Promise<EvaluateResult> {
  const { model } = req;
  const H = model.hidden;
  const stream = req.stream ?? {};
  const size = req.chunkSize ?? chunkSizeFor(H, req.groups, stream);
  if (!Number.isInteger(size) || size < 1) throw new SatrnnError('BAD_OPTION', `chunkSize must be a positive integer (got ${size})`);
  const method = req.method ?? 'certified';
  if (method !== 'certified' && method !== 'ordered') throw new SatrnnError('BAD_OPTION', `readout method must be 'certified' or 'ordered' (got '${String(method)}')`);
  const n = await knownLength(req.text);
  const minBytes = req.minBytes ?? 2;
  // A patch past the end fails before the work when the length is known (else after it).
  if (n !== undefined && n >= minBytes) checkPatchesReached(patches, n - 1);
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
      const tp = patches[i];
      if (tp) patchRows(g, tp, chunk.pos0 + T);
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
  if (predictions + 1 < minBytes)
    throw new SatrnnError('DATA_TOO_SHORT', `${predictions === 0 ? 'at most 1 byte' : `${predictions + 1} bytes`} of data; at least ${minBytes} needed (n - 1 predictions are scored)`);
  checkPatchesReached(patches, predictions);
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
              mean: g.stats.sum.map((s) => s / g.stepsBefore!),
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

/** A Model (or an object shaped like one: the engine reads hidden and weights). */
function checkModel(model: unknown): asserts model is Model {
  const m = model as Model | null;
  if (m === null || typeof m !== 'object' || !Number.isInteger(m.hidden) || m.hidden < 1 || !(m.weights instanceof Float32Array) || m.weights.length !== layout(m.hidden).count)
    throw new SatrnnError('BAD_OPTION', `model must be a Model (from loadModel, parseModel or new Model(weights, H)); got ${describeValue(model)}`);
}

/**
 * Checked run options (undefined = none): an object whose `onProgress` is a function and
 * whose `signal` is an AbortSignal. `shape` names the fields in the message.
 * @internal
 */
export function checkRunOptions<T extends RunOptions>(opts: T | undefined, shape = '{ onProgress?, signal? }'): T {
  if (opts === undefined) return {} as T;
  if (opts === null || typeof opts !== 'object') throw new SatrnnError('BAD_OPTION', `run options must be an object ${shape} (got ${describeValue(opts)})`);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw new SatrnnError('BAD_OPTION', `onProgress must be a function (got ${describeValue(opts.onProgress)})`);
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw new SatrnnError('BAD_OPTION', `signal must be an AbortSignal (got ${describeValue(opts.signal)})`);
  return opts;
}

/**
 * Run options whose onProgress cannot break a run: a callback that throws stops the work
 * (through the abort signal) and its error becomes the run's rejection, instead of an
 * uncaught exception thrown from inside a progress tick.
 */
function guardCallbacks(opts: RunOptions): RunOptions & { rethrow(): void } {
  checkRunOptions(opts);
  const user = opts.onProgress;
  let failure: { error: unknown } | undefined;
  const ac = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, ac.signal]) : ac.signal;
  return {
    signal,
    onProgress: (done, total) => {
      if (failure || !user) return;
      try {
        user(done, total);
      } catch (error) {
        failure = { error };
        ac.abort();
      }
    },
    rethrow() {
      if (failure) throw failure.error;
    },
  };
}
