// The sweep: how small can a model get? Grids of pruned copies (the readout kept for the top
// k neurons of the knockout ranking, Wh and Wx entries below magnitude thresholds zeroed —
// q5_redux's rules) and explicit intervention variants, over many models and texts, as typed
// rows. Per model × text one Analysis: the readout-only rows share the base trajectory, the
// dynamics rows are evaluated in sub-batches of many variants per call (the engine spreads
// their groups over its threads), so progress is smooth and an interruption loses little.
// Results never depend on the batching: each row equals its single-variant evaluation.
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Analysis, TRAJECTORY_CACHE_BYTES, type Variant } from '../../analysis.js';
import type { WeightEdit } from '../../engine/edits.js';
import { checkRunOptions } from '../../engine/evaluate.js';
import { resolveBackend, type Backend, type BackendChoice } from '../../engine/index.js';
import { VOCAB } from '../../engine/layout.js';
import { countAtLeast } from '../../engine/model-stats.js';
import { blocks, type TextSource } from '../../engine/source.js';
import type { RunOptions } from '../../engine/types.js';
import { SatrnnError, describeValue, throwIfAborted, type SatrnnErrorCode } from '../../errors.js';
import { inputError } from '../../io.js';
import { Model, assertFinite, loadModel } from '../../model.js';
import { toVariant, variantLabel, READOUT_KINDS, type Intervention, type InterventionVariant } from '../interventions/experiment.js';
import { DEFAULT_THRESHOLDS } from '../q5_redux/experiment.js';
import { ReadoutKnockout, pctOfGap } from '../q3_neurons/experiment.js';

/** A text of a sweep and the label its rows carry. */
export interface SweepText {
  /** Row label (default: the path for a file, `<bytes i>` / `<stream i>` otherwise, i counted from 1). */
  readonly label?: string;
  /** The text: bytes (n >= 2), a file path or a function returning a fresh async iterable of byte blocks. */
  readonly data: TextSource;
}

/**
 * The grid of a sweep. Its rows are the cross product k × wh × wx (k outermost, wx
 * innermost), then one row per variant, for every model × text.
 */
export interface SweepGrid {
  /**
   * Readout sizes: keep the Wy columns of the top k neurons of the model's readout-knockout
   * ranking on that text (integers >= 0), or `'all'` (every neuron: the intact readout).
   * Default `['all']`.
   */
  readonly k?: readonly (number | 'all')[];
  /** Wh thresholds: entries with |w| < threshold are zeroed (float32, strict; 0 zeroes nothing). Default `[0]`. */
  readonly wh?: readonly number[];
  /** Wx thresholds, the same rule. Default `[0]`. */
  readonly wx?: readonly number[];
  /** Explicit variants: lists of interventions, or `{ label?, interventions }` (labels must be distinct). */
  readonly variants?: readonly (InterventionVariant | readonly Intervention[])[];
  /**
   * Leave out k values above a model's H for that model (as q5_redux does) instead of
   * rejecting the call; for folders of models of several sizes. Default false.
   */
  readonly skipLargeK?: boolean;
}

/** What a sweep runs on. */
export interface SweepInput {
  /**
   * The models: a Model (labelled by its `source`), a model file, or a folder of `*.bin`
   * files (sorted by name; sizes may differ). A file that cannot be loaded is listed in the
   * result's `errors` and the other models still run.
   */
  readonly models: readonly (Model | string)[];
  /** One text or several: a text source, or `{ label, data }`. */
  readonly data: TextSource | SweepText | readonly (TextSource | SweepText)[];
  /** The grid, or several grids whose rows follow each other (see {@link PRUNE_GRID}). */
  readonly grid: SweepGrid | readonly SweepGrid[];
  /** A backend, or a choice of one (default `'auto'`); one backend serves every model. */
  readonly backend?: Backend | BackendChoice;
  /**
   * Dynamics variants per Analysis call (default {@link DEFAULT_SWEEP_BATCH}): larger batches
   * spread more forward passes over the threads at once; smaller ones report progress more
   * often and lose less to an interruption. Results never depend on it.
   */
  readonly batchSize?: number;
  /** Predictions per engine chunk (default: what fits the memory budget); results never depend on it. */
  readonly chunkSize?: number;
  /** Receives the analyses' warnings (default: `process.emitWarning`). */
  readonly onWarning?: (message: string) => void;
}

