// `satrnn reproduce q5_redux <data> <model>`: the original's text, byte for byte.
// (The registry, lib/programs/index.ts, holds the usage and loads this module when run.)
import { originalAnalysis } from '../original-io.js';
import type { ReproduceContext } from '../types.js';
import { PruneStudy } from './experiment.js';
import { formatPruneStudyText } from './format.js';

export async function runQ5([dataFile, modelFile]: string[], ctx: ReproduceContext): Promise<string> {
  return formatPruneStudyText(await new PruneStudy().run(await originalAnalysis(dataFile!, modelFile!, ctx), ctx));
}
