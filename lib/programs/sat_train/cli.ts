import { createHash } from 'node:crypto';
import { mkdirSync, accessSync, constants } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { selectBackend } from '../../engine/index.js';
import { DEFAULT_CORPUS } from '../../assets.js';
import { loadData } from '../../data.js';
import { SatrnnError } from '../../errors.js';
import { saveModel } from '../../model.js';
import { sprintf } from '../../format/printf.js';
import { loadCheckpoint, makeCheckpoint, resolveTrainOptions, saveCheckpoint, train, type EpochMetrics, type ResolvedTrainOptions } from './experiment.js';
import { VERSION } from '../../version.js';
import { addBackendOptions, backendOptions, emit, interrupt, parseIntOption, type BackendFlags } from '../../cli/common.js';

interface TrainFlags extends BackendFlags, ResolvedTrainOptions {
  data?: string;
  checkpointEvery?: number;
  out: string;
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

function prepareOutDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new SatrnnError('WRITE_FAILED', `cannot write to output folder ${dir}: ${(err as Error).message}; choose another --out`);
  }
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a sat-rnn (exact by default: same bytes on every backend); writes best.bin, final.bin and checkpoints')
    .option('-d, --data <file>', 'training text (default: the embedded corpus)')
    .addOption(new Option('--hidden <n>', 'hidden units').default(128).argParser(parseIntOption(1, 65536)))
    .addOption(new Option('--epochs <n>', 'epochs (the cosine schedule spans them)').default(100).argParser(parseIntOption(1, 1e9)))
    .addOption(new Option('--bptt <n>', 'predictions per truncated-BPTT window').default(50).argParser(parseIntOption(1, 1 << 20)))
    .addOption(new Option('--lr <x>', 'peak learning rate (floor: 1% of it)').default(0.01).argParser(parsePositive))
    .addOption(new Option('--seed <n>', 'glibc srand seed of the initial weights').default(42).argParser(parseIntOption(0, 0xffffffff)))
    .addOption(new Option('--clip <x>', 'global gradient-norm clip').default(5).argParser(parsePositive))
    .addOption(new Option('--checkpoint-every <n>', 'write a resumable checkpoint every N epochs').argParser(parseIntOption(1, 1e9)))
    .option('--out <dir>', 'output folder', 'satrnn-train')
    .option('--resume <checkpoint.json>', 'continue from a checkpoint (same options and data)')
    .addOption(new Option('--evaluate <when>', "when to evaluate on the whole text: 'reported' (the original's epochs), 'every' or 'never'").choices(['reported', 'every', 'never']).default('reported'))
    // The flag's earlier name, kept working (hidden) so that scripts written for it still run.
    .addOption(new Option('--eval <when>').choices(['reported', 'every', 'never']).hideHelp())
    .option('--json', 'print the metrics as JSON at the end')
    .option('--fast', 'fast, NOT bit-exact kernels (native backend on AVX2+FMA CPUs; ~3x faster, trains as well)');
  addBackendOptions(cmd, 'with --fast: 1 = one thread, 2+ = a helper thread too (default: all cores)').action(async (flags: TrainFlags, cmd: Command) => {
      const dataFile = flags.data ?? DEFAULT_CORPUS;
      const data = loadData(dataFile);
      const resume = flags.resume ? loadCheckpoint(flags.resume) : undefined;
      // Resuming takes the checkpoint's options; only explicitly given flags are compared.
      if (resume)
        for (const k of ['hidden', 'epochs', 'bptt', 'lr', 'seed', 'clip'] as const)
          if (cmd.getOptionValueSource(k) !== 'default') {
            if (resolveTrainOptions({ ...resume.options, [k]: flags[k] })[k] !== resume.options[k])
              throw new SatrnnError('BAD_OPTION', `--${k} ${flags[k]} differs from the checkpoint's ${k}=${resume.options[k]}; omit it to resume`);
          } else flags[k] = resume.options[k];
      const options = resolveTrainOptions({ hidden: flags.hidden, epochs: flags.epochs, bptt: flags.bptt, lr: flags.lr, seed: flags.seed, clip: flags.clip });
      prepareOutDir(flags.out);
      const backend = selectBackend(backendOptions(flags));
      if (flags.fast && !backend.fastTraining)
        process.stderr.write(`satrnn: warning: --fast needs the native backend on an AVX2+FMA CPU; using the exact kernels (${backend.name}/${backend.isa})\n`);
      const tty = process.stderr.isTTY === true && !flags.json;
      const start = Date.now();
      const first = resume?.state.epoch ?? 0;
      const log = (m: EpochMetrics): void => {
        const rate = (m.epoch - first) / Math.max(1e-3, (Date.now() - start) / 1000);
        const eta = (options.epochs - m.epoch) / Math.max(rate, 1e-9);
        const line = sprintf('epoch %d/%d  train_bpc %.4f  eval_bpc %s  epoch_lr %.6f  %.1f epochs/s  ETA %ds', m.epoch, options.epochs, m.trainBpc, m.evalBpc === null ? '-' : sprintf('%.4f', m.evalBpc), m.epochLr, rate, Math.round(eta));
        if (tty) process.stderr.write(`\r\x1b[K${line}`);
        else if (m.evalBpc !== null && !flags.json) process.stderr.write(`${line}\n`);
      };
      const result = await train({
        data,
        ...options,
        evaluate: flags.eval ?? flags.evaluate,
        backend,
        fast: flags.fast === true,
        signal: interrupt.signal,
        ...(resume ? { resume } : {}),
        onEpoch: (m, state) => {
          log(m);
          if (flags.checkpointEvery && m.epoch % flags.checkpointEvery === 0)
            saveCheckpoint(makeCheckpoint(options, data, state), path.join(flags.out, `checkpoint-epoch${m.epoch}`));
        },
      });
      if (tty) process.stderr.write('\n');
      const finalFile = path.join(flags.out, 'final.bin');
      saveModel(result.model, finalFile);
      const bestFile = path.join(flags.out, 'best.bin');
      if (result.best) saveModel(result.best.model, bestFile);
      const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
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
