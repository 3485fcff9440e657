// `satrnn reproduce q5_redux <data> <model>`: the original's text, byte for byte.
import { Analysis } from '../../analysis.js';
import { readOriginalData, readOriginalModel } from '../original-io.js';
import type { ReproduceEntry } from '../types.js';
import { PruneStudy } from './experiment.js';
import { formatPruneStudyText } from './format.js';

export const reproduceQ5: ReproduceEntry = {
  args: ['data', 'model'],
  async run([dataFile, modelFile], ctx) {
    const data = readOriginalData(dataFile!);
    const model = readOriginalModel(modelFile!, ctx.onWarning);
    const an = new Analysis({ model, data, ...(ctx.backend ? { backend: ctx.backend } : {}) });
    return formatPruneStudyText(await new PruneStudy().run(an, ctx));
  },
};
