import path from 'node:path';
import { packageRoot } from './paths.js';

/** Absolute path of the project's own small default corpus (written for satrnn; see README). */
export const DEFAULT_CORPUS = path.join(packageRoot, 'assets', 'default-corpus.txt');
/** Absolute path of the default model: `satrnn train` on DEFAULT_CORPUS with the options in README. */
export const DEFAULT_MODEL = path.join(packageRoot, 'assets', 'default-model.bin');
