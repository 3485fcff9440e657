// `satrnn reproduce sat_train <datafile> <model_prefix> <max_epochs> [ckpt_every]`: the
// original's stdout and model files, byte for byte. (The registry, lib/programs/index.ts,
// holds the usage and loads this module when run.)
import { checkData } from '../../data.js';
import { selectBackend } from '../../engine/index.js';
import { SatrnnError } from '../../errors.js';
import { sprintf } from '../../format/printf.js';
import { readFileChecked } from '../../io.js';
import { Model, REFERENCE_HIDDEN, saveModel } from '../../model.js';
import { atoi } from '../original-io.js';
import type { ReproduceContext } from '../types.js';
import { train } from './experiment.js';

export async function runSatTrain([dataFile, prefix, epochsArg, ckptArg]: string[], ctx: ReproduceContext): Promise<string> {
  const E = atoi(epochsArg!);
  const K = ckptArg === undefined ? 500 : atoi(ckptArg);
  if (E < 1) throw new SatrnnError('BAD_OPTION', `max_epochs must be at least 1 (got '${epochsArg}'); the original leaves the best model uninitialised then`);
  if (K < 1) throw new SatrnnError('BAD_OPTION', `ckpt_every must be at least 1 (got '${ckptArg}'); the original divides by zero`);
  const data = checkData(readFileChecked(dataFile!, 'data'), dataFile!);
  const backend = selectBackend(ctx.backend);
  const out: string[] = [sprintf('sat_train: %d bytes, %d epochs, ckpt every %d', data.length, E, K), sprintf('%8s %10s %10s %8s', 'epoch', 'train_bpc', 'eval_bpc', 'lr')];
  // The original reports a failed write with perror and carries on (exit status 0).
  const save = (w: Float32Array, file: string): void => {
    try {
      saveModel(new Model(w, REFERENCE_HIDDEN), file);
    } catch (err) {
      (ctx.onWarning ?? ((m: string) => process.stderr.write(`${m}\n`)))(`save_model: ${(err as Error).message}`);
    }
  };
  const result = await train({
    data,
    epochs: E,
    backend,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    onEpoch: (m, state) => {
      if (m.evalBpc !== null) out.push(sprintf('%8d %10.4f %10.4f %8.6f%s', m.epoch, m.trainBpc, m.evalBpc, m.epochLr, m.nearBest ? ' *' : ''));
      if (m.epoch % K === 0) save(state.weights, `${prefix}_epoch${m.epoch}.bin`);
      ctx.onProgress?.(m.epoch, E);
    },
  });
  const best = result.best!; // E >= 1 and finite bpc: epoch 1 always improves on 999
  const bestFile = `${prefix}_best.bin`;
  save(best.model.weights, bestFile);
  const bestEval = await backend.evalBpc(best.model.weights, REFERENCE_HIDDEN, data);
  out.push('', sprintf('Best model: %.4f bpc -> %s', bestEval, bestFile));
  save(result.model.weights, `${prefix}_final.bin`);
  return `${out.join('\n')}\n`;
}