/** What identifies a row: its model, text and grid coordinates (the key a resume matches). */
export interface SweepRowId {
  /** The model's label: its path (a folder's files: folder/name), or a Model's `source`. */
  readonly model: string;
  /** sha256 of the model's bytes (hex). */
  readonly modelSha256: string;
  /** Hidden units H of the model. */
  readonly hidden: number;
  /** The text's label. */
  readonly text: string;
  /** sha256 of the text's bytes (hex). */
  readonly textSha256: string;
  /** Neurons whose readout is kept (grid rows; `'all'` is H); undefined for variant rows. */
  readonly k: number | undefined;
  /** Wh threshold of a grid row; undefined for variant rows. */
  readonly whThreshold: number | undefined;
  /** Wx threshold of a grid row; undefined for variant rows. */
  readonly wxThreshold: number | undefined;
  /** The variant's label (variant rows); undefined for grid rows. */
  readonly variant: string | undefined;
}

/** One row of a sweep: a pruned or intervened copy of one model, evaluated on one text. */
export interface SweepRow extends SweepRowId {
  /** Fraction of Wh entries kept (not zeroed; entries already 0 count as kept at threshold 0, as zeroed above it). */
  readonly whKept: number;
  /** Fraction of Wx entries kept. */
  readonly wxKept: number;
  /** Fraction of Wy columns the readout uses. */
  readonly wyKept: number;
  /** Parameters kept, counted as q5_redux counts its redux model: kept Wx + kept Wh + bh + 256 · kept Wy columns + by. */
  readonly params: number;
  /** Mean bpc of the copy on the text. */
  readonly bpc: number;
  /** Mean bpc of the intact model on the text. */
  readonly baselineBpc: number;
  /** bpc − baselineBpc. */
  readonly deltaBpc: number;
  /** 100·(8 − bpc)/(8 − baselineBpc); undefined when baselineBpc ≥ 8. */
  readonly pctOfGap: number | undefined;
}

/** A model that was not run. */
export interface SweepError {
  /** The model's label (its path). */
  readonly model: string;
  /** The error's code (`FILE_NOT_FOUND`, `BAD_MODEL_SIZE`, `BAD_MODEL_VALUES`, …). */
  readonly code: SatrnnErrorCode;
  /** What is wrong. */
  readonly message: string;
}

/** A model the sweep ran (or would have run). */
export interface SweepModel {
  /** Its label. */
  readonly model: string;
  /** sha256 of its bytes. */
  readonly modelSha256: string;
  /** Its H. */
  readonly hidden: number;
}

/** A text of the sweep. */
export interface SweepTextInfo {
  /** Its label. */
  readonly text: string;
  /** sha256 of its bytes. */
  readonly textSha256: string;
  /** Its length in bytes. */
  readonly bytes: number;
}

/** What {@link sweep} returns. */
export interface SweepResult {
  /** The models that loaded, in order (folders expanded). */
  readonly models: readonly SweepModel[];
  /** The texts, in order. */
  readonly texts: readonly SweepTextInfo[];
  /** The rows evaluated by this call, in grid order (models outer, then texts, then grid rows); skipped rows are left out. */
  readonly rows: readonly SweepRow[];
  /** Models that could not be loaded (their rows are not in `total`). */
  readonly errors: readonly SweepError[];
  /**
   * Rows of the whole grid over the models that loaded at the start, skipped ones included:
   * indices run 0 .. total-1 (a model file that changes or vanishes during the sweep keeps
   * its indices; its rows are missing and it is listed in `errors`).
   */
  readonly total: number;
  /** Rows `skip` left out. */
  readonly skipped: number;
}

/** Run options of {@link sweep}. */
export interface SweepRunOptions extends RunOptions {
  /**
   * Called once the plan is made with (0, rows to evaluate), then in rows as they finish;
   * the total shrinks if a model file changes or vanishes while the sweep runs.
   */
  onProgress?: (done: number, total: number) => void;
  /** Each row as soon as its sub-batch finishes, with its index in grid order (0 .. total-1). */
  onRow?: (row: SweepRow, index: number) => void;
  /** Return true to leave a row out (e.g. one a previous, interrupted run finished); called for every row before any work. */
  skip?: (row: SweepRowId, index: number) => boolean;
  /**
   * Called once the plan is made, before any evaluation: the models and texts, the rows of
   * the whole grid, and the errors so far (the same array the result holds; it grows if a
   * model file changes or vanishes during the sweep). What a caller needs to write a partial
   * output if the sweep is aborted.
   */
  onPlan?: (plan: SweepPlan) => void;
}

/** What {@link SweepRunOptions.onPlan} receives. */
export interface SweepPlan {
  /** The models that loaded, in order. */
  readonly models: readonly SweepModel[];
  /** The texts, in order. */
  readonly texts: readonly SweepTextInfo[];
  /** Models that could not be loaded (a live list). */
  readonly errors: readonly SweepError[];
  /** Rows of the whole grid over the loaded models (indices 0 .. total-1). */
  readonly total: number;
  /** Rows `skip` left out. */
  readonly skipped: number;
}

