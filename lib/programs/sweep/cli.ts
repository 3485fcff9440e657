// `satrnn sweep` (grids of pruned and intervened copies over models and texts) and
// `satrnn prune` (q5_redux's study as a preset grid). Outputs: a text table, --json
// (satrnn.sweep/1), --csv. Ctrl-C writes the finished rows (marked partial) and exits 130;
// --resume FILE runs only the rows a previous (partial) --json output lacks.
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_CORPUS, DEFAULT_MODEL } from '../../assets.js';
import { resolveBackend } from '../../engine/index.js';
import { SatrnnError, type SatrnnErrorCode } from '../../errors.js';
import { readFileChecked } from '../../io.js';
import { Model, loadModel } from '../../model.js';
import { addBackendOptions, backendOptions, emit, interrupt, openDataSource, parseIntOption, warn, type BackendFlags, type DataSource } from '../../cli/common.js';
import { progressBar } from '../../cli/progress.js';
import { DEFAULT_SWEEP_BATCH, PRUNE_GRID, sweep, sweepRowKey, type SweepGrid, type SweepPlan, type SweepRow } from './experiment.js';
import { formatSweepCsv, formatSweepTable, parseSweepJson, sweepErrorText, sweepJson, type SweepProvenance, type SweepReport } from './format.js';

interface SweepFlags extends BackendFlags {
  model?: string[];
  data?: string[];
  k?: (number | 'all')[];
  wh?: number[];
  wx?: number[];
  grid?: string;
  skipLargeK?: boolean;
  batchSize?: number;
  json?: boolean;
  csv?: boolean;
  output?: string;
  resume?: string;
}

/** Label of the embedded model and corpus in rows and provenance. */
const EMBEDDED_MODEL = 'embedded default model';
const EMBEDDED_CORPUS = 'embedded default corpus';

/** Largest grid file read (a grid with masks of a large H is big, but not this big). */
const MAX_GRID_BYTES = 256 << 20;

const repeatable = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** One entry of a comma-separated number list: a decimal number; nan/inf pass through for the API to refuse by name. */
function parseNumber(s: string, flag: string): number {
  const t = s.trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return Number(t);
  if (/^[+-]?nan$/i.test(t)) return NaN;
  if (/^[+-]?inf(inity)?$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  throw new InvalidArgumentError(`${flag}: '${s}' is not a number (give a comma-separated list such as 0,0.5,1)`);
}

const numberList = (flag: string) => (v: string): number[] => (v.trim() === '' ? [] : v.split(',').map((s) => parseNumber(s, flag)));
const kList = (v: string): (number | 'all')[] => (v.trim() === '' ? [] : v.split(',').map((s) => (s.trim() === 'all' ? 'all' : parseNumber(s, '--k'))));

/**
 * The grid file (the API's grid shape, or a list of grids): JSON, with masks as arrays of
 * 0/1 (row-major) and patch donors' `data` / `model` as file paths relative to the grid file.
 */
function readGridFile(file: string): SweepGrid | SweepGrid[] {
  const text = Buffer.from(readFileChecked(file, 'grid', { maxBytes: MAX_GRID_BYTES })).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new SatrnnError('BAD_OPTION', `grid file ${file} is not valid JSON (${(err as Error).message}); it holds { "k": [...], "wh": [...], "wx": [...], "variants": [...] }`);
  }
  const dir = path.dirname(file);
  const fix = (iv: unknown): unknown => {
    if (iv === null || typeof iv !== 'object') return iv;
    const x = iv as Record<string, unknown>;
    if (x.kind === 'mask' && Array.isArray(x.keep)) return { ...x, keep: Uint8Array.from(x.keep as number[], (b) => (b ? 1 : 0)) };
    if (x.kind === 'patch' && x.from !== null && typeof x.from === 'object') {
      const from = x.from as Record<string, unknown>;
      return {
        ...x,
        from: {
          ...(typeof from.data === 'string' ? { data: path.resolve(dir, from.data) } : from.data !== undefined ? { data: from.data } : {}),
          ...(typeof from.model === 'string' ? { model: loadModel(path.resolve(dir, from.model)) } : from.model !== undefined ? { model: from.model } : {}),
        },
      };
    }
    return iv;
  };
  const fixGrid = (g: unknown): unknown => {
    if (g === null || typeof g !== 'object' || Array.isArray(g) || !Array.isArray((g as { variants?: unknown }).variants)) return g;
    const variants = ((g as { variants: unknown[] }).variants).map((v) => {
      if (Array.isArray(v)) return v.map(fix);
      if (v !== null && typeof v === 'object' && Array.isArray((v as { interventions?: unknown }).interventions))
        return { ...v, interventions: (v as { interventions: unknown[] }).interventions.map(fix) };
      return v;
    });
    return { ...g, variants };
  };
  return (Array.isArray(doc) ? doc.map(fixGrid) : fixGrid(doc)) as SweepGrid | SweepGrid[];
}

