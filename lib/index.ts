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
  type ChunkGroup,
  type ChunkRequest,
  type ChunkResult,
  type Isa,
  type ReadoutMethod,
  type RunOptions,
  type StatsAccumulators,
} from './engine/index.js';
export { USE, NEURON } from './engine/types.js';
export { layout, type Layout } from './engine/layout.js';
export {
  evaluate,
  type EvaluateRequest,
  type EvaluateResult,
  type GroupSpec,
  type GroupResult,
  type DynamicsSpec,
  type NeuronIntervention,
  type TrajectoryStats,
  type ChunkOutput,
} from './engine/evaluate.js';
export type { TextSource } from './engine/source.js';
export { applyEdits, type WeightEdit, type EditedWeights } from './engine/edits.js';
export { wyColumnNorms, magnitudes, type MagnitudeSummary } from './engine/model-stats.js';
export { Analysis, type AnalysisInput, type ReadoutVariant, type Variant } from './analysis.js';
export { batch, fuse, runBatch, type Batch } from './programs/batch.js';
export {
  ReadoutKnockout,
  CumulativeKnockout,
  KeepTopK,
  SignOnly,
  NeuronSuite,
  readoutDecode,
  type NeuronKnockout,
  type ReadoutKnockoutResult,
  type CumulativeRow,
  type CountsOptions,
  type KeepTopKRow,
  type SignOnlyRow,
  type SignOnlyResult,
  type ByteWeight,
  type NeuronDecode,
  type NeuronSuiteResult,
  type NeuronSuiteOptions,
} from './programs/q3_neurons/experiment.js';
export { formatNeuronSuiteText } from './programs/q3_neurons/format.js';
export { formatKnockoutTable, formatKnockoutCsv } from './programs/q3_neurons/format-table.js';
export {
  PruneStudy,
  DEFAULT_THRESHOLDS,
  type PruneStudyOptions,
  type PruneStudyResult,
  type PruneRow,
  type CombinedRow,
  type MagnitudeDistribution,
  type ReduxCount,
} from './programs/q5_redux/experiment.js';
export { formatPruneStudyText } from './programs/q5_redux/format.js';
export { sprintf } from './format/printf.js';
export { reproduce, PROGRAMS, type Program, type ReproduceContext, type ReproduceEntry } from './programs/index.js';
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
} from './programs/sat_train/experiment.js';
export { DEFAULT_CORPUS, DEFAULT_MODEL } from './assets.js';
export { forwardStates, readoutStates, type ForwardOptions, type ReadoutRequest, type ReadoutResult } from './engine/primitives.js';
export { klBits } from './engine/kl.js';