/** Dynamics variants per Analysis call when `batchSize` is not given. */
export const DEFAULT_SWEEP_BATCH = 32;

/** Readout-only rows per call, per dynamics variant allowed (they are much cheaper than a forward pass). */
const READOUT_ROWS_PER_DYNAMICS = 8;

/**
 * q5_redux's study as sweep grids: the Wh thresholds, the Wx thresholds, and the combined
 * grid of k = 5, 10, 15, 20, 30, all × Wh thresholds 0, 1, 2, 3 (k above H left out, as q5 does).
 */
export const PRUNE_GRID: readonly SweepGrid[] = [
  { wh: DEFAULT_THRESHOLDS },
  { wx: DEFAULT_THRESHOLDS },
  { k: [5, 10, 15, 20, 30, 'all'], wh: [0.0, 1.0, 2.0, 3.0], skipLargeK: true },
];

const GRID_KEYS: ReadonlySet<string> = new Set(['k', 'wh', 'wx', 'variants', 'skipLargeK']);

/** One grid, checked. */
interface CheckedGrid {
  ks: readonly (number | 'all')[];
  wh: readonly number[];
  wx: readonly number[];
  variants: readonly PreparedVariant[];
  skipLargeK: boolean;
}

/** A variant of the grid, translated for the Analysis once. */
interface PreparedVariant {
  label: string;
  variant: Variant;
  /** Only readout interventions: it shares the base trajectory. */
  readoutOnly: boolean;
}

/** The key of a row (what a resume matches): the model, the text and the row's coordinates. */
export function sweepRowKey(r: Pick<SweepRowId, 'modelSha256' | 'textSha256' | 'k' | 'whThreshold' | 'wxThreshold' | 'variant'>): string {
  return JSON.stringify([r.modelSha256, r.textSha256, r.k ?? null, r.whThreshold ?? null, r.wxThreshold ?? null, r.variant ?? null]);
}

function checkList<T>(list: unknown, what: string, check: (x: unknown) => string | undefined): readonly T[] {
  if (!Array.isArray(list)) throw new SatrnnError('BAD_OPTION', `grid ${what} must be an array (got ${describeValue(list)})`);
  const seen = new Set<unknown>();
  for (const x of list) {
    const why = check(x);
    if (why) throw new SatrnnError('BAD_OPTION', `grid ${what}: ${why}`);
    if (seen.has(x)) throw new SatrnnError('BAD_OPTION', `grid ${what}: ${String(x)} is listed twice`);
    seen.add(x);
  }
  return list as readonly T[];
}

const checkK = (x: unknown): string | undefined =>
  x === 'all' || (typeof x === 'number' && Number.isInteger(x) && x >= 0) ? undefined : `${typeof x === 'string' ? `'${x}'` : String(x)} is not a number of neurons (an integer >= 0, or 'all')`;

const checkThreshold = (x: unknown): string | undefined =>
  typeof x === 'number' && Number.isFinite(x) && x >= 0 ? undefined : `threshold ${typeof x === 'string' ? `'${x}'` : String(x)} must be a finite number >= 0 (entries with |w| < threshold are zeroed)`;

function checkGrid(g: unknown, at: string, labels: Set<string>): CheckedGrid {
  if (g === null || typeof g !== 'object' || Array.isArray(g))
    throw new SatrnnError('BAD_OPTION', `${at} must be { k?, wh?, wx?, variants?, skipLargeK? } (got ${describeValue(g)})`);
  const o = g as Record<string, unknown>;
  for (const key of Object.keys(o))
    if (!GRID_KEYS.has(key)) throw new SatrnnError('BAD_OPTION', `${at}: unknown key '${key}' (keys: ${[...GRID_KEYS].join(', ')})`);
  if (o.skipLargeK !== undefined && typeof o.skipLargeK !== 'boolean') throw new SatrnnError('BAD_OPTION', `${at}: skipLargeK must be true or false`);
  const rawVariants = o.variants === undefined ? [] : o.variants;
  if (!Array.isArray(rawVariants)) throw new SatrnnError('BAD_OPTION', `${at}: variants must be an array of intervention lists or { label?, interventions } (got ${describeValue(rawVariants)})`);
  const variants = rawVariants.map((v: unknown, i): PreparedVariant => {
    const where = `${at}, variant ${i}`;
    const iv = (Array.isArray(v) ? { interventions: v } : v) as InterventionVariant;
    if (iv === null || typeof iv !== 'object' || !Array.isArray(iv.interventions))
      throw new SatrnnError('BAD_OPTION', `${where} must be a list of interventions or { label?, interventions } (got ${describeValue(v)})`);
    if (iv.label !== undefined && (typeof iv.label !== 'string' || iv.label === '')) throw new SatrnnError('BAD_OPTION', `${where}: label must be a non-empty string`);
    const variant = toVariant(iv.interventions, where);
    const label = variantLabel(iv);
    if (labels.has(label)) throw new SatrnnError('BAD_OPTION', `${where}: the label '${label}' is used twice; give each variant a distinct label ({ label, interventions })`);
    labels.add(label);
    return { label, variant, readoutOnly: iv.interventions.every((x) => READOUT_KINDS.has(x.kind)) };
  });
  return {
    ks: checkList(o.k ?? ['all'], 'k', checkK),
    wh: checkList(o.wh ?? [0], 'wh', checkThreshold),
    wx: checkList(o.wx ?? [0], 'wx', checkThreshold),
    variants,
    skipLargeK: o.skipLargeK === true,
  };
}

