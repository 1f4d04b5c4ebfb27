/**
 * A training run's configuration: defaults in one place (the paper's where it
 * gives them), every field checked, unknown keys rejected. The resolved
 * config is saved with every result and checkpoint.
 */
import { checkBoolean, checkInteger, checkKeys, checkNumber, checkOneOf, definedOnly, invalid } from '../check';
import { InvalidArgumentError } from '../errors';
import { AugmentOptions, checkAugment, PAPER_AUGMENTATION } from '../data/augment';
import { DatasetName, DATASETS, Prep, PREPS } from '../data/dataset';
import { InitName, INITS } from '../init';
import type { NetworkSpec } from '../model/spec';
import { checkDevice, Device } from '../tensor';
import { ScheduleName, SCHEDULES } from './schedule';
import { ModelId, MODELS } from '../../models';

/** The largest mini-batch a run takes. */
export const MAX_BATCH_SIZE = 1 << 16;

export const PRECISIONS = ['fp32', 'bf16', 'fp16'] as const;
export type Precision = (typeof PRECISIONS)[number];
export const ENGINES = ['native', 'typescript'] as const;
export type Engine = (typeof ENGINES)[number];

export interface TrainConfig {
  /**
   * A model id from MODELS ('all-cnn-c': editors offer the twelve; any other
   * string is refused when the run starts) or a NetworkSpec of your own.
   */
  model: ModelId | (string & {}) | NetworkSpec;
  /** 'cifar10' (default) or 'cifar100': its 100 fine classes, the paper's CIFAR-100 experiment. */
  dataset?: DatasetName;
  /** The data set's binary archive or folder; its bundled sample when omitted. */
  data?: string;
  epochs?: number;
  batchSize?: number;
  /** Base learning rate (the paper picks from 0.25, 0.1, 0.05, 0.01). */
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  schedule?: ScheduleName;
  warmupEpochs?: number;
  prep?: Prep;
  /** true for the paper's flips + translations, or detailed options. */
  augment?: boolean | AugmentOptions;
  seed?: number;
  device?: Device;
  /** Train on at most this many images of the training split. */
  limit?: number;
  testLimit?: number;
  validation?: number;
  /** ReLU after the last 1x1 convolution, as in the paper. */
  finalRelu?: boolean;
  init?: InitName;
  precision?: Precision;
  /** TF32 tensor cores for fp32 convolutions and matmuls (CUDA devices only). */
  tf32?: boolean;
  channelsLast?: boolean;
  /**
   * Capture each training step as one CUDA graph after 3 warm-up steps, and
   * replay it (CUDA devices, engine 'native'). If capture fails the run goes
   * on with ordinary steps; TrainResult.cudaGraph says which happened.
   */
  cudaGraph?: boolean;
  /**
   * Queue this run's GPU work on a CUDA stream of its own, so that runs
   * trained at once in one process overlap on the GPU (reproduce sets it
   * with --concurrency above 1). CUDA devices, engine 'native'.
   */
  cudaStream?: boolean;
  labelSmoothing?: number;
  /**
   * Epochs at chance-level loss, with class scores that no longer depend on
   * the image, before a run is stopped as stalled (0: never).
   */
  stallEpochs?: number;
  /** 'native': one fused native call per step (default); 'typescript': op by op. */
  engine?: Engine;
  evalBatchSize?: number;
}

export type ResolvedConfig = Required<Omit<TrainConfig, 'data' | 'limit' | 'testLimit' | 'validation' | 'model'>> & {
  model: string;
  data: string | null;
  limit: number | null;
  testLimit: number | null;
  validation: number | null;
  augment: AugmentOptions | false;
};

export const DEFAULTS = {
  dataset: 'cifar10' as DatasetName,
  epochs: 10,
  batchSize: 128,
  lr: 0.01,
  momentum: 0.9, // the paper
  weightDecay: 0.001, // the paper
  schedule: 'paper' as ScheduleName,
  warmupEpochs: 0,
  prep: 'zca' as Prep, // the paper: GCN + ZCA
  seed: 0,
  device: 'cpu' as Device,
  finalRelu: true, // the paper
  init: 'xavier-uniform' as InitName,
  precision: 'fp32' as Precision,
  tf32: false,
  channelsLast: false,
  cudaGraph: false,
  cudaStream: false,
  labelSmoothing: 0,
  stallEpochs: 3,
  engine: 'native' as Engine,
  evalBatchSize: 500,
};

