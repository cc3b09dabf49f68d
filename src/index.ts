/**
 * mlpkit: multi-layer perceptrons for JavaScript, trained by backpropagation on a native,
 * WebAssembly or pure TypeScript backend.
 */
import { loadWasmBackend } from './backends/wasm/loader.js';
import { setBackendLoader } from './registry.js';

setBackendLoader('wasm', loadWasmBackend); // reports "call await initWasm() first" until it has run

export { MLP, type LayerWeights, type Evaluation, type LoadOptions, type OnnxOptions } from './mlp.js';
export { StandardScaler } from './scaler.js';
export { MLPClassifier, MLPRegressor, type EstimatorOptions, type PartialFitOptions, type RegressionTargets } from './estimators.js';
export { confusionMatrix, classScores, r2Score, regressionErrors, type ClassScores } from './metrics.js';
export {
  trainTestSplit,
  crossValidate,
  gridSearch,
  randomSearch,
  randomRestarts,
  TrialFailedError,
  type Estimator,
  type EstimatorSpec,
  type EstimatorKind,
  type ModuleBuild,
  type ExecutorOptions,
  type TrialOptions,
  type TrialProgress,
  type SearchOptions,
  type Build,
  type CrossValidation,
  type SearchResults,
  type SearchResult,
  type Distribution,
  type DrawnParams,
  type CrossValidateOptions,
  type GridSearchOptions,
  type RandomSearchOptions,
  type RandomRestartsOptions,
} from './model-selection.js';
export { listBackends, BackendUnavailableError, type BackendStatus } from './registry.js';
export { ModelBusyError, ModelDisposedError, ModelFailedError, NotFittedError } from './errors.js';
export { initWasm, type WasmSource, type WasmInfo } from './backends/wasm/loader.js';
export {
  TrainingDivergedError,
  type FitOptions,
  type History,
  type EpochLogs,
  type BatchLogs,
  type StopReason,
  type EarlyStoppingOptions,
  type ReduceLROnPlateauOptions,
} from './training.js';
export type { MatrixInput, TargetInput } from './data.js';
export type {
  MLPOptions,
  LayerOptions,
  OptimizerOptions,
  ScheduleOptions,
  Activation,
  Loss,
  OptimizerType,
  Init,
  BackendName,
  ModelSpec,
  LayerSpec,
} from './spec.js';
export { FORMAT_VERSION, type Label } from './model-file.js';
export { VERSION } from './version.js';
