import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync, readdirSync, rmSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { selectBackend } from '../../engine/index.js';
import { DEFAULT_CORPUS } from '../../assets.js';
import { SatrnnError } from '../../errors.js';
import { errnoText } from '../../io.js';
import { saveModel } from '../../model.js';
import { sprintf } from '../../format/printf.js';
import { TrainingDivergedError, checkTrainingMemory, checkpointView, loadCheckpoint, resolveTrainOptions, saveCheckpoint, train, type EpochMetrics, type ResolvedTrainOptions, type TrainResult, type TrainState } from './experiment.js';
import { VERSION } from '../../version.js';
import { addBackendOptions, backendOptions, emit, interrupt, parseIntOption, readTrainingText, warn, type BackendFlags } from '../../cli/common.js';
import { stderrIsTTY } from '../../cli/progress.js';

interface TrainFlags extends BackendFlags, ResolvedTrainOptions {
  data?: string;
  checkpointEvery?: number;
  out?: string;
  force?: boolean;
  resume?: string;
  evaluate: 'reported' | 'every' | 'never';
  eval?: 'reported' | 'every' | 'never';
  json?: boolean;
  fast?: boolean;
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new SatrnnError('BAD_OPTION', `expected a positive number, got '${value}'`);
  return n;
}

/** The run's output folder; `created` is the top-most folder this run made (null: it existed). */
interface OutDir {
  dir: string;
  created: string | null;
}

/** Files satrnn writes into an output folder, and their temp files (`.<name>.<pid>.tmp`; the old `<name>.json.<pid>.tmp`). */
const OUTPUT_NAME = /^(final\.bin|best\.bin|checkpoint-epoch\d+\.(bin|best\.bin|json))$/;
const TEMP_NAME = /^(?:\.(.+)\.(\d+)\.tmp|(checkpoint-epoch\d+\.json)\.(\d+)\.tmp)$/;

