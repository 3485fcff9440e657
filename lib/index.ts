// Public API of satrnn.
export { SatrnnError, type SatrnnErrorCode } from './errors.js';
export { Model, loadModel, parseModel, saveModel, paramCount, hiddenFromParamCount, VOCAB, REFERENCE_HIDDEN } from './model.js';
export type { ParseModelOptions } from './model.js';
export { loadData, checkData, type LoadDataOptions } from './data.js';
export {
  selectBackend,
  JsBackend,
  NativeBackend,
  loadAddon,
  type Backend,
  type BackendName,
  type BackendOptions,
  type Isa,
  type ReadoutRequest,
  type ReadoutResult,
  type RunOptions,
  type Trajectory,
} from './backend/index.js';
export { Analysis, wyColumnNorms, type AnalysisInput, type ReadoutVariant } from './experiments/analysis.js';
export * from './experiments/knockout.js';
export { formatNeuronSuiteText } from './format/q3.js';
export { formatKnockoutTable, formatKnockoutCsv } from './format/knockout.js';
export { sprintf } from './format/printf.js';
export { reproduce, PROGRAMS, type ReproduceProgram, type ReproduceContext } from './reproduce.js';
export { VERSION } from './version.js';
export {
  train,
  initialModel,
  isReportedEpoch,
  resolveTrainOptions,
  makeCheckpoint,
  saveCheckpoint,
  loadCheckpoint,
  type TrainOptions,
  type TrainResult,
  type TrainState,
  type EpochMetrics,
  type TrainCheckpoint,
  type ResolvedTrainOptions,
} from './train/trainer.js';
export { DEFAULT_CORPUS, DEFAULT_MODEL } from './assets.js';
