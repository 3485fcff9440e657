// `satrnn reproduce q3_neurons <data> <model>`: the original's text, byte for byte.
import { originalAnalysis } from '../original-io.js';
import type { ReproduceEntry } from '../types.js';
import { NeuronSuite } from './experiment.js';
import { formatNeuronSuiteText } from './format.js';

export const reproduceQ3: ReproduceEntry = {
  args: ['data', 'model'],
  async run([dataFile, modelFile], ctx) {
    return formatNeuronSuiteText(await new NeuronSuite().run(originalAnalysis(dataFile!, modelFile!, ctx), ctx));
  },
};
