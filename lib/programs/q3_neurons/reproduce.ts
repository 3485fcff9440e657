// `satrnn reproduce q3_neurons <data> <model>`: the original's text, byte for byte.
import { Analysis } from '../../analysis.js';
import { readOriginalData, readOriginalModel } from '../original-io.js';
import type { ReproduceEntry } from '../types.js';
import { NeuronSuite } from './experiment.js';
import { formatNeuronSuiteText } from './format.js';

export const reproduceQ3: ReproduceEntry = {
  args: ['data', 'model'],
  async run([dataFile, modelFile], ctx) {
    const data = readOriginalData(dataFile!);
    const model = readOriginalModel(modelFile!, ctx.onWarning);
    const an = new Analysis({ model, data, ...(ctx.backend ? { backend: ctx.backend } : {}) });
    return formatNeuronSuiteText(await new NeuronSuite().run(an, ctx));
  },
};