/** Removes temp files a killed run (its process gone) left in `dir`; says how many. */
function removeStaleTemps(dir: string, entries: string[]): void {
  let removed = 0;
  for (const f of entries) {
    const m = TEMP_NAME.exec(f);
    if (!m || !OUTPUT_NAME.test(m[1] ?? m[3]!)) continue;
    const pid = Number(m[2] ?? m[4]);
    try {
      process.kill(pid, 0);
      continue; // that process is alive: its file
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    rmSync(path.join(dir, f), { force: true });
    removed++;
  }
  if (removed > 0) warn(`removed ${removed} temp file${removed === 1 ? '' : 's'} left in ${dir} by a run that was killed`);
}

const stat = (p: string): ReturnType<typeof statSync> | undefined => {
  try {
    return statSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
};

/**
 * The output folder: `--out` (refused when it holds files, unless --force or --resume; made
 * one level at a time so that the real cause of a failure is reported: EROFS, EACCES,
 * ENOTDIR), or without --out a new `satrnn-train-<date>-<time>-<n>` folder in the current
 * one, named on stderr. Called after every other check, just before training.
 */
function prepareOutDir(out: string | undefined, o: { force: boolean; resume: boolean }): OutDir {
  if (out === undefined) {
    const d = new Date();
    const p2 = (n: number): string => String(n).padStart(2, '0');
    const stamp = `${d.getFullYear()}${p2(d.getMonth() + 1)}${p2(d.getDate())}-${p2(d.getHours())}${p2(d.getMinutes())}${p2(d.getSeconds())}`;
    for (let n = 1; ; n++) {
      const dir = `satrnn-train-${stamp}-${n}`;
      try {
        mkdirSync(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw new SatrnnError('WRITE_FAILED', `cannot write to output folder ${dir} in ${process.cwd()}: ${errnoText(err)}; choose a folder with --out`, { cause: err });
      }
      warn(`no --out given: writing to ${dir}${path.sep}`);
      return { dir, created: dir };
    }
  }
  if (out === '') throw new SatrnnError('BAD_OPTION', '--out needs a folder name');
  const fail = (err: unknown, detail = ''): never => {
    throw new SatrnnError('WRITE_FAILED', `cannot write to output folder ${out}: ${errnoText(err)}${detail}; choose another --out`, { cause: err });
  };
  let st;
  try {
    st = stat(out);
  } catch (err) {
    fail(err);
  }
  if (st) {
    if (!st.isDirectory()) throw new SatrnnError('WRITE_FAILED', `cannot write to output folder ${out}: it is a file, not a folder; choose another --out`);
    try {
      accessSync(out, constants.W_OK);
    } catch (err) {
      fail(err);
    }
    const entries = readdirSync(out);
    if (entries.length > 0 && !o.force && !o.resume) {
      const shown = entries.slice(0, 3).join(', ');
      throw new SatrnnError(
        'BAD_OPTION',
        `output folder ${out} is not empty (${shown}${entries.length > 3 ? `, … ${entries.length} files` : ''}): pass a new or empty --out, or --force to write into it (same names are replaced); --resume continues a run in its own folder`,
      );
    }
    removeStaleTemps(out, entries);
    return { dir: out, created: null };
  }
  // Make the missing levels one by one (mkdir -p reports ENOENT for a read-only parent).
  const missing: string[] = [];
  let p = path.resolve(out);
  try {
    while (!stat(p) && path.dirname(p) !== p) {
      missing.unshift(p);
      p = path.dirname(p);
    }
  } catch (err) {
    fail(err);
  }
  for (let i = 0; i < missing.length; i++) {
    try {
      mkdirSync(missing[i]!);
    } catch (err) {
      for (let j = i - 1; j >= 0; j--) rmdirSync(missing[j]!);
      fail(err, missing[i] === path.resolve(out) ? '' : ` (making ${missing[i]})`);
    }
  }
  return { dir: out, created: missing.length > 0 ? missing[0]! : null };
}

/** After a failed run: removes the folders this run made, when it wrote nothing into them. */
function removeIfEmpty(out: OutDir): void {
  if (out.created === null) return;
  const top = path.resolve(out.created);
  for (let p = path.resolve(out.dir); ; p = path.dirname(p)) {
    try {
      if (readdirSync(p).length > 0) return;
      rmdirSync(p);
    } catch {
      return;
    }
    if (p === top || path.dirname(p) === p) return;
  }
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a sat-rnn (exact by default: same bytes on every backend); writes best.bin, final.bin and checkpoints')
    .option('-d, --data <file>', "training text, held in memory: at most 1 GiB; '-' reads stdin (default: the embedded corpus)")
    // Capped by resolveTrainOptions (model file size) and checkTrainingMemory, with the numbers.
    .addOption(new Option('--hidden <n>', 'hidden units').default(128).argParser(parseIntOption(1, 2 ** 31 - 1)))
    .addOption(new Option('--epochs <n>', 'epochs (the cosine schedule spans them)').default(100).argParser(parseIntOption(1, 1e9)))
    .addOption(new Option('--bptt <n>', 'predictions per truncated-BPTT window').default(50).argParser(parseIntOption(1, 1 << 20)))
    .addOption(new Option('--lr <x>', 'peak learning rate (floor: 1% of it)').default(0.01).argParser(parsePositive))
    .addOption(new Option('--seed <n>', 'glibc srand seed of the initial weights').default(42).argParser(parseIntOption(0, 0xffffffff)))
    .addOption(new Option('--clip <x>', 'global gradient-norm clip').default(5).argParser(parsePositive))
    .addOption(new Option('--checkpoint-every <n>', 'write a resumable checkpoint every N epochs').argParser(parseIntOption(1, 1e9)))
    .option('--out <dir>', 'output folder, new or empty (default: a new satrnn-train-<date>-<time>-<n> folder here)')
    .option('--force', 'write into a non-empty --out folder (files of the same names are replaced)')
    .option('--resume <checkpoint.json>', 'continue from a checkpoint (same options, data and --fast choice); may write into its own folder')
    .addOption(new Option('--evaluate <when>', "when to evaluate on the whole text: 'reported' (the original's epochs), 'every' or 'never'").choices(['reported', 'every', 'never']).default('reported'))
    // The flag's earlier name, kept working (hidden) so that scripts written for it still run.
    .addOption(new Option('--eval <when>').choices(['reported', 'every', 'never']).hideHelp())
    .option('--json', 'print the metrics as JSON at the end')
    .option('--fast', 'fast, NOT bit-exact kernels (native backend on AVX2+FMA CPUs; ~3x faster, trains as well)');
  addBackendOptions(cmd, 'with --fast: 1 = one thread, 2+ = a helper thread too (default: all cores)').action(async (flags: TrainFlags, cmd: Command) => {
      const dataPath = flags.data ?? DEFAULT_CORPUS;
      const dataFile = dataPath === '-' ? '<stdin>' : dataPath;
      const data = await readTrainingText(dataPath, interrupt.signal);
      const resume = flags.resume ? loadCheckpoint(flags.resume, { onWarning: warn }) : undefined;
      // Resuming takes the checkpoint's options; only explicitly given flags are compared.
      if (resume)
        for (const k of ['hidden', 'epochs', 'bptt', 'lr', 'seed', 'clip'] as const)
          if (cmd.getOptionValueSource(k) !== 'default') {
            if (resolveTrainOptions({ ...resume.options, [k]: flags[k] })[k] !== resume.options[k])
              throw new SatrnnError('BAD_OPTION', `--${k} ${flags[k]} differs from the checkpoint's ${k}=${resume.options[k]}; omit it to resume`);
          } else flags[k] = resume.options[k];
      const options = resolveTrainOptions({ hidden: flags.hidden, epochs: flags.epochs, bptt: flags.bptt, lr: flags.lr, seed: flags.seed, clip: flags.clip });
      const memory = checkTrainingMemory(options.hidden, options.bptt, data.length);
      if (memory >= 2 ** 30) warn(`training hidden=${options.hidden} needs about ${(memory / 1e9).toFixed(1)} GB of memory`);
      const backend = selectBackend(backendOptions(flags));
      if (flags.fast && !backend.fastTraining) warn(`--fast needs the native backend on an AVX2+FMA CPU; using the exact kernels (${backend.name}/${backend.isa})`);
      const kernels = flags.fast && backend.fastTraining ? 'fast' : 'exact';
      if (resume && resume.state.kernels !== null && resume.state.kernels !== kernels)
        throw new SatrnnError(
          'BAD_OPTION',
          resume.state.kernels === 'exact'
            ? `${flags.resume} was trained with the exact kernels; resume without --fast`
            : flags.fast
              ? `${flags.resume} was trained with --fast, whose kernels need the native backend on an AVX2+FMA CPU (this is ${backend.name}/${backend.isa}); resume there with --fast`
              : `${flags.resume} was trained with --fast (the fast kernels); resume with --fast`,
        );
      if (resume && resume.state.epoch === options.epochs) warn(`${flags.resume} is the last epoch (${options.epochs}) of its run: nothing left to train; writing its models`);
      // Every check is done: only now is the output folder made (or claimed).
      const out = prepareOutDir(flags.out, { force: flags.force === true, resume: resume !== undefined });
      const tty = stderrIsTTY() && !flags.json;
      const start = Date.now();
      const first = resume?.state.epoch ?? 0;
      const log = (m: EpochMetrics): void => {
        const rate = (m.epoch - first) / Math.max(1e-3, (Date.now() - start) / 1000);
        const eta = (options.epochs - m.epoch) / Math.max(rate, 1e-9);
        const line = sprintf('epoch %d/%d  train_bpc %.4f  eval_bpc %s  epoch_lr %.6f  %.1f epochs/s  ETA %ds', m.epoch, options.epochs, m.trainBpc, m.evalBpc === null ? '-' : sprintf('%.4f', m.evalBpc), m.epochLr, rate, Math.round(eta));
        if (tty) process.stderr.write(`\r\x1b[K${line}`);
        else if (m.evalBpc !== null && !flags.json) process.stderr.write(`${line}\n`);
      };
      const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
      const dataSha = flags.checkpointEvery ? sha(data) : '';
      // The checkpoint to continue from after a failure: the last one written, else the one resumed.
      let lastCheckpoint = flags.resume;
      const finalFile = path.join(out.dir, 'final.bin');
      const bestFile = path.join(out.dir, 'best.bin');
      let result: TrainResult;
      try {
        result = await train({
          data,
          ...options,
          evaluate: flags.eval ?? flags.evaluate,
          backend,
          fast: flags.fast === true,
          signal: interrupt.signal,
          ...(resume ? { resume } : {}),
          onEpoch: (m: EpochMetrics, state: TrainState) => {
            log(m);
            // Written synchronously from the live state (no copies): a signal is handled
            // only after the three files are complete.
            if (flags.checkpointEvery && m.epoch % flags.checkpointEvery === 0)
              lastCheckpoint = saveCheckpoint(checkpointView(options, dataSha, state), path.join(out.dir, `checkpoint-epoch${m.epoch}`));
          },
        });
        if (tty) process.stderr.write('\n');
        saveModel(result.model, finalFile);
        if (result.best) saveModel(result.best.model, bestFile);
      } catch (err) {
        if (tty) process.stderr.write('\n');
        if (err instanceof TrainingDivergedError) {
          // Keep the last finite best copy; never write NaN weights.
          if (err.best) saveModel(err.best.model, bestFile);
          removeIfEmpty(out);
          const wrote = err.best ? `wrote ${bestFile} (epoch ${err.best.epoch}, train ${sprintf('%.4f', err.best.trainBpc)} bpc), no final.bin` : 'no model written (no epoch before it improved)';
          throw new SatrnnError(
            'INTERNAL',
            `training diverged at epoch ${err.epoch}/${options.epochs} (train bpc ${Number.isFinite(err.trainBpc) ? sprintf('%.4f', err.trainBpc) : String(err.trainBpc)}: the weights overflowed to NaN/infinity); ${wrote}; lower --lr (${options.lr}) or --clip (${options.clip})`,
            { cause: err },
          );
        }
        if (err instanceof SatrnnError && err.code === 'ABORTED' && lastCheckpoint) warn(`stopped; continue with --resume ${lastCheckpoint}`);
        removeIfEmpty(out);
        throw err;
      }
      if (flags.json) {
        emit(
          `${JSON.stringify(
            {
              schema: 'satrnn.train/2',
              provenance: {
                satrnn: VERSION,
                backend: backend.name,
                isa: backend.isa,
                kernels: result.kernels,
                data: { file: dataFile, bytes: data.length, sha256: sha(data) },
                options,
                resumedFrom: flags.resume ?? null,
              },
              final: { file: finalFile, sha256: sha(result.model.toBytes()) },
              best: result.best ? { file: bestFile, epoch: result.best.epoch, trainBpc: result.best.trainBpc, sha256: sha(result.best.model.toBytes()) } : null,
              history: result.history,
            },
            null,
            2,
          )}\n`,
        );
      } else {
        emit(`final model: ${finalFile}\n${result.best ? `best model:  ${bestFile} (epoch ${result.best.epoch}, train ${sprintf('%.4f', result.best.trainBpc)} bpc)\n` : ''}`);
      }
    });
}
