// An analysis: a model, a text and a backend. Experiments hand it lists of variants; it
// fuses them into engine groups (variants with the same dynamics share one forward pass,
// found by the content of their weights and interventions, not by how they were written)
// and returns one mean bpc per variant.
import { checkData } from './data.js';
import { applyEdits, type WeightEdit } from './engine/edits.js';
import { evaluate, type ChunkOutput, type DynamicsSpec, type GroupSpec, type NeuronIntervention, type TrajectoryStats } from './engine/evaluate.js';
import { resolveBackend, type Backend, type BackendChoice } from './engine/index.js';
import { readoutStatsJs } from './engine/model-stats.js';
import type { TextSource } from './engine/source.js';
import { USE, type ReadoutMethod, type ReadoutStats, type RunOptions } from './engine/types.js';
import { SatrnnError, describeValue } from './errors.js';
import { Model, assertFinite } from './model.js';

// node:crypto loads only when a batch has weight edits or interventions to hash (it costs a
// few ms of start-up that plain readout experiments do not need; so would node:module's
// createRequire, which starts the ES module loader's modules).
const createHash = (algorithm: string) => process.getBuiltinModule('node:crypto').createHash(algorithm);

/** What an {@link Analysis} is made of. */
export interface AnalysisInput {
  /** The model (any H). */
  readonly model: Model;
  /** The text: bytes (n >= 2), a file path, or a function returning a fresh async iterable of byte blocks (multi-pass experiments call it once per pass). */
  readonly data: TextSource;
  /** A backend from {@link selectBackend}, or a choice of one: `'native'`, `'js'`, `{ name: 'native', isa: 'scalar', threads: 2 }` … (default `'auto'`: native when it loads). */
  readonly backend?: Backend | BackendChoice;
  /** Readout summation strategy; both are bit-identical (default 'certified', the fast one; 'ordered' is the literal reference). */
  readonly readoutMethod?: ReadoutMethod;
  /** Predictions per engine chunk (default: what fits the memory budget); results never depend on it. */
  readonly chunkSize?: number;
  /**
   * Receives warnings about inputs that give exact but slow or degenerate results (subnormal
   * readout weights, probabilities at the 1e-30 floor). Default: `process.emitWarning`.
   */
  readonly onWarning?: (message: string) => void;
}

/** What the readout sees of each neuron in one variant. */
export interface ReadoutVariant {
  /** Neurons whose readout term is removed (Wy column zeroed). */
  knockout?: readonly number[];
  /** Keep only these neurons (applied before `knockout`). */
  keepOnly?: readonly number[];
  /** Neurons read as sgn(h) (+1 for h >= 0, -1 otherwise) in the readout. */
  signSnap?: readonly number[];
  /** Neurons read as -h in the readout. */
  negate?: readonly number[];
  /** Neurons read as their mean over the base run (a float32 constant) in the readout. */
  readMean?: readonly number[];
}

/** An intervention on neuron j inside the recurrence: the engine's, or `mean` (the base run's mean of h_j). */
export type VariantNeuron =
  | NeuronIntervention
  | {
      /** The neuron j, 0 .. H-1. */
      neuron: number;
      /**
       * h_j set after every step to its mean over the base run on the analysis' text (a double
       * sum in t order of the float h_j, divided by the number of steps, rounded to float32).
       */
      mean: true;
    };

/** The donor run of an activation patch: another text, another model of the same H, or both. */
export interface PatchSource {
  /** The donor text (default: the analysis' text). A text of m bytes has positions 0 .. m-2. */
  readonly data?: TextSource;
  /** The donor model (default: the analysis' model); it must have the analysis model's H. */
  readonly model?: Model;
}

/** An activation patch: h_j of the listed neurons, at the listed positions, taken from a donor run. */
export interface PatchSpec {
  /** The neurons patched (distinct, 0 .. H-1). */
  readonly neurons: readonly number[];
  /**
   * Positions t (the state after input t, which predicts byte t + 1), ascending and distinct;
   * default: every position of the analysis' text. Each must exist in the donor run too.
   */
  readonly positions?: readonly number[];
  /** The donor run. */
  readonly from: PatchSource;
}