/** The checked grids; BAD_OPTION for an empty grid, unknown keys, bad values. */
function checkGrids(grid: unknown): CheckedGrid[] {
  const list = Array.isArray(grid) ? grid : [grid];
  if (list.length === 0) throw new SatrnnError('BAD_OPTION', 'grid is an empty list: give at least one grid { k?, wh?, wx?, variants? }');
  const labels = new Set<string>();
  const grids = list.map((g, i) => checkGrid(g, Array.isArray(grid) ? `grid ${i}` : 'grid', labels));
  if (grids.every((g) => g.ks.length * g.wh.length * g.wx.length === 0 && g.variants.length === 0))
    throw new SatrnnError('BAD_OPTION', 'the grid has no rows: k × wh × wx is empty and there are no variants (give at least one value in each list, or a variant)');
  return grids;
}

/** Every neuron index a variant names, and the sizes of its masks, for the check against a model's H. */
function variantProblem(v: Variant, H: number): string | undefined {
  const neurons = [
    ...(v.knockout ?? []),
    ...(v.keepOnly ?? []),
    ...(v.signSnap ?? []),
    ...(v.negate ?? []),
    ...(v.readMean ?? []),
    ...(v.neurons ?? []).map((n) => n.neuron),
    ...(v.patch ?? []).flatMap((p) => p.neurons),
    ...(v.edits ?? []).flatMap((e) => ('whColumn' in e ? [e.whColumn] : [])),
  ];
  const bad = neurons.find((j) => !Number.isInteger(j) || j < 0 || j >= H);
  if (bad !== undefined) return `neuron ${String(bad)} (neurons 0..${H - 1})`;
  for (const e of v.edits ?? [])
    if ('keep' in e) {
      const need = e.matrix === 'Wh' ? H * H : H * VOCAB;
      if (!(e.keep instanceof Uint8Array) || e.keep.length !== need) return `a ${e.matrix} mask of ${e.keep?.length ?? '?'} entries (${e.matrix} has ${need})`;
    }
  for (const p of v.patch ?? []) if (p.from?.model instanceof Model && p.from.model.hidden !== H) return `a patch donor model of H=${p.from.model.hidden}`;
  return undefined;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A model of the sweep: a Model held in memory, or a file read again when its turn comes. */
interface ModelEntry {
  info: SweepModel;
  instance?: Model;
  file?: string;
}

/** The model files a path names: itself, or a folder's `*.bin` files sorted by name. */
function modelFiles(p: string): string[] {
  let isDir = false;
  try {
    isDir = statSync(p).isDirectory();
  } catch {
    // a missing file (or a link loop, …) is reported by the loader, as that model's error
  }
  if (!isDir) return [p];
  let names: string[];
  try {
    names = readdirSync(p);
  } catch (err) {
    throw inputError(err, p, 'model folder');
  }
  const files = names.filter((f) => f.endsWith('.bin')).sort();
  if (files.length === 0) throw new SatrnnError('BAD_OPTION', `model folder ${p} contains no .bin files`);
  return files.map((f) => path.join(p, f));
}

/**
 * Loads every model once (checks it, takes its sha256 and H) before any work; a model that
 * fails becomes an error entry. Files are not kept: they are read again when their turn comes.
 */
function scanModels(models: readonly (Model | string)[]): { entries: ModelEntry[]; errors: SweepError[] } {
  if (!Array.isArray(models) || models.length === 0)
    throw new SatrnnError('BAD_OPTION', `models must be a non-empty array of Models, model files or folders (got ${describeValue(models)})`);
  const entries: ModelEntry[] = [];
  const errors: SweepError[] = [];
  const attempt = (label: string, load: () => Model, keep: boolean): void => {
    try {
      const m = load();
      entries.push({ info: { model: label, modelSha256: sha256(m.toBytes()), hidden: m.hidden }, ...(keep ? { instance: m } : { file: label }) });
    } catch (err) {
      if (!(err instanceof SatrnnError)) throw err;
      errors.push({ model: label, code: err.code, message: err.message });
    }
  };
  models.forEach((m, i) => {
    if (m instanceof Model) attempt(m.source, () => (assertFinite(m.weights, m.hidden, m.source), m), true);
    else if (typeof m === 'string' && m !== '') for (const f of modelFiles(m)) attempt(f, () => loadModel(f), false);
    else throw new SatrnnError('BAD_OPTION', `models[${i}] must be a Model, a model file or a folder of .bin files (got ${describeValue(m)})`);
  });
  return { entries, errors };
}

/** A text of the sweep: its source (bytes when small enough to keep the base trajectory) and what identifies it. */
interface TextEntry {
  info: SweepTextInfo;
  data: TextSource;
}

/** A Buffer's bytes as a plain Uint8Array view. */
const plainBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

const isSweepText = (x: unknown): x is SweepText =>
  x !== null && typeof x === 'object' && !(x instanceof Uint8Array) && !Array.isArray(x) && 'data' in x;

/**
 * Reads every text once: its sha256 and length. A text short enough for the analyses to keep
 * its base trajectory (see TRAJECTORY_CACHE_BYTES; `keepBytes`) is kept in memory, so the
 * readout-only rows, the knockout ranking and the baseline share one forward pass.
 */
async function scanTexts(data: SweepInput['data'], keepBytes: number, signal: AbortSignal | undefined): Promise<TextEntry[]> {
  const list: readonly unknown[] = Array.isArray(data) ? data : [data];
  if (list.length === 0) throw new SatrnnError('BAD_OPTION', 'data is an empty list: give at least one text');
  const out: TextEntry[] = [];
  for (const [i, x] of list.entries()) {
    const t: SweepText = isSweepText(x) ? x : { data: x as TextSource };
    const src = t.data;
    if (!(src instanceof Uint8Array) && !(typeof src === 'string' && src !== '') && typeof src !== 'function')
      throw new SatrnnError('BAD_OPTION', `data ${i} must be bytes (a Uint8Array), a file path, a function returning an async iterable of byte blocks, or { label, data } (got ${describeValue(src)})`);
    if (t.label !== undefined && (typeof t.label !== 'string' || t.label === '')) throw new SatrnnError('BAD_OPTION', `data ${i}: label must be a non-empty string`);
    const label = t.label ?? (typeof src === 'string' ? src : `<${src instanceof Uint8Array ? 'bytes' : 'stream'} ${i + 1}>`);
    const h = createHash('sha256');
    let n = 0;
    let parts: Uint8Array[] | undefined = src instanceof Uint8Array ? undefined : [];
    for await (const b of blocks(src, signal)) {
      h.update(b);
      n += b.length;
      if (parts && n <= keepBytes) parts.push(typeof src === 'function' ? b.slice() : b);
      else parts = undefined;
    }
    if (n < 2) throw new SatrnnError('DATA_TOO_SHORT', `${label}: ${n} byte${n === 1 ? '' : 's'} of data; at least 2 needed (n - 1 predictions are scored)`);
    out.push({ info: { text: label, textSha256: h.digest('hex'), bytes: n }, data: src instanceof Uint8Array ? src : parts ? plainBytes(Buffer.concat(parts, n)) : src });
  }
  return out;
}

/**
 * Checks the grids against every model before any work: k above H (unless the grid skips
 * large k) and variants naming neurons beyond H; one error lists every offending combination.
 */
function checkAgainstModels(grids: readonly CheckedGrid[], models: readonly SweepModel[]): void {
  const problems: string[] = [];
  for (const m of models) {
    const H = m.hidden;
    const large = [...new Set(grids.flatMap((g) => (g.skipLargeK ? [] : g.ks.filter((k): k is number => k !== 'all' && k > H))))];
    if (large.length) problems.push(`k ${large.join(', ')} > H=${H} of ${m.model}`);
    for (const g of grids)
      for (const v of g.variants) {
        const p = variantProblem(v.variant, H);
        if (p) problems.push(`variant '${v.label}' uses ${p} but ${m.model} has H=${H}`);
      }
  }
  if (problems.length === 0) return;
  const shown = problems.slice(0, 8).join('; ') + (problems.length > 8 ? `; and ${problems.length - 8} more` : '');
  const hint = problems.some((p) => p.startsWith('k '))
    ? " (use 'all' for every neuron, drop those k values, or skipLargeK: true / --skip-large-k to leave them out for the smaller models)"
    : '';
  throw new SatrnnError('BAD_OPTION', `the grid does not fit every model: ${shown}${hint}`);
}

/** Patch positions must exist in every text (positions 0 .. n-2): checked before any work too. */
function checkAgainstTexts(grids: readonly CheckedGrid[], texts: readonly SweepTextInfo[]): void {
  const shortest = texts.reduce((a, t) => (t.bytes < a.bytes ? t : a));
  for (const g of grids)
    for (const v of g.variants) {
      const last = Math.max(-1, ...(v.variant.patch ?? []).flatMap((p) => (Array.isArray(p.positions) ? p.positions : [])));
      if (last >= shortest.bytes - 1)
        throw new SatrnnError('BAD_OPTION', `variant '${v.label}' patches position ${last}, past the end of ${shortest.text} (${shortest.bytes} bytes: positions 0..${shortest.bytes - 2})`);
    }
}

/** A row to evaluate: its index in grid order, what identifies it, and how to build its variant. */
interface PlannedRow {
  index: number;
  id: SweepRowId;
  /** Rows of one class share their dynamics ('base': the intact forward pass). */
  cls: string;
  /** A grid row's coordinates (k already resolved to a number). */
  grid?: { k: number; wh: number; wx: number };
  /** A variant row's variant. */
  prepared?: PreparedVariant;
}

/** The rows of one model × text, in grid order, numbered from `first`. */
function planRows(grids: readonly CheckedGrid[], m: SweepModel, t: SweepTextInfo, first: number): PlannedRow[] {
  const H = m.hidden;
  const rows: PlannedRow[] = [];
  const base = { model: m.model, modelSha256: m.modelSha256, hidden: H, text: t.text, textSha256: t.textSha256 };
  for (const g of grids) {
    for (const kk of g.ks) {
      const k = kk === 'all' ? H : kk;
      if (k > H) continue; // only with skipLargeK (checkAgainstModels refused the others)
      for (const wh of g.wh)
        for (const wx of g.wx)
          rows.push({
            index: first + rows.length,
            id: { ...base, k, whThreshold: wh, wxThreshold: wx, variant: undefined },
            cls: wh === 0 && wx === 0 ? 'base' : `t:${wh}/${wx}`,
            grid: { k, wh, wx },
          });
    }
    for (const v of g.variants)
      rows.push({
        index: first + rows.length,
        id: { ...base, k: undefined, whThreshold: undefined, wxThreshold: undefined, variant: v.label },
        cls: v.readoutOnly ? 'base' : `v:${v.label}`,
        prepared: v,
      });
  }
  return rows;
}

/** The Analysis variant of a row (thresholds of 0 zero nothing, so they add no edit). */
function rowVariant(r: PlannedRow, ranking: readonly number[] | undefined, H: number): Variant {
  if (r.prepared) return r.prepared.variant;
  const { k, wh, wx } = r.grid!;
  const edits: WeightEdit[] = [];
  if (wh > 0) edits.push({ matrix: 'Wh', threshold: wh });
  if (wx > 0) edits.push({ matrix: 'Wx', threshold: wx });
  return { ...(k < H ? { keepOnly: ranking!.slice(0, k) } : {}), ...(edits.length ? { edits } : {}) };
}

/**
 * Entries of one matrix the edits leave (q5_redux's count: an entry is kept unless an edit
 * zeroes it; a threshold above 0 zeroes entries already 0 too, a threshold of 0 none).
 */
function keptEntries(model: Model, matrix: 'Wh' | 'Wx', edits: readonly WeightEdit[]): number {
  const H = model.hidden;
  const w = matrix === 'Wh' ? model.Wh : model.Wx;
  const mine = edits.filter((e) => ('whColumn' in e ? matrix === 'Wh' : e.matrix === matrix));
  if (mine.length === 0) return w.length;
  const only = mine[0]!;
  if (mine.length === 1 && 'threshold' in only) return countAtLeast(w, only.threshold);
  const zeroed = new Uint8Array(w.length);
  for (const e of mine) {
    if ('whColumn' in e) for (let i = 0; i < H; i++) zeroed[i * H + e.whColumn] = 1;
    else if ('threshold' in e) {
      const t = Math.fround(e.threshold);
      for (let i = 0; i < w.length; i++) if (Math.abs(w[i]!) < t) zeroed[i] = 1;
    } else for (let i = 0; i < w.length; i++) if (e.keep[i] === 0) zeroed[i] = 1;
  }
  return w.length - zeroed.reduce((s, z) => s + z, 0);
}

/** Wy columns a variant's readout uses (keepOnly, minus knockouts). */
function readoutColumns(v: Variant, H: number): number {
  const used = new Uint8Array(H).fill(v.keepOnly ? 0 : 1);
  for (const j of v.keepOnly ?? []) used[j] = 1;
  for (const j of v.knockout ?? []) used[j] = 0;
  return used.reduce((s, u) => s + u, 0);
}

/** The sizes of a row's copy: fractions kept and the parameter count. */
function rowSizes(model: Model, v: Variant, cache: Map<string, number>): Pick<SweepRow, 'whKept' | 'wxKept' | 'wyKept' | 'params'> {
  const H = model.hidden;
  const edits = v.edits ?? [];
  const kept = (matrix: 'Wh' | 'Wx'): number => {
    // Threshold lists (every grid row) are counted once per model; masks are counted each time.
    const key = edits.every((e) => 'threshold' in e) ? `${matrix}${JSON.stringify(edits)}` : undefined;
    const hit = key === undefined ? undefined : cache.get(key);
    if (hit !== undefined) return hit;
    const n = keptEntries(model, matrix, edits);
    if (key !== undefined) cache.set(key, n);
    return n;
  };
  const wh = kept('Wh');
  const wx = kept('Wx');
  const cols = readoutColumns(v, H);
  return { whKept: wh / (H * H), wxKept: wx / (H * VOCAB), wyKept: cols / H, params: wx + wh + H + cols * VOCAB + VOCAB };
}

/**
 * The rows of one model × text in sub-batches: the readout-only rows (they share the base
 * trajectory) with the first dynamics classes, then `batchSize` dynamics classes per batch;
 * rows of one class (same dynamics) stay in one batch so they share their forward pass.
 */
function subBatches(rows: readonly PlannedRow[], batchSize: number): PlannedRow[][] {
  const classes = new Map<string, PlannedRow[]>([['base', []]]);
  for (const r of rows) {
    const c = classes.get(r.cls);
    if (c) c.push(r);
    else classes.set(r.cls, [r]);
  }
  const maxRows = READOUT_ROWS_PER_DYNAMICS * batchSize;
  const out: PlannedRow[][] = [];
  let cur: PlannedRow[] = [];
  let dynamics = 0;
  for (const [cls, members] of classes)
    for (let i = 0; i < members.length; i += maxRows) {
      cur.push(...members.slice(i, i + maxRows));
      if (cls !== 'base') dynamics++;
      if (dynamics >= batchSize || cur.length >= maxRows) {
        out.push(cur);
        cur = [];
        dynamics = 0;
      }
    }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * Runs a sweep: every row of the grid(s) for every model × text (models outer, then texts,
 * then the grid's rows), each a pruned or intervened copy evaluated with its dynamics re-run.
 *
 * Before any work: the grid is checked (BAD_OPTION for unknown keys, empty grids, k < 0 or
 * not an integer, negative/NaN/infinite thresholds, duplicate entries or variant labels),
 * every model is loaded once (a model that fails is listed in `errors`, not run), the grid is
 * checked against every model's H (one BAD_OPTION lists every k above an H, unless
 * `skipLargeK`, and every variant naming a neuron beyond H), and every text is read once
 * (sha256; small texts are kept in memory).
 *
 * Per model × text: one Analysis; the readout-knockout ranking when a row keeps k < H
 * neurons (one readout pass over the shared trajectory); then the rows in sub-batches.
 *
 * @throws SatrnnError `BAD_OPTION` as above, `FILE_NOT_FOUND` / `FILE_UNREADABLE` /
 *   `DATA_TOO_SHORT` for a text, `ABORTED` (every row finished before has been given to `onRow`)
 */
export async function sweep(input: SweepInput, opts: SweepRunOptions = {}): Promise<SweepResult> {
  if (input === null || typeof input !== 'object') throw new SatrnnError('BAD_OPTION', `sweep({ models, data, grid }) takes an object (got ${describeValue(input)})`);
  checkRunOptions(opts, '{ onProgress?, signal?, onRow?, skip?, onPlan? }');
  for (const f of ['onRow', 'skip', 'onPlan'] as const)
    if (opts[f] !== undefined && typeof opts[f] !== 'function') throw new SatrnnError('BAD_OPTION', `${f} must be a function (got ${describeValue(opts[f])})`);
  const batchSize = input.batchSize ?? DEFAULT_SWEEP_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new SatrnnError('BAD_OPTION', `batchSize must be a positive integer (got ${describeValue(input.batchSize)})`);
  const { signal } = opts;
  const grids = checkGrids(input.grid);
  const backend = resolveBackend(input.backend);
  throwIfAborted(signal);
  const { entries, errors } = scanModels(input.models);
  checkAgainstModels(grids, entries.map((e) => e.info));
  const minH = Math.min(...entries.map((e) => e.info.hidden));
  const texts = await scanTexts(input.data, entries.length ? Math.floor(TRAJECTORY_CACHE_BYTES / (4 * minH)) + 1 : 0, signal);
  checkAgainstTexts(grids, texts.map((t) => t.info));

  // The plan: every row in grid order; `skip` decides which are left out.
  const plan: { entry: ModelEntry; text: TextEntry; rows: PlannedRow[] }[] = [];
  let total = 0;
  let skipped = 0;
  for (const entry of entries)
    for (const text of texts) {
      const rows = planRows(grids, entry.info, text.info, total);
      total += rows.length;
      const todo = rows.filter((r) => !opts.skip?.(r.id, r.index));
      skipped += rows.length - todo.length;
      if (todo.length) plan.push({ entry, text, rows: todo });
    }
  let toDo = total - skipped;
  let done = 0;
  opts.onPlan?.({ models: entries.map((e) => e.info), texts: texts.map((t) => t.info), errors, total, skipped });
  opts.onProgress?.(0, toDo);

  const results: { index: number; row: SweepRow }[] = [];
  const failed = new Set<ModelEntry>();
  let loaded: { entry: ModelEntry; model: Model } | undefined;
  for (const { entry, text, rows } of plan) {
    throwIfAborted(signal);
    if (failed.has(entry)) continue;
    if (loaded?.entry !== entry) {
      const model = entry.instance ?? reload(entry, errors);
      if (!model) {
        failed.add(entry);
        toDo -= plan.filter((p) => p.entry === entry).reduce((s, p) => s + p.rows.length, 0);
        opts.onProgress?.(done, toDo);
        continue;
      }
      loaded = { entry, model };
    }
    const model = loaded.model;
    const H = model.hidden;
    const an = new Analysis({ model, data: text.data, backend, ...(input.chunkSize !== undefined ? { chunkSize: input.chunkSize } : {}), ...(input.onWarning ? { onWarning: input.onWarning } : {}) });
    let baselineBpc: number | undefined;
    let ranking: readonly number[] | undefined;
    if (rows.some((r) => r.grid && r.grid.k < H)) {
      const ko = await new ReadoutKnockout().run(an, { ...(signal ? { signal } : {}) });
      baselineBpc = ko.baselineBpc;
      ranking = ko.ranking;
    }
    const sizes = new Map<string, number>();
    for (const batchRows of subBatches(rows, batchSize)) {
      const variants = batchRows.map((r) => rowVariant(r, ranking, H));
      const own = baselineBpc === undefined ? 1 : 0; // the first batch evaluates the baseline when no ranking did
      let last = done;
      const mean = await an.meanBpc(own ? [{}, ...variants] : variants, {
        ...(signal ? { signal } : {}),
        onProgress: (d, all) => {
          // Rows of this batch, pro rata (never backwards: mean ablations and patches add passes).
          const now = done + (all > 0 ? Math.floor((batchRows.length * Math.min(d, all)) / all) : 0);
          if (now > last && now < done + batchRows.length) opts.onProgress?.((last = now), toDo);
        },
      });
      if (own) baselineBpc = mean[0]!;
      const B = baselineBpc!;
      const finished = batchRows
        .map((r, i): [PlannedRow, SweepRow] => {
          const bpc = mean[own + i]!;
          return [r, { ...r.id, ...rowSizes(model, variants[i]!, sizes), bpc, baselineBpc: B, deltaBpc: bpc - B, pctOfGap: pctOfGap(bpc, B) }];
        })
        .sort((a, b) => a[0].index - b[0].index);
      for (const [r, row] of finished) {
        results.push({ index: r.index, row });
        opts.onRow?.(row, r.index);
      }
      done += batchRows.length;
      opts.onProgress?.(done, toDo);
    }
  }
  return {
    models: entries.filter((e) => !failed.has(e)).map((e) => e.info),
    texts: texts.map((t) => t.info),
    // A pair's batches group rows by dynamics, not in grid order: sort once.
    rows: results.sort((a, b) => a.index - b.index).map((x) => x.row),
    errors,
    total,
    skipped,
  };
}

/** A model file read again for its turn: the same bytes as when it was scanned, or an error entry. */
function reload(entry: ModelEntry, errors: SweepError[]): Model | undefined {
  const label = entry.info.model;
  try {
    const m = loadModel(entry.file!);
    if (sha256(m.toBytes()) === entry.info.modelSha256) return m;
    errors.push({ model: label, code: 'FILE_UNREADABLE', message: `${label}: the file changed while the sweep ran (its sha256 differs from the one it had at the start); its rows were not run` });
  } catch (err) {
    if (!(err instanceof SatrnnError)) throw err;
    errors.push({ model: label, code: err.code, message: err.message });
  }
  return undefined;
}
