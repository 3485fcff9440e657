// Outputs of `satrnn sweep` / `satrnn prune`: an aligned text table, CSV and JSON (schema
// satrnn.sweep/1), and the reader of that JSON for --resume. Keys and columns follow README's
// glossary: the same word in camelCase (API, JSON) and snake_case (CSV, text headers).
import { sprintf } from '../../format/printf.js';
import { SatrnnError } from '../../errors.js';
import { VERSION } from '../../version.js';
import type { SweepError, SweepRow } from './experiment.js';

/** Identifier and version of the sweep JSON document. */
export const SWEEP_JSON_SCHEMA = 'satrnn.sweep/1';

/** The row fields in output order: JSON keys (and API fields). */
export const SWEEP_ROW_FIELDS = [
  'model',
  'modelSha256',
  'hidden',
  'text',
  'textSha256',
  'k',
  'whThreshold',
  'wxThreshold',
  'variant',
  'whKept',
  'wxKept',
  'wyKept',
  'params',
  'bpc',
  'baselineBpc',
  'deltaBpc',
  'pctOfGap',
] as const satisfies readonly (keyof SweepRow)[];

/** Header of {@link formatSweepCsv}: the row fields in snake_case. */
export const SWEEP_CSV_COLUMNS: readonly string[] = SWEEP_ROW_FIELDS.map((f) => f.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase());

/** The rows of a sweep report and how complete it is. */
export interface SweepReport {
  /** The rows, in grid order (finished ones only when partial). */
  readonly rows: readonly SweepRow[];
  /** Models that were not run. */
  readonly errors: readonly SweepError[];
  /** Rows of the whole grid (over the models that loaded). */
  readonly total: number;
  /** True when the sweep was interrupted: rows are missing; `--resume` finishes them. */
  readonly partial: boolean;
}

/** Where a sweep report came from: everything needed to reproduce it. */
export interface SweepProvenance {
  /** `sweep`, or `prune` (q5_redux's grid). */
  readonly command: string;
  /** 'native' or 'js'. */
  readonly backend: string;
  /** The code path: 'avx512', 'avx2', 'sse2', 'scalar' or 'js'. */
  readonly isa: string;
  /** How the readout summed its logits ('certified'; identical bits to 'ordered'). */
  readonly readoutMethod: string;
  /** The texts, in order. */
  readonly data: readonly {
    /** The path as given (`<stdin>` for standard input, `embedded default corpus`). */
    readonly file: string;
    /** Length in bytes. */
    readonly bytes: number;
    /** sha256 of its bytes. */
    readonly sha256: string;
  }[];
  /** The models that loaded, in order. */
  readonly models: readonly {
    /** The path as given (folder/name for a folder's files, or `embedded default model`). */
    readonly model: string;
    /** sha256 of its bytes. */
    readonly sha256: string;
    /** Its H. */
    readonly hidden: number;
  }[];
  /** The options that shaped the report. */
  readonly options: {
    /** The grid (or list of grids) run. */
    readonly grid: unknown;
    /** Dynamics variants per Analysis call (results do not depend on it). */
    readonly batchSize: number;
    /** The file whose rows were reused, or null. */
    readonly resumedFrom: string | null;
  };
}

/** A row as JSON: every field present, undefined as null. */
function rowJson(r: SweepRow): Record<string, unknown> {
  return Object.fromEntries(SWEEP_ROW_FIELDS.map((f) => [f, r[f] ?? null]));
}

/** The sweep JSON document (schema {@link SWEEP_JSON_SCHEMA}; README documents every field). */
export function sweepJson(report: SweepReport, provenance: SweepProvenance): object {
  return {
    schema: SWEEP_JSON_SCHEMA,
    partial: report.partial,
    totalRows: report.total,
    provenance: { satrnn: VERSION, ...provenance },
    rows: report.rows.map(rowJson),
    errors: report.errors.map((e) => ({ model: e.model, code: e.code, message: e.message })),
  };
}

/** A model error in one line, naming the model (loader messages usually start with its path already). */
export function sweepErrorText(e: SweepError): string {
  const message = e.message.replace(/\s*\n\s*/g, ' ');
  return message.includes(e.model) ? message : `${e.model}: ${message}`;
}

const csvField = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** What is missing from a report, as lines: the partial note and the models not run. */
function notes(report: SweepReport): string[] {
  return [
    ...(report.partial ? [`partial: ${report.rows.length} of ${report.total} rows (interrupted); finish with --resume FILE (the --json output)`] : []),
    ...report.errors.map((e) => `error: ${sweepErrorText(e)} (${e.code})`),
  ];
}