/** One evaluation: changes to the dynamics (weights, neurons, inputs, patches) and to the readout. */
export interface Variant extends ReadoutVariant {
  /** Weight edits applied before the dynamics run (the readout reads the edited Wy too: Wy is never edited here). */
  edits?: readonly WeightEdit[];
  /** Interventions inside the recurrence, after every step. */
  neurons?: readonly VariantNeuron[];
  /** Input bytes replaced at absolute positions. */
  inputs?: readonly {
    /** Position t of the input, 0-based: the byte fed at step t instead of the text's. */
    position: number;
    /** The byte fed there, 0..255. */
    byte: number;
  }[];
  /**
   * Activation patches: at their positions the neurons' states are set to the donor run's,
   * after the step's other interventions. Several patches of one variant must share their
   * positions (they may differ in neurons and donors).
   */
  patch?: readonly PatchSpec[];
}

/** Options of {@link Analysis.evaluateVariants}. */
export interface EvaluateVariantsOptions extends RunOptions {
  /**
   * Also return the bits of every prediction of each variant: `true` for every position, or
   * positions `from` (inclusive) to `to` (exclusive; clipped to the text's end).
   */
  bits?:
    | boolean
    | {
        /** First position (inclusive). */
        from: number;
        /** Last position (exclusive; clipped to the text's end). */
        to: number;
      };
}

/** What {@link Analysis.evaluateVariants} returns. */
export interface VariantsResult {
  /** Mean bpc of each variant, in the order given. */
  mean: Float64Array;
  /** The bits of each variant's predictions in the requested range (`bits[v][t - from]`), with the `bits` option. */
  bits?: Float64Array[];
}

/** |Wy| or |by| from which the analysis warns that softmax probabilities degenerate to 0 and 1. */
const HUGE_READOUT_WEIGHT = 1e6;
/** A mean bpc this high means most predictions sit at the 1e-30 floor (99.66 bits): warn. */
const FLOOR_DOMINATED_BPC = 32;

const VARIANT_FIELDS = ['knockout', 'keepOnly', 'signSnap', 'negate', 'readMean', 'edits', 'neurons', 'inputs', 'patch'] as const;
const VARIANT_KEYS: ReadonlySet<string> = new Set(VARIANT_FIELDS);
/** The variant fields whose entries are objects. */
const OBJECT_ENTRY_FIELDS: ReadonlySet<string> = new Set(['edits', 'neurons', 'inputs', 'patch']);

/**
 * Largest base trajectory an analysis keeps between passes (in-memory texts only; longer
 * texts run their dynamics again on every pass, so memory stays bounded).
 */
export const TRAJECTORY_CACHE_BYTES = 16 << 20;

/**
 * A model, a text and a backend: what every experiment runs on. It evaluates batches of
 * {@link Variant}s in one pass over the text and keeps what later passes can reuse (the
 * base run's trajectory statistics; the base trajectory of a small in-memory text).
 */
export class Analysis {
  /** The model analysed. */
  readonly model: Model;
  /** The text (bytes are checked at construction; paths and streams when read). */
  readonly data: TextSource;
  /** The backend every pass runs on. */
  readonly backend: Backend;
  /** How readouts sum their logits (both methods give identical bits). */
  readonly readoutMethod: ReadoutMethod;
  /** Predictions per engine chunk, when fixed by the input. */
  readonly chunkSize: number | undefined;
  private baseStats: TrajectoryStats | undefined;
  /** The unmodified trajectory of an in-memory text, kept when small (see TRAJECTORY_CACHE_BYTES). */
  private baseStates: Float32Array | undefined;
  private predictionCount: number | undefined;
  private readonly warn: (message: string) => void;
  private readonly warned = new Set<string>();
  /** Warnings raised so far (also passed to `onWarning`). */
  readonly warnings: string[] = [];