/**
 * The grid for provenance: as run (default lists filled in), masks as their size and kept
 * count, donor models as their label and H.
 */
function gridForJson(grid: SweepGrid | readonly SweepGrid[]): unknown {
  const full = (g: SweepGrid): SweepGrid => ({ k: g.k ?? ['all'], wh: g.wh ?? [0], wx: g.wx ?? [0], variants: g.variants ?? [], skipLargeK: g.skipLargeK ?? false });
  return JSON.parse(
    JSON.stringify(Array.isArray(grid) ? (grid as readonly SweepGrid[]).map(full) : full(grid as SweepGrid), (_k, v: unknown) => {
      if (v instanceof Uint8Array) return { entries: v.length, kept: v.reduce((s, b) => s + (b ? 1 : 0), 0) };
      if (v instanceof Model) return { model: v.source, hidden: v.hidden };
      return v;
    }),
  );
}

/** A sweep that ran but left models out: its output is written, then the command exits 1. */
class ModelsNotRun extends SatrnnError {
  constructor(code: SatrnnErrorCode, message: string) {
    super(code, message);
  }
  override get exitCode(): number {
    return 1;
  }
}

/** The common flags of `sweep` and `prune`. */
function commonOptions(cmd: Command): Command {
  cmd
    .addOption(new Option('-m, --model <file>', 'model file or folder of .bin files (repeatable; sizes may differ; default: the embedded model)').argParser(repeatable))
    .addOption(new Option('-d, --data <file>', "text to evaluate on (repeatable; any bytes, at least 2; '-' reads stdin; default: the embedded corpus)").argParser(repeatable))
    .addOption(new Option('--batch-size <n>', `dynamics variants per engine call (default ${DEFAULT_SWEEP_BATCH}; results do not depend on it)`).argParser(parseIntOption(1, 1 << 16)))
    .option('--json', 'JSON output with provenance (schema satrnn.sweep/1; the format --resume reads)')
    .option('--csv', 'CSV output')
    .option('-o, --output <file>', 'write to a file instead of stdout (also on Ctrl-C: the finished rows, marked partial)')
    .addOption(new Option('--resume <file>', 'reuse the rows of an earlier (partial) --json output and run only the missing ones (may be the -o file)'));
  return addBackendOptions(cmd);
}

/** Registers `satrnn sweep` and `satrnn prune`. */
export function registerSweep(program: Command): void {
  const sweepCmd = program
    .command('sweep')
    .description('evaluate a grid of pruned copies (top-k readout neurons × Wh threshold × Wx threshold) and intervention variants over models and texts')
    .addOption(new Option('--k <list>', "readout sizes: keep the top k neurons of each model's knockout ranking ('all' = every neuron), e.g. 5,10,all (default all)").argParser(kList))
    .addOption(new Option('--wh <list>', 'Wh thresholds: entries with |w| < threshold zeroed, e.g. 0,0.5,1 (default 0)').argParser(numberList('--wh')))
    .addOption(new Option('--wx <list>', 'Wx thresholds, the same rule (default 0)').argParser(numberList('--wx')))
    .option('--grid <file>', 'JSON grid { k, wh, wx, variants, skipLargeK } (variants: lists of interventions); --k/--wh/--wx override its lists')
    .option('--skip-large-k', "leave out k values above a model's H for that model instead of refusing the grid");
  commonOptions(sweepCmd).action(async (flags: SweepFlags) => {
    let grid: SweepGrid | SweepGrid[] = flags.grid !== undefined ? readGridFile(flags.grid) : {};
    const override: Record<string, unknown> = {
      ...(flags.k !== undefined ? { k: flags.k } : {}),
      ...(flags.wh !== undefined ? { wh: flags.wh } : {}),
      ...(flags.wx !== undefined ? { wx: flags.wx } : {}),
      ...(flags.skipLargeK ? { skipLargeK: true } : {}),
    };
    if (Object.keys(override).length) {
      if (Array.isArray(grid)) throw new SatrnnError('BAD_OPTION', `--k/--wh/--wx/--skip-large-k cannot change a grid file that lists several grids (${flags.grid}); edit the file`);
      grid = { ...grid, ...override };
    }
    await runSweepCommand('sweep', flags, grid);
  });
  const pruneCmd = program
    .command('prune')
    .description("q5_redux's pruning study as a sweep: Wh thresholds 0..10, Wx thresholds 0..10, top-k readout (5, 10, 15, 20, 30, all) × Wh thresholds 0, 1, 2, 3");
  commonOptions(pruneCmd).action(async (flags: SweepFlags) => runSweepCommand('prune', flags, PRUNE_GRID));
}

