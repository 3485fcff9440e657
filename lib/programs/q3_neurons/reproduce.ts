// `satrnn reproduce q3_neurons <data> <model>`: the original's text, byte for byte.
// (The registry, lib/programs/index.ts, holds the usage and loads this module when run.)
import { originalAnalysis } from '../original-io.js';
import type { ReproduceContext } from '../types.js';
import { NeuronSuite } from './experiment.js';
import { formatNeuronSuiteText } from './format.js';

export async function runQ3([dataFile, modelFile]: string[], ctx: ReproduceContext): Promise<string> {
  return formatNeuronSuiteText(await new NeuronSuite().run(await originalAnalysis(dataFile!, modelFile!, ctx), ctx));
}