  /**
   * @throws SatrnnError `BAD_OPTION` for inputs of the wrong kind, `DATA_TOO_SHORT` for
   *   fewer than 2 bytes, `BAD_MODEL_VALUES` for NaN/Inf weights
   */
  constructor(input: AnalysisInput) {
    if (input === null || typeof input !== 'object') throw new SatrnnError('BAD_OPTION', `new Analysis({ model, data }) takes an object (got ${describeValue(input)})`);
    const { model, data } = input;
    if (!(model instanceof Model))
      throw new SatrnnError('BAD_OPTION', `model must be a Model (from loadModel(file), parseModel(bytes) or new Model(weights, H)); got ${describeValue(model)}`);
    assertFinite(model.weights, model.hidden, model.source);
    if (!(data instanceof Uint8Array) && typeof data !== 'string' && typeof data !== 'function')
      throw new SatrnnError('BAD_OPTION', `data must be bytes (a Uint8Array), a file path, or a function returning an async iterable of byte blocks; got ${describeValue(data)}`);
    if (typeof data === 'string' && data.length === 0) throw new SatrnnError('BAD_OPTION', 'data is an empty file path');
    if (input.chunkSize !== undefined && (!Number.isInteger(input.chunkSize) || input.chunkSize < 1))
      throw new SatrnnError('BAD_OPTION', `chunkSize must be a positive integer (got ${describeValue(input.chunkSize)})`);
    if (input.onWarning !== undefined && typeof input.onWarning !== 'function') throw new SatrnnError('BAD_OPTION', `onWarning must be a function (got ${describeValue(input.onWarning)})`);
    this.warn = input.onWarning ?? ((m) => process.emitWarning(m, 'SatrnnWarning'));
    this.model = model;
    this.data = data instanceof Uint8Array ? checkData(data) : data;
    this.backend = resolveBackend(input.backend);
    this.checkReadoutWeights();
    const m = input.readoutMethod ?? 'certified';
    if (m !== 'certified' && m !== 'ordered') throw new SatrnnError('BAD_OPTION', `readoutMethod must be 'certified' or 'ordered' (got '${String(m)}')`);
    this.readoutMethod = m;
    this.chunkSize = input.chunkSize;
    if (input.data instanceof Uint8Array) this.predictionCount = input.data.length - 1;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warnings.push(message);
    this.warn(message);
  }

  /** Readout weights that make exact results slow or degenerate (they stay exact). */
  private checkReadoutWeights(): void {
    const { subnormal, maxAbs: max } = this.readoutStats();
    if (subnormal > 0)
      this.warnOnce(
        'subnormal',
        `${this.model.source}: ${subnormal} subnormal readout weight${subnormal > 1 ? 's' : ''} (Wy/by, |w| < 2^-126): results stay exact, but the readout rows holding them cannot take the certified shortcut (up to ~10x slower on native, ~15x on js)`,
      );
    if (max >= HUGE_READOUT_WEIGHT)
      this.warnOnce(
        'huge',
        `${this.model.source}: readout weights as large as ${max.toPrecision(3)}: logits this large make the softmax one-hot, so mispredictions sit at the 1e-30 probability floor (99.66 bits each) and bpc differences say little`,
      );
  }

  private readoutStatsCache?: ReadoutStats;
  /**
   * The model's readout statistics (Wy column norms, largest |w|, subnormal count), from the
   * backend once per analysis.
   * @internal
   */
  readoutStats(): ReadoutStats {
    const { Wy, by } = this.model;
    // (A backend of the caller's own may not have them: the TypeScript loops then.)
    return (this.readoutStatsCache ??= this.backend.readoutStats ? this.backend.readoutStats(Wy, by) : readoutStatsJs(Wy, by));
  }

  /** Hidden units H of the model. */
  get hidden(): number {
    return this.model.hidden;
  }

  /** Number of predictions, n - 1 (known for bytes at once, for other sources after the first pass). */
  get predictions(): number {
    if (this.predictionCount === undefined) throw new SatrnnError('INTERNAL', 'the number of predictions is known after the first pass over the text');
    return this.predictionCount;
  }