/**
 * One header line, then one CSV row per sweep row (grid order); numbers in JavaScript's
 * shortest round-trip form, undefined as an empty field. A partial report or models that
 * were not run add trailing `# …` comment lines (a complete run without errors has none).
 */
export function formatSweepCsv(report: SweepReport): string {
  const lines = [SWEEP_CSV_COLUMNS.join(',')];
  for (const r of report.rows) lines.push(SWEEP_ROW_FIELDS.map((f) => (r[f] === undefined ? '' : typeof r[f] === 'string' ? csvField(r[f]) : String(r[f]))).join(','));
  for (const n of notes(report)) lines.push(`# ${n}`);
  return `${lines.join('\n')}\n`;
}

const fmtThreshold = (t: number | undefined): string => (t === undefined ? '-' : String(t));

/** Aligned, human-readable table: one block per model × text (grid order), then what is missing. */
export function formatSweepTable(report: SweepReport): string {
  const lines: string[] = [];
  let block = '';
  for (const r of report.rows) {
    const key = `${r.modelSha256}/${r.model}/${r.textSha256}/${r.text}`;
    if (key !== block) {
      if (block) lines.push('');
      block = key;
      lines.push(`model ${r.model} (hidden ${r.hidden}), text ${r.text}: baseline_bpc ${sprintf('%.4f', r.baselineBpc)}`);
      lines.push('     k  wh_threshold  wx_threshold  wh_kept  wx_kept  wy_kept    params      bpc  delta_bpc  pct_of_gap  variant');
    }
    lines.push(
      `${sprintf('%6s  %12s  %12s  %7.4f  %7.4f  %7.4f  %8d  %7.4f  %+9.4f', r.k === undefined ? '-' : String(r.k), fmtThreshold(r.whThreshold), fmtThreshold(r.wxThreshold), r.whKept, r.wxKept, r.wyKept, r.params, r.bpc, r.deltaBpc)}  ${
        r.pctOfGap === undefined ? '       n/a' : sprintf('%10.2f', r.pctOfGap)
      }${r.variant === undefined ? '' : `  ${r.variant}`}`,
    );
  }
  const n = notes(report);
  if (n.length) lines.push(...(lines.length ? [''] : []), ...n);
  return lines.length ? `${lines.join('\n')}\n` : '';
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The rows of a sweep JSON document (for `--resume`), checked field by field.
 *
 * @param source - the file's name, for messages
 * @throws SatrnnError `BAD_OPTION` when the text is not a {@link SWEEP_JSON_SCHEMA} document
 */
export function parseSweepJson(text: string, source: string): SweepRow[] {
  const bad = (why: string): SatrnnError =>
    new SatrnnError('BAD_OPTION', `${source}: ${why}; --resume takes the --json output of an earlier satrnn sweep or prune (schema ${SWEEP_JSON_SCHEMA})`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message})`);
  }
  const d = doc as { schema?: unknown; rows?: unknown };
  if (d === null || typeof d !== 'object') throw bad('not a sweep document');
  if (d.schema !== SWEEP_JSON_SCHEMA) throw bad(`schema is ${JSON.stringify(d.schema ?? null)}, not ${SWEEP_JSON_SCHEMA}`);
  if (!Array.isArray(d.rows)) throw bad('it has no rows list');
  const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  return d.rows.map((x: unknown, i): SweepRow => {
    const r = x as Record<string, unknown>;
    const field = (f: string, ok: boolean): void => {
      if (!ok) throw bad(`row ${i}: ${f} is ${JSON.stringify(r?.[f] ?? null)}`);
    };
    if (r === null || typeof r !== 'object') throw bad(`row ${i} is not an object`);
    for (const f of ['model', 'text']) field(f, typeof r[f] === 'string');
    for (const f of ['modelSha256', 'textSha256']) field(f, typeof r[f] === 'string' && HEX64.test(r[f] as string));
    field('hidden', Number.isInteger(r.hidden) && (r.hidden as number) >= 1);
    const variantRow = r.variant !== null;
    field('variant', r.variant === null || (typeof r.variant === 'string' && r.variant !== ''));
    field('k', variantRow ? r.k === null : Number.isInteger(r.k) && (r.k as number) >= 0);
    for (const f of ['whThreshold', 'wxThreshold']) field(f, variantRow ? r[f] === null : isNum(r[f]) && (r[f] as number) >= 0);
    for (const f of ['whKept', 'wxKept', 'wyKept', 'params', 'bpc', 'baselineBpc', 'deltaBpc']) field(f, isNum(r[f]));
    field('pctOfGap', r.pctOfGap === null || isNum(r.pctOfGap));
    return Object.fromEntries(SWEEP_ROW_FIELDS.map((f) => [f, r[f] === null ? undefined : r[f]])) as unknown as SweepRow;
  });
}
