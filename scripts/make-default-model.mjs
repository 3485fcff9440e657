#!/usr/bin/env node
// Regenerates assets/default-model.bin (and its manifest) from assets/default-corpus.txt,
// bit for bit: `npm run make-default-model`. The options live in the manifest so the test
// that re-runs the first epochs uses exactly the same ones.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { train, saveModel } from '../dist/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OPTIONS = { hidden: 128, epochs: 300, bptt: 50, lr: 0.1, seed: 42, clip: 5 };
const CHECK_EPOCHS = 3;
const sha = (b) => createHash('sha256').update(b).digest('hex');

const data = new Uint8Array(readFileSync(path.join(root, 'assets', 'default-corpus.txt')));
const early = [];
const t0 = Date.now();
const result = await train({
  data,
  ...OPTIONS,
  evaluate: 'never',
  onEpoch: (m, state) => {
    if (m.epoch <= CHECK_EPOCHS) early.push(sha(new Uint8Array(state.weights.buffer.slice(0))));
    if (m.epoch % 25 === 0) console.error(`epoch ${m.epoch}/${OPTIONS.epochs} train ${m.trainBpc.toFixed(4)} bpc`);
  },
});
const file = path.join(root, 'assets', 'default-model.bin');
saveModel(result.model, file);
const manifest = {
  description: 'satrnn train on assets/default-corpus.txt; regenerate with `npm run make-default-model`',
  command: `satrnn train --data assets/default-corpus.txt --hidden ${OPTIONS.hidden} --epochs ${OPTIONS.epochs} --bptt ${OPTIONS.bptt} --lr ${OPTIONS.lr} --seed ${OPTIONS.seed} --clip ${OPTIONS.clip} --eval never (final.bin)`,
  options: OPTIONS,
  corpusSha256: sha(data),
  modelSha256: sha(readFileSync(file)),
  finalTrainBpc: result.history.at(-1).trainBpc,
  // sha256 of the weights after epochs 1..N of this run (lr schedule of the full run).
  checkpointSha256: early,
};
writeFileSync(path.join(root, 'assets', 'default-model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.error(`wrote ${file} (${manifest.modelSha256}) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