  /** Checks one variant's shape (the engine checks the values it reads). */
  private checkVariant(v: unknown, i: number): void {
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw new SatrnnError('BAD_OPTION', `variant ${i} must be an object such as { knockout: [3] } (got ${describeValue(v)})`);
    const x = v as Record<string, unknown>;
    // Indexed loops over module constants: this runs for every variant of a batch (hundreds
    // in q3), once and cold, where literal arrays and iterators per call cost milliseconds.
    const own = Object.keys(x);
    for (let n = 0; n < own.length; n++)
      if (!VARIANT_KEYS.has(own[n]!)) throw new SatrnnError('BAD_OPTION', `variant ${i}: unknown field '${own[n]}' (fields: ${VARIANT_FIELDS.join(', ')})`);
    // Every field an array first, then the entries (the first error reported is the same).
    for (let n = 0; n < VARIANT_FIELDS.length; n++) {
      const k = VARIANT_FIELDS[n]!;
      if (x[k] !== undefined && !Array.isArray(x[k])) throw new SatrnnError('BAD_OPTION', `variant ${i}: ${k} must be an array (got ${describeValue(x[k])})`);
    }
    for (let n = 0; n < VARIANT_FIELDS.length; n++) {
      const k = VARIANT_FIELDS[n]!;
      const val = x[k] as unknown[] | undefined;
      if (val === undefined || !OBJECT_ENTRY_FIELDS.has(k)) continue;
      for (let e = 0; e < val.length; e++)
        if (val[e] === null || typeof val[e] !== 'object') throw new SatrnnError('BAD_OPTION', `variant ${i}: every entry of ${k} must be an object (got ${describeValue(val[e])})`);
    }
  }

  /** Use codes of one readout variant. */
  private useCodes(v: ReadoutVariant, out: Uint8Array): void {
    if (v.keepOnly) {
      out.fill(USE.absent);
      for (const j of v.keepOnly) out[this.neuron(j)] = USE.value;
    } else out.fill(USE.value);
    for (const j of v.knockout ?? []) out[this.neuron(j)] = USE.absent;
    for (const j of v.signSnap ?? []) if (out[this.neuron(j)] !== USE.absent) out[j] = USE.sign;
    for (const j of v.negate ?? []) if (out[this.neuron(j)] !== USE.absent) out[j] = USE.negated;
    for (const j of v.readMean ?? []) if (out[this.neuron(j)] !== USE.absent) out[j] = USE.fixed;
  }

  private neuron(j: number): number {
    if (!Number.isInteger(j)) throw new SatrnnError('BAD_OPTION', `neuron index ${j} is not an integer`);
    if (j < 0 || j >= this.hidden) throw new SatrnnError('BAD_OPTION', `neuron index ${j} is out of range 0..${this.hidden - 1}`);
    return j;
  }

  /**
   * Mean bpc of each variant, in one pass over the text: variants with identical dynamics
   * share a group; the base dynamics' trajectory statistics are collected on the way.
   * (Mean ablations and patches first need the base run's means or a donor run: one more
   * pass each, see {@link Analysis.evaluateVariants}.)
   */
  async meanBpc(variants: readonly Variant[], opts: RunOptions = {}): Promise<Float64Array> {
    return (await this.evaluateVariants(variants, opts)).mean;
  }

