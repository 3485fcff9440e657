// `satrnn reproduce q5_redux <data> <model>`: the original's text, byte for byte.
import { originalAnalysis } from '../original-io.js';
import type { ReproduceEntry } from '../types.js';
import { PruneStudy } from './experiment.js';
import { formatPruneStudyText } from './format.js';

export const reproduceQ5: ReproduceEntry = {
  args: ['data', 'model'],
  async run([dataFile, modelFile], ctx) {
    return formatPruneStudyText(await new PruneStudy().run(originalAnalysis(dataFile!, modelFile!, ctx), ctx));
  },
};
