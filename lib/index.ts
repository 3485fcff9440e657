// Public API of satrnn: every export is listed here by name (nothing is re-exported
// wholesale), so what is public is decided in one place. api/satrnn.api.md is the report
// of this surface that CI compares against (npm run api:check).

// Errors
export { SatrnnError, type SatrnnErrorCode } from './errors.js';

// Models and texts
export { Model, loadModel, parseModel, saveModel, paramCount, hiddenFromParamCount, VOCAB, REFERENCE_HIDDEN, type ParseModelOptions } from './model.js';
export { loadData, checkData, type LoadDataOptions } from './data.js';
export type { TextSource } from './engine/source.js';
export { DEFAULT_CORPUS, DEFAULT_MODEL } from './assets.js';
export { layout, type Layout } from './engine/layout.js';

// Backends
export { selectBackend, type BackendChoice, type NativeIsa } from './engine/index.js';
export type {
  Backend,
  BackendName,
  Isa,
  ReadoutMethod,
  ReadoutStats,
  RunOptions,
  ChunkGroup,
  ChunkRequest,
  ChunkResult,
  StatsAccumulators,
  TrainEpochParams,
  UseCode,
} from './engine/types.js';
export { USE, NEURON } from './engine/types.js';

// Analyses and variants
export {
  Analysis,
  type AnalysisInput,
  type ReadoutVariant,
  type Variant,
  type VariantNeuron,
  type PatchSpec,
  type PatchSource,
  type EvaluateVariantsOptions,
  type VariantsResult,
} from './analysis.js';
export { applyEdits, type WeightEdit, type EditedWeights } from './engine/edits.js';
export { wyColumnNorms, magnitudes, type MagnitudeSummary } from './engine/model-stats.js';
export { batch, fuse, runBatch, type Batch, type BatchResults } from './programs/batch.js';

// The engine underneath
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
export { forwardStates, readoutStates, type ForwardOptions, type ReadoutRequest, type ReadoutResult } from './engine/primitives.js';
export { klBits } from './engine/kl.js';

// Readout experiments (q3_neurons)
export {
  ReadoutKnockout,
  DynamicsKnockout,
  CumulativeKnockout,
  KeepTopK,
  SignOnly,
  NeuronSuite,
  readoutDecode,
  pctOfGap,
  type ExperimentRunOptions,
  type NeuronKnockout,
  type KnockoutOptions,
  type KnockoutSite,
  type KnockoutMode,
  type KnockoutResult,
  type ReadoutKnockoutResult,
  type RankingOptions,
  type CumulativeRow,
  type CumulativeKnockoutResult,
  type KeepTopKRow,
  type KeepTopKResult,
  type SignOnlyRow,
  type SignOnlyResult,
  type ByteWeight,
  type NeuronDecode,
  type ReadoutDecodeOptions,
  type NeuronSuiteResult,
  type NeuronSuiteOptions,
} from './programs/q3_neurons/experiment.js';
export { formatNeuronSuiteText } from './programs/q3_neurons/format.js';
export {
  formatKnockoutTable,
  formatKnockoutCsv,
  knockoutJson,
  KNOCKOUT_CSV_COLUMNS,
  KNOCKOUT_JSON_SCHEMA,
  type KnockoutRun,
  type KnockoutProvenance,
} from './programs/q3_neurons/format-table.js';

// Interventions (readout, dynamics, weights, activation patching)
export {
  Interventions,
  toVariant,
  variantLabel,
  describeIntervention,
  READOUT_KINDS,
  type Intervention,
  type NeuronListIntervention,
  type NeuronListKind,
  type InterventionVariant,
  type InterventionsOptions,
  type InterventionRow,
  type InterventionsResult,
} from './programs/interventions/experiment.js';

// Neuron roles (readout, routing through Wh, both, or nothing)
export {
  NeuronRoles,
  roleOf,
  NEURON_ROLES,
  DEFAULT_ROLE_TAU,
  DEFAULT_ROLE_TOP,
  type NeuronRole,
  type NeuronRoleRow,
  type NeuronRolesResult,
  type NeuronRolesOptions,
} from './programs/neuron_roles/experiment.js';
export { formatRolesText, formatRolesCsv, rolesJson, ROLES_JSON_SCHEMA, ROLES_CSV_COLUMNS, type RolesRun, type RolesProvenance } from './programs/neuron_roles/format.js';

// Sweeps (satrnn sweep / prune)
export {
  sweep,
  sweepRowKey,
  PRUNE_GRID,
  DEFAULT_SWEEP_BATCH,
  type SweepInput,
  type SweepText,
  type SweepGrid,
  type SweepRow,
  type SweepRowId,
  type SweepError,
  type SweepModel,
  type SweepTextInfo,
  type SweepResult,
  type SweepRunOptions,
  type SweepPlan,
} from './programs/sweep/experiment.js';
export {
  sweepJson,
  sweepErrorText,
  formatSweepCsv,
  formatSweepTable,
  parseSweepJson,
  SWEEP_JSON_SCHEMA,
  SWEEP_ROW_FIELDS,
  SWEEP_CSV_COLUMNS,
  type SweepReport,
  type SweepProvenance,
} from './programs/sweep/format.js';

// Pruning (q5_redux)
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

// Training (sat_train)
export {
  train,
  initialModel,
  makeCheckpoint,
  saveCheckpoint,
  loadCheckpoint,
  TrainingDivergedError,
  MAX_TRAIN_HIDDEN,
  NO_BEST_BPC,
  checkTrainingMemory,
  trainingMemoryBytes,
  type TrainOptions,
  type TrainResult,
  type TrainState,
  type EpochMetrics,
  type TrainCheckpoint,
  type ResolvedTrainOptions,
} from './programs/sat_train/experiment.js';

// The originals, by name
export { reproduce, PROGRAMS, type Program, type ReproduceContext, type ReproduceEntry } from './programs/index.js';

// Formatting and version
export { sprintf, PrintfNaN, type PrintfArg } from './format/printf.js';
export { VERSION } from './version.js';
