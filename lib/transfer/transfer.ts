/**
 * transfer(): a CIFAR-10 network moved to a small CIFAR-100 subset: the
 * subset's data, the network with a new K-way head, then trainModel() with a
 * partial load + freeze before training:
 *   features: the pretrained body frozen (no gradient: the fused step skips it);
 *   finetune: every tensor trained, the body at lr * bodyLrScale (hooks.lrScale);
 *   scratch:  no pretrained weights, the baseline.
 */
import { checkKeys, invalid } from '../check';
import type { Dataset } from '../data/dataset';
import { InvalidArgumentError } from '../errors';
import { loadCifar100Subset, parseSubsetNames, SubsetClass, SubsetSelection } from '../data/subsets';
import type { Network } from '../model/network';
import type { TrainConfig } from '../train/config';
import { EpochRecord, Progress, Score, trainModel } from '../train/train';
import { MODELS } from '../../models';
import { ResolvedTransferConfig, resolveTransferConfig, TransferConfig } from './config';
import { isHeadOf, transferSpec } from './heads';
import { BodyLoad, loadBody, Pretrained, readPretrained } from './pretrained';

export type TransferProgress =
  | Progress
  /** Before training: the subset, and what was loaded, left new and frozen (null for scratch). */
  | { type: 'prepared'; from: string | null; load: TransferResult['load']; classes: SubsetClass[]; trainImages: number; validationImages: number; testImages: number };

export interface TransferResult {
  config: ResolvedTransferConfig;
  /** The subset's classes: new label, CIFAR-100 fine label, names. */
  classes: SubsetClass[];
  /** Where the body came from (null for scratch). */
  pretrained: { file: string; kind: Pretrained['kind']; model: string | null; epochs: number | null; validationAccuracy: number | null } | null;
  /** What was loaded, left new and frozen (null for scratch). */
  load: (BodyLoad & { frozen: string[] }) | null;
  parameters: number;
  /** Parameters the optimiser changed. */
  trainableParameters: number;
  history: EpochRecord[];
  validation: Score;
  test: Score;
  /** Stuck at chance for good, so the run was stopped (the rule: TrainResult.stalled, train/stall.ts). */
  stalled: boolean;
  /** The training or validation loss became NaN or infinite, so the run was stopped (TrainResult.diverged). */
  diverged: boolean;
  seconds: number;
  imagesPerSecond: number;
  device: string;
  /** The trained network, when hooks.keepModel was set (dispose it yourself). */
  network?: Network;
}

export interface TransferHooks {
  onProgress?: (p: TransferProgress) => void;
  signal?: AbortSignal;
  /** A subset loaded already with loadCifar100Subset (not disposed by transfer), trained on as it is: a config whose sizes or seed contradict it is refused. */
  data?: { dataset: Dataset; selection: SubsetSelection; seed?: number };
  /** Return the trained network in the result instead of freeing it. */
  keepModel?: boolean;
}

/** Trains one transfer run; see TransferConfig and TransferResult. */
export async function transfer(config: TransferConfig, hooks: TransferHooks = {}): Promise<TransferResult> {
  if (config === null || typeof config !== 'object') throw invalid('config', 'a TransferConfig object', config);
  checkKeys('hooks', hooks, Object.keys({ onProgress: 1, signal: 1, data: 1, keepModel: 1 } satisfies Record<keyof TransferHooks, 1>));
  // 1. config: the checkpoint's metadata supplies the model and its preprocessing
  const pre = config.from !== undefined && config.from !== null ? readPretrained(config.from) : null;
  let data: TransferHooks['data'] | null = null;
  try {
    const c = resolveTransferConfig(config, pre);
    // 2. data
    data = hooks.data ?? (await loadCifar100Subset(c.data ?? undefined, c.subset, {
      prep: c.prep, limit: c.limit ?? undefined, testLimit: c.testLimit ?? undefined, validation: c.validation ?? undefined, seed: c.seed, device: c.device,
    }));
    const { dataset, selection } = data;
    if (selection.name !== parseSubsetNames(c.subset).name) throw invalid('hooks.data', `the subset "${parseSubsetNames(c.subset).name}" of the config`, selection.name);
    // The result records the config's seed: the data must be split by it (their sizes trainModel checks below).
    if (hooks.data?.seed !== undefined && hooks.data.seed !== c.seed) {
      throw new InvalidArgumentError(`hooks.data was split with seed ${hooks.data.seed} but config.seed is ${c.seed}: set seed: ${hooks.data.seed}, so that the result says what the network was trained on`);
    }
    // 3. model: the pretrained body, a new K-way head; trained by trainModel
    const t = transferSpec(MODELS[c.model], c.head);
    const isHead = isHeadOf(t);
    let load: TransferResult['load'] = null;
    let trainableParameters = 0;
    const prepare = (network: Network) => {
      if (c.mode !== 'scratch') {
        const body = loadBody(network, pre!, { model: t.base.name, isHead });
        const frozen = c.mode === 'features' ? network.freeze((name) => !isHead(name)) : [];
        load = { ...body, frozen };
      }
      for (const p of network.parameters.values()) if (p.requiresGrad) trainableParameters += p.numel;
      hooks.onProgress?.({
        type: 'prepared', from: load ? pre!.file : null, load, classes: selection.classes,
        trainImages: dataset.train.count, validationImages: dataset.validation.count, testImages: dataset.test.count,
      });
    };
    const r = await trainModel(trainConfigOf(c, t.spec), {
      dataset, classes: dataset.classes, prepare, signal: hooks.signal, keepModel: hooks.keepModel, onProgress: hooks.onProgress,
      lrScale: c.bodyLrScale !== null ? (name) => (isHead(name) ? 1 : c.bodyLrScale!) : undefined,
    });
    return {
      config: c, classes: selection.classes,
      pretrained: pre && c.mode !== 'scratch' ? { file: pre.file, kind: pre.kind, model: pre.model, epochs: pre.epochs, validationAccuracy: pre.validationAccuracy } : null,
      load, parameters: r.parameters, trainableParameters, history: r.history, validation: r.validation, test: r.test, stalled: r.stalled, diverged: r.diverged,
      seconds: r.seconds, imagesPerSecond: r.imagesPerSecond, device: r.device, network: r.network,
    };
  } finally {
    pre?.dispose();
    if (data && !hooks.data) data.dataset.dispose();
  }
}

/** The training fields of a transfer config, for trainModel (the data set is passed ready-made). */
function trainConfigOf(c: ResolvedTransferConfig, spec: TrainConfig['model']): TrainConfig {
  return {
    model: spec, epochs: c.epochs, batchSize: c.batchSize, lr: c.lr, momentum: c.momentum, weightDecay: c.weightDecay, schedule: c.schedule,
    warmupEpochs: c.warmupEpochs, prep: c.prep, augment: c.augment, seed: c.seed, device: c.device, finalRelu: c.finalRelu, init: c.init,
    precision: c.precision, tf32: c.tf32, channelsLast: c.channelsLast, labelSmoothing: c.labelSmoothing, stallEpochs: c.stallEpochs,
    evalBatchSize: c.evalBatchSize,
    // Checked by trainModel against the data set handed to it (a subset loaded by the caller may have other sizes).
    limit: c.limit ?? undefined, testLimit: c.testLimit ?? undefined, validation: c.validation ?? undefined,
  };
}
