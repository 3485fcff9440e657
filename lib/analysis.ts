// An analysis: a model, a text and a backend. Experiments hand it lists of variants; it
// fuses them into engine groups (variants with the same dynamics share one forward pass,
// found by the content of their weights and interventions, not by how they were written)
// and returns one mean bpc per variant.
import { createRequire } from 'node:module';
import { checkData } from './data.js';
import { applyEdits, type WeightEdit } from './engine/edits.js';
import { evaluate, type DynamicsSpec, type GroupSpec, type NeuronIntervention, type TrajectoryStats } from './engine/evaluate.js';
import { resolveBackend, type Backend, type BackendChoice } from './engine/index.js';
import type { TextSource } from './engine/source.js';
import { USE, type ReadoutMethod, type RunOptions } from './engine/types.js';
import { SatrnnError, describeValue } from './errors.js';
import { Model, assertFinite } from './model.js';

// node:crypto loads only when a batch has weight edits or interventions to hash (it costs a
// few ms of start-up that plain readout experiments do not need).
const require = createRequire(import.meta.url);
const createHash = (algorithm: string) => (require('node:crypto') as typeof import('node:crypto')).createHash(algorithm);

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
}

/** One evaluation: changes to the dynamics (weights, neurons, inputs) and to the readout. */
export interface Variant extends ReadoutVariant {
  /** Weight edits applied before the dynamics run (the readout reads the edited Wy too: Wy is never edited here). */
  edits?: readonly WeightEdit[];
  /** Interventions inside the recurrence. */
  neurons?: readonly NeuronIntervention[];
  /** Input bytes replaced at absolute positions. */
  inputs?: readonly {
    /** Position t of the input, 0-based: the byte fed at step t instead of the text's. */
    position: number;
    /** The byte fed there, 0..255. */
    byte: number;
  }[];
}

/** Smallest positive normal float32, 2^-126. */
const FLOAT32_MIN_NORMAL = 2 ** -126;
/** |Wy| or |by| from which the analysis warns that softmax probabilities degenerate to 0 and 1. */
const HUGE_READOUT_WEIGHT = 1e6;
/** A mean bpc this high means most predictions sit at the 1e-30 floor (99.66 bits): warn. */
const FLOOR_DOMINATED_BPC = 32;

const VARIANT_KEYS: ReadonlySet<string> = new Set(['knockout', 'keepOnly', 'signSnap', 'negate', 'edits', 'neurons', 'inputs']);

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
    this.checkReadoutWeights();
    this.backend = resolveBackend(input.backend);
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
    const { Wy, by } = this.model;
    let subnormal = 0;
    let max = 0;
    for (const w of [Wy, by])
      for (let i = 0; i < w.length; i++) {
        const a = Math.abs(w[i]!);
        if (a !== 0 && a < FLOAT32_MIN_NORMAL) subnormal++;
        if (a > max) max = a;
      }
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
    for (const k of Object.keys(x))
      if (!VARIANT_KEYS.has(k)) throw new SatrnnError('BAD_OPTION', `variant ${i}: unknown field '${k}' (fields: ${[...VARIANT_KEYS].join(', ')})`);
    for (const k of ['knockout', 'keepOnly', 'signSnap', 'negate', 'edits', 'neurons', 'inputs'])
      if (x[k] !== undefined && !Array.isArray(x[k])) throw new SatrnnError('BAD_OPTION', `variant ${i}: ${k} must be an array (got ${describeValue(x[k])})`);
    for (const k of ['edits', 'neurons', 'inputs'])
      for (const e of (x[k] as unknown[] | undefined) ?? [])
        if (e === null || typeof e !== 'object') throw new SatrnnError('BAD_OPTION', `variant ${i}: every entry of ${k} must be an object (got ${describeValue(e)})`);
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
  }

  private neuron(j: number): number {
    if (!Number.isInteger(j)) throw new SatrnnError('BAD_OPTION', `neuron index ${j} is not an integer`);
    if (j < 0 || j >= this.hidden) throw new SatrnnError('BAD_OPTION', `neuron index ${j} is out of range 0..${this.hidden - 1}`);
    return j;
  }

  /**
   * Mean bpc of each variant, in one pass over the text: variants with identical dynamics
   * share a group; the base dynamics' trajectory statistics are collected on the way.
   */
  async meanBpc(variants: readonly Variant[], opts: RunOptions = {}): Promise<Float64Array> {
    if (!Array.isArray(variants as unknown)) throw new SatrnnError('BAD_OPTION', `meanBpc takes an array of variants (got ${describeValue(variants)})`);
    variants.forEach((v, i) => this.checkVariant(v, i));
    const H = this.hidden;
    const groups: { dynamics: DynamicsSpec; members: number[]; key: string }[] = [];
    const byKey = new Map<string, number>();
    // Edited weights by edit list: made, hashed and compared with the model's once each.
    const editCache = new Map<string, { weights: Float32Array; digest: string; unchanged: boolean }>();
    const baseKey = 'base';
    variants.forEach((v, i) => {
      const dyn: DynamicsSpec = {};
      let key = baseKey;
      const hasEdits = (v.edits?.length ?? 0) > 0;
      if (hasEdits || (v.neurons?.length ?? 0) > 0 || (v.inputs?.length ?? 0) > 0) {
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
        if (v.neurons?.length) dyn.neurons = v.neurons;
        if (v.inputs?.length) {
          dyn.inputs = v.inputs;
          // Only inputs differ: the variant equals the base run until its first substitution,
          // so it starts there from the base state, reading the base states before it.
          const p = Math.min(...v.inputs.map((x) => x.position));
          if (!hasEdits && !v.neurons?.length && this.baseStates && Number.isInteger(p) && p > 0 && p * H <= this.baseStates.length)
            dyn.start = { position: p, state: this.baseStates.slice((p - 1) * H, p * H), prefix: this.baseStates };
        }
        key = createHash('sha1')
          .update(`${edited?.digest ?? ''}/${JSON.stringify([v.neurons ?? [], v.inputs ?? []])}`)
          .digest('hex');
        // Edits that change nothing (threshold 0, say) leave the base dynamics.
        if (!v.neurons?.length && !v.inputs?.length && edited?.unchanged) key = baseKey;
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
      if (g.key !== baseKey) return { dynamics: g.dynamics, use };
      if (this.baseStates && this.baseStats) return { states: this.baseStates, use };
      return { use, stats: this.baseStats === undefined, ...(keep ? { keepStates: keep } : {}) };
    });
    const res = await evaluate(
      this.backend,
      {
        model: this.model,
        text,
        groups: specs,
        method: this.readoutMethod,
        ...(this.chunkSize !== undefined ? { chunkSize: this.chunkSize } : {}),
      },
      opts,
    );
    if (keep) this.baseStates = keep;
    this.predictionCount = res.predictions;
    // A substitution the text never feeds (the last byte is only a target) changes nothing:
    // say so rather than return the unmodified run as if it were the variant.
    for (const v of variants)
      for (const s of v.inputs ?? [])
        if (s.position >= res.predictions)
          throw new SatrnnError('BAD_OPTION', `input position ${s.position} is past the text's last input (position ${res.predictions - 1}; the text has ${res.predictions + 1} bytes)`);
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
    return mean;
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

function sameWeights(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
