/**
 * allcnn's public API. Everything a user imports is listed here by name.
 */
export { Tensor, DTYPES } from './tensor';
export type { DType, Device, Dims } from './tensor';
export { zeros, ones, empty, full, rand, randn, randint, randperm, arange, fromArray, scalar, manualSeed, cat, stack, where, matmul, outer, eigh } from './creation';
export type { CreateOptions } from './creation';
export * as nn from './functional';
export type { Pair } from './functional';
export { noGrad } from './autograd';
export { tidy, keep, dispose } from './scope';
export { backend, setNumThreads, configureBackend, memory, liveTensors, emptyCache, synchronize, cudaAvailable, requireDevice } from './backend';
export type { BackendInfo, MemoryInfo } from './backend';
export { InvalidArgumentError, DataError, BackendError, CheckpointError, ModelDeclarationError } from './errors';

export { declareNetwork, parseLayer, countParameters, inferShapes, layerNames } from './model/spec';
export type { NetworkSpec, LayerSpec, LayerDeclaration, Width, ShapeOptions } from './model/spec';
export { buildNetwork, Network } from './model/network';
export type { BuildOptions, BuiltLayer } from './model/network';
export { initWeight, INITS } from './init';
export type { InitName, InitOptions } from './init';
export { MODELS, MODEL_IDS } from '../models';

export { readCifar10, readCifar100 } from './data/cifar';
export type { Cifar10, Cifar100, Cifar100Set, ImageSet } from './data/cifar';
export { ensureCifar10, ensureCifar100 } from './data/download';
export type { DownloadOptions } from './data/download';
export { loadCifar10, prepareDataset, BUNDLED_SAMPLE, PREPS } from './data/dataset';
export type { Dataset, DatasetOptions, DataRecipe, TensorSplit, Prep } from './data/dataset';
export { splitTrainValidation } from './data/split';
export type { TrainValidationSplit } from './data/split';
export { globalContrastNormalize, fitZca, applyZca } from './data/preprocess';
export type { Zca } from './data/preprocess';
export { augmentBatch, PAPER_AUGMENTATION, RICH_AUGMENTATION } from './data/augment';
export type { AugmentOptions } from './data/augment';

export { SGD } from './train/optim';
export type { SgdOptions } from './train/optim';
export { learningRate, SCHEDULES } from './train/schedule';
export type { Schedule } from './train/schedule';
export { trainModel } from './train/train';
export { isStalled, scoreSpread, stalledFor, STALL_TOLERANCE } from './train/stall';
export type { TrainResult, EpochRecord, Progress, TrainHooks, Score } from './train/train';
export type { TrainConfig, ResolvedConfig } from './train/config';
export { resolveConfig, DEFAULTS } from './train/config';
export { evaluate, evaluateByClass, predict } from './train/evaluate';
export type { ClassScore } from './train/evaluate';
export { evaluateCheckpoint, SPLITS } from './train/evaluate-checkpoint';
export type { CheckpointEvaluation, EvaluateCheckpointOptions, Split } from './train/evaluate-checkpoint';
export { saveCheckpoint, loadCheckpoint, exportWeights, importWeights } from './train/checkpoint';
export type { CheckpointState } from './train/checkpoint';
export { saveSafetensors, loadSafetensors, readSafetensorsMetadata } from './io/safetensors';
export type { Safetensors } from './io/safetensors';

export { reproduce } from './experiments/runner';
export { reportFolder } from './experiments/report-folder';
export { experimentProgress } from './experiments/progress';
export type { ExperimentProgress } from './experiments/progress';
export type { ExperimentEvent, ReproduceHooks, RunTask } from './experiments/runner';
export { PRESETS, PRESET_NAMES } from './experiments/presets';
export type { ReproduceOptions, PresetName } from './experiments/presets';
export type { RunRecord, ResultRow, Summary, RunGroup } from './experiments/types';
export { writeReport, renderReport } from './report/report';
export { compareRuns, renderComparison, readRunResult } from './report/compare';
export type { Comparison, ComparisonRow, ComparedRun, BaseComparison, TrainRecord } from './report/compare';
export type { ClaimCheck, Scored, Verdict } from './report/claims';
export { reconstruct, unitActivations, throughRelu, METHODS as RECONSTRUCTION_METHODS } from './visualize/guided-backprop';
export type { Method as ReconstructionMethod, Unit } from './visualize/guided-backprop';
export { strongestImages } from './visualize/strongest';
export type { StrongImage, StrongestOptions } from './visualize/strongest';
export { visualizeCheckpoint } from './visualize/visualize';
export type { Visualization, VisualizedUnit, VisualizeOptions } from './visualize/visualize';
export { encodePng } from './visualize/png';
export { loadedBinary } from './native';
export type { BinaryManifest, LoadedBinary, NativeBackendInfo, NativeLayer, NativeTensor } from './native';

export { selectSubset, resolveSubset, loadCifar100Subset, SUBSET_PRESETS, BUNDLED_CIFAR100_SAMPLE } from './data/subsets';
export type { SubsetSelection, SubsetClass, Cifar100Subset } from './data/subsets';
export { transfer } from './transfer/transfer';
export type { TransferResult, TransferHooks, TransferProgress } from './transfer/transfer';
export { resolveTransferConfig, TRANSFER_MODES, TRANSFER_DEFAULTS } from './transfer/config';
export type { TransferConfig, ResolvedTransferConfig, TransferMode } from './transfer/config';
export { transferSpec, HEADS } from './transfer/heads';
export type { Head, TransferSpec } from './transfer/heads';
export { readPretrained, loadBody } from './transfer/pretrained';
export type { Pretrained, BodyLoad } from './transfer/pretrained';
export { pretrainCifar10 } from './transfer/pretrain';
export { reproduceTransfer, TRANSFER_PRESETS } from './experiments/transfer';
export type { TransferPresetOptions, TransferRecord, TransferSummary, TransferRun, TransferRow, TransferEvent } from './experiments/transfer';