async function runSweepCommand(command: 'sweep' | 'prune', flags: SweepFlags, grid: SweepGrid | readonly SweepGrid[]): Promise<void> {
  if (flags.json && flags.csv) throw new SatrnnError('BAD_OPTION', 'choose one of --json and --csv');
  // --resume may name the -o file: it is read whole before the output replaces it (the shared
  // -o check in cli/program.ts does not count a sweep's --resume as an input).
  const resumeFile = flags.resume;
  const resumed = new Map<string, SweepRow>();
  if (resumeFile !== undefined) {
    const text = Buffer.from(readFileChecked(resumeFile, 'resume', { maxBytes: 1 << 30 })).toString('utf8');
    for (const r of parseSweepJson(text, resumeFile)) resumed.set(sweepRowKey(r), r);
  }
  const backend = resolveBackend(backendOptions(flags));
  // No --model / --data: the embedded default model and the corpus it was trained on.
  const models: (Model | string)[] = flags.model?.length ? flags.model : [labelled(loadModel(DEFAULT_MODEL), EMBEDDED_MODEL)];
  const dataFiles = flags.data?.length ? flags.data : [DEFAULT_CORPUS];
  if (dataFiles.filter((f) => f === '-').length > 1) throw new SatrnnError('BAD_OPTION', "stdin ('-') can be given as --data only once");
  // Streams (stdin, FIFOs) are copied to a temp file first: every row reads the text again.
  const sources: DataSource[] = [];
  const bar = progressBar(command, { unit: 'rows' });
  const done = new Map<number, SweepRow>();
  const reused = new Set<string>();
  let plan: SweepPlan | undefined;
  try {
    for (const f of dataFiles) sources.push(await openDataSource(f, { passes: 2, signal: interrupt.signal, command }));
    const data = sources.map((s, i) => ({ label: dataFiles[i] === DEFAULT_CORPUS ? EMBEDDED_CORPUS : s.label, data: s.data }));
    const batchSize = flags.batchSize ?? DEFAULT_SWEEP_BATCH;
    const provenance = (p: SweepPlan): SweepProvenance => ({
      command,
      backend: backend.name,
      isa: backend.isa,
      readoutMethod: 'certified',
      data: p.texts.map((t) => ({ file: t.text, bytes: t.bytes, sha256: t.textSha256 })),
      models: p.models.map((m) => ({ model: m.model, sha256: m.modelSha256, hidden: m.hidden })),
      options: { grid: gridForJson(grid), batchSize, resumedFrom: resumeFile ?? null },
    });
    const write = (p: SweepPlan, partial: boolean): void => {
      const report: SweepReport = { rows: [...done.keys()].sort((a, b) => a - b).map((i) => done.get(i)!), errors: p.errors, total: p.total, partial };
      const text = flags.json ? `${JSON.stringify(sweepJson(report, provenance(p)), null, 2)}\n` : flags.csv ? formatSweepCsv(report) : formatSweepTable(report);
      emit(text, flags.output, [...dataFiles, ...(flags.model ?? [])]);
    };
    let result;
    try {
      result = await sweep(
        { models, data, grid, backend, batchSize, onWarning: warn },
        {
          signal: interrupt.signal,
          onPlan: (p) => (plan = p),
          onProgress: bar.update,
          onRow: (row, i) => done.set(i, row),
          skip: (id, i) => {
            const key = sweepRowKey(id);
            const old = resumed.get(key);
            if (!old) return false;
            done.set(i, { ...old, ...id }); // this run's labels, the earlier run's numbers
            reused.add(key);
            return true;
          },
        },
      );
    } catch (err) {
      bar.stop();
      // Interrupted once the plan was made: the finished rows are the output, marked partial.
      if (err instanceof SatrnnError && err.code === 'ABORTED' && plan) {
        write(plan, true);
        const where = flags.output !== undefined && flags.output !== '-' ? flags.output : 'stdout';
        process.stderr.write(`satrnn: ${done.size} of ${plan.total} rows written to ${where}, marked partial${flags.json && where !== 'stdout' ? `; finish with --resume ${where}` : ''}\n`);
      }
      throw err;
    }
    bar.stop();
    if (reused.size < resumed.size)
      warn(`${resumed.size - reused.size} row${resumed.size - reused.size > 1 ? 's' : ''} of ${resumeFile} ${resumed.size - reused.size > 1 ? 'are' : 'is'} not in this sweep (other models, texts or grid values) and left out of the output`);
    const { errors } = result;
    if (errors.length && result.models.length === 0) {
      const first = errors[0]!;
      throw new SatrnnError(first.code, `${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more model${errors.length > 2 ? 's' : ''} that could not be loaded)` : ''}`);
    }
    write(plan!, false);
    if (errors.length) {
      const first = errors[0]!;
      throw new ModelsNotRun(
        first.code,
        `${errors.length} model${errors.length > 1 ? 's were' : ' was'} not run (listed in the output's errors): ${sweepErrorText(first)}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
      );
    }
  } finally {
    bar.stop();
    for (const s of sources) s.cleanup();
  }
}

/** The model with another label (its source), e.g. the embedded model's. */
function labelled(m: Model, label: string): Model {
  return new Model(m.weights, m.hidden, label);
}