  /**
   * Mean bpc of each variant and, on request, the bits of every prediction in a range of
   * positions. One pass over the text for the variants (identical dynamics share a forward
   * pass), after a pass for the base run's statistics when a variant mean-ablates (unless
   * already known) and one pass per patch donor (unless it is this analysis' own, small,
   * cached run). Progress counts each pass from 0.
   *
   * @throws SatrnnError `BAD_OPTION` for malformed variants, indices out of range, a patch
   *   donor of another H, positions past a text's end; `ABORTED`
   */
  async evaluateVariants(variants: readonly Variant[], opts: EvaluateVariantsOptions = {}): Promise<VariantsResult> {
    if (!Array.isArray(variants as unknown)) throw new SatrnnError('BAD_OPTION', `meanBpc/evaluateVariants take an array of variants such as [{}, { knockout: [3] }] (got ${describeValue(variants)})`);
    variants.forEach((v, i) => this.checkVariant(v, i));
    const range = checkBitsRange(opts.bits);
    const runOpts: RunOptions = { ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.signal ? { signal: opts.signal } : {}) };
    const H = this.hidden;
    // Mean ablations (in the readout or the dynamics) read the base run's means first.
    const needsMean = variants.some((v) => (v.readMean?.length ?? 0) > 0 || v.neurons?.some((n) => n !== null && typeof n === 'object' && 'mean' in n));
    const means = needsMean ? (await this.trajectoryStats(runOpts)).mean : undefined;
    const neuronLists = this.resolveNeurons(variants, means);
    const patches = await this.resolvePatches(variants, runOpts);
    const groups: { dynamics: DynamicsSpec; members: number[]; key: string }[] = [];
    const byKey = new Map<string, number>();
    // Edited weights by edit list: made, hashed and compared with the model's once each.
    const editCache = new Map<string, { weights: Float32Array; digest: string; unchanged: boolean }>();
    const baseKey = 'base';
    variants.forEach((v, i) => {
      const dyn: DynamicsSpec = {};
      let key = baseKey;
      const hasEdits = (v.edits?.length ?? 0) > 0;
      const neurons = neuronLists[i];
      const patch = patches[i];
      if (hasEdits || neurons || (v.inputs?.length ?? 0) > 0 || patch) {
        let edited: { weights: Float32Array; digest: string; unchanged: boolean } | undefined;
        if (hasEdits) {
          const ek = JSON.stringify(v.edits, (_k, x: unknown) => (x instanceof Uint8Array ? createHash('sha1').update(x).digest('hex') : x));
          edited = editCache.get(ek);
          if (!edited) {
            const w = applyEdits(this.model, v.edits!).weights;
            const digest = createHash('sha1').update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength)).digest('hex');
            editCache.set(ek, (edited = { weights: w, digest, unchanged: sameWeights(w, this.model.weights) }));
          }
          dyn.weights = edited.weights;
        }
        if (neurons) dyn.neurons = neurons;
        if (v.inputs?.length) dyn.inputs = v.inputs;
        if (patch) dyn.patch = patch.spec;
        if (!hasEdits && !neurons && this.baseStates) {
          // Only inputs or patches differ: the variant equals the base run until the first of
          // them, so it starts there from the base state, reading the base states before it.
          const p = Math.min(...(v.inputs ?? []).map((x) => x.position), patch?.spec.positions[0] ?? Infinity);
          if (Number.isInteger(p) && p > 0 && p * H <= this.baseStates.length)
            dyn.start = { position: p, state: this.baseStates.slice((p - 1) * H, p * H), prefix: this.baseStates };
        }
        key = createHash('sha1')
          .update(`${edited?.digest ?? ''}/${JSON.stringify([neurons ?? [], v.inputs ?? []])}/${patch?.digest ?? ''}`)
          .digest('hex');
        // Edits that change nothing (threshold 0, say) leave the base dynamics.
        if (!neurons && !v.inputs?.length && !patch && edited?.unchanged) key = baseKey;
      }
      let gi = byKey.get(key);
      if (gi === undefined) {
        gi = groups.length;
        byKey.set(key, gi);
        groups.push({ dynamics: key === baseKey ? {} : dyn, members: [], key });
      }
      groups[gi]!.members.push(i);
    });
    // Later passes over a small in-memory text read the base trajectory kept from the first.
    const text = this.data;
    const cacheable = text instanceof Uint8Array && (text.length - 1) * H * 4 <= TRAJECTORY_CACHE_BYTES;
    const keep = cacheable && this.baseStates === undefined && byKey.has(baseKey) ? new Float32Array((text.length - 1) * H) : undefined;
    const specs: GroupSpec[] = groups.map((g) => {
      const use = new Uint8Array(g.members.length * H);
      g.members.forEach((vi, k) => this.useCodes(variants[vi]!, use.subarray(k * H, (k + 1) * H)));
      // Neurons read as their mean: the fixed values, float32 as a state would hold them.
      let useValues: Float32Array | undefined;
      g.members.forEach((vi, k) => {
        for (const j of variants[vi]!.readMean ?? []) {
          useValues ??= new Float32Array(g.members.length * H);
          if (use[k * H + j] === USE.fixed) useValues[k * H + j] = Math.fround(means![j]!);
        }
      });
      const read = { use, ...(useValues ? { useValues } : {}) };
      if (g.key !== baseKey) return { dynamics: g.dynamics, ...read };
      if (this.baseStates && this.baseStats) return { states: this.baseStates, ...read };
      return { ...read, stats: this.baseStats === undefined, ...(keep ? { keepStates: keep } : {}) };
    });
    // Per-position bits, collected chunk by chunk for the requested range.
    const pieces: Float64Array[][] | undefined = range ? variants.map(() => []) : undefined;
    const res = await evaluate(
      this.backend,
      {
        model: this.model,
        text,
        groups: specs,
        method: this.readoutMethod,
        ...(this.chunkSize !== undefined ? { chunkSize: this.chunkSize } : {}),
        ...(pieces
          ? {
              stream: { bits: true },
              onChunk: (out: ChunkOutput) => {
                const a = Math.max(range!.from, out.pos0);
                const b = Math.min(range!.to, out.pos0 + out.steps);
                if (a >= b) return;
                groups.forEach((g, gi) => {
                  const bits = out.groups[gi]!.bits!;
                  g.members.forEach((vi, k) => pieces[vi]!.push(bits.slice(k * out.steps + (a - out.pos0), k * out.steps + (b - out.pos0))));
                });
              },
            }
          : {}),
      },
      runOpts,
    );
    if (keep) this.baseStates = keep;
    this.predictionCount = res.predictions;
    // A substitution the text never feeds (the last byte is only a target) changes nothing:
    // say so rather than return the unmodified run as if it were the variant.
    for (const v of variants)
      for (const s of v.inputs ?? [])
        if (s.position >= res.predictions)
          throw new SatrnnError('BAD_OPTION', `input position ${s.position} is past the text's last input (position ${res.predictions - 1}; the text has ${res.predictions + 1} bytes)`);
    if (range && range.from >= res.predictions)
      throw new SatrnnError('BAD_OPTION', `bits range starts at position ${range.from}, past the text's last position ${res.predictions - 1}`);
    const mean = new Float64Array(variants.length);
    groups.forEach((g, gi) => {
      const r = res.groups[gi]!;
      g.members.forEach((vi, k) => (mean[vi] = r.mean[k]!));
      if (r.stats && g.key === baseKey) this.baseStats = r.stats;
    });
    variants.forEach((v, i) => {
      const intact = Object.values(v).every((x) => x === undefined || (Array.isArray(x) && x.length === 0));
      if (intact && mean[i]! >= FLOOR_DOMINATED_BPC)
        this.warnOnce(
          'floor',
          `${this.model.source}: the intact model scores ${mean[i]!.toFixed(2)} bpc on this text (uniform guessing scores 8): most predictions sit at the 1e-30 probability floor (99.66 bits each), so bpc differences say little; check the model`,
        );
    });
    return { mean, ...(pieces ? { bits: pieces.map(concat) } : {}) };
  }

  /** Each variant's neuron interventions for the engine (means resolved to clamps), or undefined for none. */
  private resolveNeurons(variants: readonly Variant[], means: Float64Array | undefined): (NeuronIntervention[] | undefined)[] {
    return variants.map((v) =>
      v.neurons?.length
        ? v.neurons.map((n) => {
            if (!('mean' in n)) return n;
            if (n.mean !== true) throw new SatrnnError('BAD_OPTION', `neuron ${String(n.neuron)}: mean must be true (a mean ablation)`);
            // The mean over the base run, rounded to float32 (the value a state can hold).
            return { neuron: n.neuron, clamp: Math.fround(means![this.neuron(n.neuron)]!) };
          })
        : undefined,
    );
  }

  /**
   * Each variant's patch for the engine (positions, neurons, donor values and a digest of
   * them), from one pass per donor run, or undefined for none.
   */
  private async resolvePatches(variants: readonly Variant[], opts: RunOptions): Promise<({ spec: { positions: number[]; neurons: number[]; values: Float32Array }; digest: string } | undefined)[]> {
    if (!variants.some((v) => v.patch?.length)) return variants.map(() => undefined);
    const H = this.hidden;
    // Positions of each variant's patches (shared by its patches), checked.
    const positionsOf = new Map<Variant, number[]>();
    let all: number[] | undefined;
    for (const [i, v] of variants.entries()) {
      if (!v.patch?.length) continue;
      let shared: number[] | undefined;
      for (const [k, p] of v.patch.entries()) {
        const at = `variant ${i}, patch ${k}`;
        if (p === null || typeof p !== 'object' || !Array.isArray(p.neurons) || p.neurons.length === 0)
          throw new SatrnnError('BAD_OPTION', `${at}: expected { neurons: [j, …], positions?, from: { data?, model? } }`);
        if (p.from === null || typeof p.from !== 'object') throw new SatrnnError('BAD_OPTION', `${at}: from must be { data?, model? } (the donor run)`);
        if (p.from.model !== undefined) {
          if (!(p.from.model instanceof Model)) throw new SatrnnError('BAD_OPTION', `${at}: from.model must be a Model (got ${describeValue(p.from.model)})`);
          if (p.from.model.hidden !== H)
            throw new SatrnnError('BAD_OPTION', `${at}: the donor model ${p.from.model.source} has H=${p.from.model.hidden}; the analysis' model has H=${H} (a patch needs the same H)`);
        }
        let pos: number[];
        if (p.positions === undefined) {
          if (this.predictionCount === undefined) await this.trajectoryStats(opts);
          all ??= Array.from({ length: this.predictions }, (_, t) => t);
          pos = all;
        } else {
          if (!Array.isArray(p.positions) || p.positions.length === 0) throw new SatrnnError('BAD_OPTION', `${at}: positions must be a non-empty array (omit it to patch every position)`);
          p.positions.forEach((t, q) => {
            if (!Number.isInteger(t) || t < 0 || (q > 0 && !(t > p.positions![q - 1]!)))
              throw new SatrnnError('BAD_OPTION', `${at}: positions must be ascending, distinct, non-negative integers (got ${String(t)} at index ${q})`);
          });
          pos = [...p.positions];
        }
        if (shared && (shared.length !== pos.length || shared.some((t, q) => t !== pos[q])))
          throw new SatrnnError('BAD_OPTION', `${at}: the patches of one variant must share their positions (use one variant per position set)`);
        shared = pos;
      }
      positionsOf.set(v, shared!);
    }
    // One pass per donor run: the donor's states at the union of positions, for the union of neurons.
    interface Donor { data: TextSource; model: Model; positions: Set<number>; neurons: Set<number>; index?: Map<number, number>; cols?: number[]; values?: Float32Array }
    const donors: Donor[] = [];
    const donorOf = (src: PatchSource): Donor => {
      const data = src.data ?? this.data;
      const model = src.model ?? this.model;
      let d = donors.find((x) => x.data === data && x.model === model);
      if (!d) donors.push((d = { data, model, positions: new Set(), neurons: new Set() }));
      return d;
    };
    for (const v of variants)
      for (const p of v.patch ?? []) {
        const d = donorOf(p.from);
        for (const t of positionsOf.get(v)!) d.positions.add(t);
        for (const j of p.neurons) d.neurons.add(this.neuron(j));
      }
    for (const d of donors) {
      const pos = [...d.positions].sort((a, b) => a - b);
      d.index = new Map(pos.map((t, q) => [t, q]));
      d.cols = [...d.neurons].sort((a, b) => a - b);
      const K = d.cols.length;
      const values = (d.values = new Float32Array(pos.length * K));
      const fill = (states: Float32Array, pos0: number, steps: number): void => {
        for (let t = pos0; t < pos0 + steps; t++) {
          const q = d.index!.get(t);
          if (q === undefined) continue;
          d.cols!.forEach((j, k) => (values[q * K + k] = states[(t - pos0) * H + j]!));
        }
      };
      const last = pos[pos.length - 1]!;
      if (d.data === this.data && d.model === this.model && this.baseStates && last * H < this.baseStates.length) {
        fill(this.baseStates, 0, this.baseStates.length / H);
        continue;
      }
      if (d.data instanceof Uint8Array && d.data !== this.data) checkData(d.data, 'patch donor data');
      const r = await evaluate(
        this.backend,
        { model: d.model, text: d.data, groups: [{}], stream: { states: true }, onChunk: (out) => fill(out.groups[0]!.states!, out.pos0, out.steps), ...(this.chunkSize !== undefined ? { chunkSize: this.chunkSize } : {}) },
        opts,
      );
      if (last >= r.predictions)
        throw new SatrnnError('BAD_OPTION', `patch position ${last} is past the donor text's end (it has ${r.predictions + 1} bytes: positions 0..${r.predictions - 1})`);
    }
    return variants.map((v) => {
      if (!v.patch?.length) return undefined;
      const positions = positionsOf.get(v)!;
      const neurons: number[] = [];
      const sources: Donor[] = [];
      for (const p of v.patch)
        for (const j of p.neurons) {
          if (neurons.includes(j)) throw new SatrnnError('BAD_OPTION', `neuron ${j} is patched twice in one variant`);
          neurons.push(j);
          sources.push(donorOf(p.from));
        }
      const K = neurons.length;
      const values = new Float32Array(positions.length * K);
      positions.forEach((t, q) =>
        neurons.forEach((j, k) => {
          const d = sources[k]!;
          values[q * K + k] = d.values![d.index!.get(t)! * d.cols!.length + d.cols!.indexOf(j)]!;
        }),
      );
      const digest = createHash('sha1')
        .update(JSON.stringify([positions, neurons]))
        .update(new Uint8Array(values.buffer))
        .digest('hex');
      return { spec: { positions, neurons, values }, digest };
    });
  }

  /** Statistics of the unmodified trajectory (mean |h_j|, saturation, sign flips, …): from the first batch that included the base dynamics, or a pass of its own. */
  async trajectoryStats(opts: RunOptions = {}): Promise<TrajectoryStats> {
    return this.baseStats ?? this.statsPass(opts);
  }

  private async statsPass(opts: RunOptions): Promise<TrajectoryStats> {
    const res = await evaluate(this.backend, { model: this.model, text: this.data, groups: [{ stats: true }], ...(this.chunkSize !== undefined ? { chunkSize: this.chunkSize } : {}) }, opts);
    this.predictionCount = res.predictions;
    this.baseStats = res.groups[0]!.stats!;
    return this.baseStats;
  }

  /** Mean over the predictions of |h_t[j]|, for every neuron j (double sums in t order). */
  async meanAbsHidden(opts: RunOptions = {}): Promise<Float64Array> {
    return (await this.trajectoryStats(opts)).meanAbs;
  }
}

/** The checked `bits` option: undefined for none, else the range (to may pass the text's end). */
function checkBitsRange(bits: EvaluateVariantsOptions['bits']): { from: number; to: number } | undefined {
  if (bits === undefined || bits === false) return undefined;
  if (bits === true) return { from: 0, to: Infinity };
  if (bits === null || typeof bits !== 'object' || !Number.isInteger(bits.from) || !Number.isInteger(bits.to) || bits.from < 0 || bits.to <= bits.from)
    throw new SatrnnError('BAD_OPTION', `bits must be true or a range { from, to } of positions with 0 <= from < to (got ${describeValue(bits)})`);
  return bits;
}

function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// Bit-identical weights (-0 differs from +0; NaN weights are refused before this): a memcmp
// of the bytes, where a JavaScript loop over ~82 K floats per edit list costs more (q5_redux
// has 26 such lists, and the loop got a synchronous optimising compile).
function sameWeights(a: Float32Array, b: Float32Array): boolean {
  const bytes = (w: Float32Array) => Buffer.from(w.buffer, w.byteOffset, w.byteLength);
  return a.length === b.length && bytes(a).equals(bytes(b));
}