const KEYS = new Set(['model', 'data', 'limit', 'testLimit', 'validation', 'augment', ...Object.keys(DEFAULTS)]);
/** The keys a TrainConfig may have (TransferConfig names its own from them). */
export const TRAIN_CONFIG_KEYS: readonly string[] = [...KEYS];

/** Checks a config and fills in the defaults. */
export function resolveConfig(c: TrainConfig): ResolvedConfig {
  if (c === null || typeof c !== 'object') throw invalid('config', 'a TrainConfig object', c);
  checkKeys('config', c, [...KEYS]);
  const model = typeof c.model === 'string' ? c.model : c.model?.name;
  if (typeof c.model === 'string' && !MODELS[c.model]) throw invalid('model', `one of ${Object.keys(MODELS).join(', ')} (or a NetworkSpec)`, c.model);
  if (typeof model !== 'string') throw invalid('model', 'a model id or a NetworkSpec', c.model);
  const d = { ...DEFAULTS, ...definedOnly(c) };
  // LibTorch's CPU autocast knows bfloat16 only: fp16 would fail at the first step, after the data were read.
  if (d.precision === 'fp16' && !String(d.device).startsWith('cuda')) {
    throw new InvalidArgumentError(`precision 'fp16' needs a CUDA device (LibTorch autocasts to float16 on GPUs only), but device is ${JSON.stringify(d.device)}: use 'bf16' on the CPU`);
  }
  // CUDA-only settings are refused on the CPU rather than recorded in result.json as if they had been used.
  for (const k of ['tf32', 'cudaGraph', 'cudaStream'] as const) {
    if (d[k] && !String(d.device).startsWith('cuda')) throw new InvalidArgumentError(`${k} needs a CUDA device (device "cuda" or "cuda:N"), but device is ${JSON.stringify(d.device)}`);
  }
  for (const k of ['cudaGraph', 'cudaStream'] as const) {
    if (d[k] && d.engine === 'typescript') throw new InvalidArgumentError(`${k} needs engine 'native': the TypeScript engine runs op by op`);
  }
  const opt = (name: string, v: number | undefined, min: number) => (v === undefined || v === null ? null : checkInteger(name, v, min));
  const epochs = checkInteger('epochs', d.epochs, 1);
  return {
    model,
    dataset: checkOneOf('dataset', d.dataset, DATASETS),
    data: c.data ?? null,
    epochs,
    batchSize: checkInteger('batchSize', d.batchSize, 1, MAX_BATCH_SIZE),
    lr: checkNumber('lr', d.lr, 0, 100),
    momentum: checkNumber('momentum', d.momentum, 0, 1),
    weightDecay: checkNumber('weightDecay', d.weightDecay, 0, 1),
    schedule: checkOneOf('schedule', d.schedule, SCHEDULES),
    warmupEpochs: checkNumber('warmupEpochs (at most the run\'s epochs: a longer warm-up never reaches lr)', d.warmupEpochs, 0, epochs),
    prep: checkOneOf('prep', d.prep, PREPS),
    augment: c.augment === true ? PAPER_AUGMENTATION : c.augment === false || c.augment === undefined || c.augment === null ? false : checkAugment(c.augment),
    seed: checkInteger('seed', d.seed, 0, 2 ** 31),
    device: checkDevice('device', d.device),
    limit: opt('limit', c.limit, 1),
    testLimit: opt('testLimit', c.testLimit, 1),
    validation: opt('validation', c.validation, 0),
    finalRelu: checkBoolean('finalRelu', d.finalRelu),
    init: checkOneOf('init', d.init, INITS),
    precision: checkOneOf('precision', d.precision, PRECISIONS),
    tf32: checkBoolean('tf32', d.tf32),
    channelsLast: checkBoolean('channelsLast', d.channelsLast),
    cudaGraph: checkBoolean('cudaGraph', d.cudaGraph),
    cudaStream: checkBoolean('cudaStream', d.cudaStream),
    labelSmoothing: checkNumber('labelSmoothing', d.labelSmoothing, 0, 1),
    stallEpochs: checkInteger('stallEpochs', d.stallEpochs, 0),
    engine: checkOneOf('engine', d.engine, ENGINES),
    evalBatchSize: checkInteger('evalBatchSize', d.evalBatchSize, 1),
  };
}
