/**
 * trainModel(): the whole algorithm, top to bottom: config, data, model,
 * optimiser, schedule, loop, evaluation. Each step is one native call
 * (forward, loss, backward, SGD) run off the event loop; training metrics
 * accumulate on the device and are read every `READ_EVERY` steps.
 */
import * as path from 'node:path';
import { configureBackend, ensureDefaultThreads, requireDevice } from '../backend';
import { checkBoolean, checkInteger, checkKeys, checkNumber, invalid, isThenable } from '../check';
import { CheckpointError, InvalidArgumentError } from '../errors';
import { manualSeed, randperm } from '../creation';
import { Generator, generatorHandle } from '../generator';
import { applyAugmentation } from '../data/augment';
import { Dataset, DATASET_CLASSES, DATASET_TITLES, loadCifar, TensorSplit } from '../data/dataset';
import { crossEntropy } from '../functional';
import { checkFolder } from '../io/folder';
import { buildNetwork, Network } from '../model/network';
import { inferShapes, NetworkSpec } from '../model/spec';
import { native, NativeMetrics, NativeNet } from '../native';
import { tidy } from '../scope';
import { indexSelectInRange, type Tensor } from '../tensor';
import { checkpointExists, checkResumeConfig, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { ResolvedConfig, resolveConfig, TrainConfig } from './config';
import { SGD } from './optim';
import { learningRate } from './schedule';
import { isStalled } from './stall';
import { MODELS } from '../../models';

/** Training metrics are read back (a host sync) every this many steps. */
const READ_EVERY = 10;

export interface EpochRecord {
  epoch: number;
  /** Mean training loss and accuracy over the epoch (with dropout on). */
  loss: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
  lr: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface Score {
  loss: number;
  accuracy: number;
  count: number;
}

export interface TrainResult {
  config: ResolvedConfig;
  parameters: number;
  history: EpochRecord[];
  validation: Score;
  test: Score;
  /**
   * Stuck at chance for good, so the run was stopped: the training loss stayed
   * at ln K for config.stallEpochs epochs and the network gives every image
   * the same class scores (see train/stall.ts).
   */
  stalled: boolean;
  /**
   * The training loss of an epoch was NaN or infinite, so the run was
   * stopped there: the weights have overflowed, and SGD cannot bring NaN
   * weights back. The usual cause is too high a learning rate.
   */
  diverged: boolean;
  /**
   * Classes of the data set with no training image in the data read (the
   * CIFAR-100 subsets archive has 20 of its 100): the network still has an
   * output for each. Empty for a complete data set.
   */
  absentClasses: string[];
  /** Epoch the run resumed from (0 for a fresh run). */
  resumedFrom: number;
  /**
   * Wall time of this call, the data's reading included. A resumed run's
   * earlier epochs are not in it: their times are in `history` (allcnn
   * compare adds them).
   */
  seconds: number;
  /** Mean training throughput (images per second) of the epochs run here; NaN when a resumed run had none left to run. */
  imagesPerSecond: number;
  device: string;
  /**
   * config.cudaGraph's outcome: 'off', 'captured' (steps replayed one CUDA
   * graph), 'warming up' (too few steps to capture), or 'failed: <why>'
   * (ordinary steps were used).
   */
  cudaGraph: string;
  /** The trained network, when hooks.keepModel was set (dispose it yourself). */
  network?: Network;
}

export type Progress =
  | {
      type: 'start'; config: ResolvedConfig; parameters: number; trainImages: number; startEpoch: number; absentClasses: string[];
      /** Reading and preparing the data, when trainModel did it (not for hooks.dataset), and whether its ZCA came from the cache. */
      data?: { seconds: number; zcaCached: boolean | undefined; zcaSaved?: boolean; fittedOn: number };
    }
  | {
      type: 'step'; epoch: number; step: number; steps: number; lr: number;
      /** The epoch's mean training loss so far, read back from the device every READ_EVERY steps (no host sync per step): null before the first read. */
      loss: number | null;
    }
  | { type: 'epoch'; record: EpochRecord; stalled: boolean; diverged: boolean }
  | { type: 'checkpoint'; file: string; epoch: number };

export interface TrainHooks {
  /**
   * Told of the run's start, steps, epochs and checkpoints. Not awaited (a
   * slow one would slow every step): what an async one rejects with fails the
   * run at its next step, as a throw does at once.
   */
  onProgress?: (p: Progress) => void;
  /** Stops the run at the next step: trainModel rejects with an AbortError (the checkpoint keeps the last whole epoch). */
  signal?: AbortSignal;
  /** Checkpoint file written after every epoch (atomically). */
  checkpoint?: string;
  /** Continue from `checkpoint` when it exists (needs `checkpoint`). */
  resume?: boolean;
  /**
   * An already loaded data set (not disposed by trainModel). One from
   * loadCifar must be of config.dataset's kind. One from prepareDataset (your
   * own images) is recorded as config.dataset all the same: score its
   * checkpoints with evaluate() on that data set (evaluateCheckpoint cannot
   * load it again), and do not set its results beside the paper's.
   */
  dataset?: Dataset;
  /** Return the trained network in the result instead of freeing it. */
  keepModel?: boolean;
  /**
   * Called with the network and data set before training starts (transfer
   * learning uses it); an async one is awaited (weights read from a file).
   */
  prepare?: ((network: Network, dataset: Dataset) => void) | ((network: Network, dataset: Dataset) => Promise<void>);
  /** Number of classes, when not the data set's (buildNetwork option). */
  classes?: number;
  /**
   * A learning-rate multiplier per parameter name (default 1), e.g. a
   * pretrained body at 0.1x its new head's rate. Native engine only.
   */
  lrScale?: (name: string) => number;
  /**
   * Stop after this many epochs (of config.epochs), keeping the schedule of
   * the whole run: a later call with resume continues exactly where this
   * one stopped (learning-rate probes).
   */
  stopAfterEpoch?: number;
}

/**
 * The generator seed for one epoch: the whole RNG state of a run is
 * (seed, epoch), so a resumed run draws what an uninterrupted one would.
 */
export function epochSeed(seed: number, epoch: number): number {
  return seed * 100003 + epoch + 1;
}

/** What an interrupted run leaves: a checkpoint exists once an epoch has ended. */
function resumeHint(checkpoint: string | undefined, epochsDone: number): string {
  if (!checkpoint) return 'no checkpoint was kept';
  if (epochsDone === 0) return 'it had no checkpoint yet (one is written after each epoch) and starts afresh next time';
  return `resume from ${checkpoint} (${epochsDone} epoch${epochsDone === 1 ? '' : 's'} done)`;
}

function specOf(model: TrainConfig['model']): NetworkSpec {
  return typeof model === 'string' ? MODELS[model] : model;
}

/**
 * A data set given in hooks.dataset is trained on as it is: a config that
 * says otherwise (another prep, fewer images) would be recorded in the result
 * and the checkpoint beside data it does not describe, so it is refused.
 */
function checkGivenDataset(c: ResolvedConfig, dataset: Dataset): void {
  const given = dataset.recipe?.dataset;
  const fix = (what: string) => new InvalidArgumentError(`${what}, so that the result and the checkpoint say what the network was trained on`);
  if (given !== undefined && given !== c.dataset) {
    throw fix(`hooks.dataset holds ${DATASET_TITLES[given]} but config.dataset is '${c.dataset}': set dataset: '${given}'`);
  }
  const counts = [
    ['limit', dataset.train.count, c.limit, 'training images'],
    ['testLimit', dataset.test.count, c.testLimit, 'test images'],
  ] as const;
  for (const [field, count, limit, what] of counts) {
    if (limit !== null && count > limit) throw fix(`hooks.dataset has ${count} ${what} but config.${field} is ${limit}: set ${field}: ${count}`);
  }
  if (c.validation !== null && dataset.validation.count !== c.validation) {
    throw fix(`hooks.dataset has ${dataset.validation.count} validation images but config.validation is ${c.validation}: set validation: ${dataset.validation.count}`);
  }
  if (dataset.prep !== c.prep) throw fix(`hooks.dataset was prepared with prep '${dataset.prep}' but config.prep is '${c.prep}': set prep: '${dataset.prep}'`);
}

export class AbortError extends Error {
  override name = 'AbortError';
  /** beforeStart: the run was stopped before it trained a step (nothing to resume). */
  constructor(message: string, readonly beforeStart = false) {
    super(message);
  }
}

/** Every key of TrainHooks (the type makes this list complete): a misspelt `checkpoint` would mean a long run that saves nothing. */
const HOOK_KEYS = Object.keys({
  onProgress: 1, signal: 1, checkpoint: 1, resume: 1, dataset: 1, keepModel: 1, prepare: 1, classes: 1, lrScale: 1, stopAfterEpoch: 1,
} satisfies Record<keyof TrainHooks, 1>);

/** Checks the hooks' names and values, so a bad one fails before the data are read rather than after. */
function checkHooks(h: TrainHooks): void {
  checkKeys('hooks', h, HOOK_KEYS);
  for (const k of ['onProgress', 'prepare', 'lrScale'] as const) if (h[k] !== undefined && typeof h[k] !== 'function') throw invalid(`hooks.${k}`, 'a function', h[k]);
  for (const k of ['resume', 'keepModel'] as const) if (h[k] !== undefined) checkBoolean(`hooks.${k}`, h[k]);
  if (h.signal !== undefined && !(h.signal instanceof AbortSignal)) throw invalid('hooks.signal', 'an AbortSignal (from an AbortController)', h.signal);
  if (h.checkpoint !== undefined && (typeof h.checkpoint !== 'string' || h.checkpoint === '')) throw invalid('hooks.checkpoint', 'a file path', h.checkpoint);
  // Without a file there is nothing to resume from: the run started afresh, as if resume had not been asked for.
  if (h.resume && h.checkpoint === undefined) throw new InvalidArgumentError('hooks.resume needs hooks.checkpoint (the file to resume from)');
  if (h.classes !== undefined) checkInteger('hooks.classes', h.classes, 2, 100000);
  if (h.stopAfterEpoch !== undefined) checkInteger('hooks.stopAfterEpoch', h.stopAfterEpoch, 0);
}

/** Trains one network; see TrainConfig for the options and TrainResult for what comes back. */
export async function trainModel(config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const c = resolveConfig(config);
  checkHooks(hooks);
  requireDevice(c.device);
  // The first checkpoint is written after an epoch: a folder that cannot be made fails now, not then.
  if (hooks.checkpoint) checkFolder(path.dirname(path.resolve(hooks.checkpoint)));
  if (hooks.signal?.aborted) throw new AbortError('training aborted before it started', true);
  const spec = specOf(config.model);
  // A malformed spec or class count fails here, before seconds (or a minute, with ZCA) of data loading.
  inferShapes(spec, { classes: hooks.classes ?? hooks.dataset?.classes ?? DATASET_CLASSES[c.dataset] });
  const started = Date.now();
  ensureDefaultThreads();
  if (c.device.startsWith('cuda')) configureBackend({ cudnnBenchmark: true, tf32: c.tf32 });
  if (c.engine === 'typescript' && c.precision !== 'fp32') throw new TypeError(`engine 'typescript' runs in fp32 only; use engine 'native' for precision '${c.precision}'`);
  if (c.engine === 'typescript' && hooks.lrScale) throw new TypeError("hooks.lrScale needs engine 'native'");

  // 1. data
  if (hooks.dataset) checkGivenDataset(c, hooks.dataset);
  const resumeFrom = hooks.resume && hooks.checkpoint && checkpointExists(hooks.checkpoint) ? hooks.checkpoint : null;
  if (resumeFrom) checkResumeConfig(resumeFrom, c); // another configuration is refused before the data are read
  const dataStarted = Date.now();
  const dataset = hooks.dataset ?? (await loadCifar(c.dataset, c.data ?? undefined, { prep: c.prep, limit: c.limit ?? undefined, testLimit: c.testLimit ?? undefined, validation: c.validation ?? undefined, seed: c.seed, device: c.device }));
  // Everything made from here on is freed however the run ends (the network kept only when returned).
  let network: Network | undefined;
  let sgd: SGD | undefined;
  let net: NativeNet | undefined;
  let returned = false;
  const progress = progressReporter(hooks.onProgress);
  try {
    // Reading the data (most of a minute with a first ZCA fit) is before the first step too.
    if (hooks.signal?.aborted) throw new AbortError('training aborted before it started (while the data were read)', true);
    if (hooks.classes !== undefined && hooks.classes < dataset.classes) {
      throw invalid('hooks.classes', `at least the data set's ${dataset.classes} classes (its labels go up to ${dataset.classes - 1})`, hooks.classes);
    }
    // 2. model, optimiser, native step
    network = buildNetwork(spec, { classes: hooks.classes ?? dataset.classes, finalRelu: c.finalRelu, init: c.init, seed: c.seed, device: c.device, channelsLast: c.channelsLast });
    checkBatchNormBatches(network, dataset.train.count, c.batchSize);
    // Awaited: an async prepare left unawaited ran beside the first steps, and its rejection ended the process as unhandled.
    await hooks.prepare?.(network, dataset);
    // LibTorch's word for it, at the first step, was "element 0 of tensors does not require grad".
    if (!network.parameterList().some((p) => p.requiresGrad)) {
      throw new InvalidArgumentError(`every parameter of ${network.spec.name} is frozen (requiresGrad false, set in hooks.prepare): there is nothing to train. Leave at least one trainable, or score the network as it is with evaluate()`);
    }
    sgd = new SGD(network.parameterList(), { momentum: c.momentum, weightDecay: c.weightDecay });
    // The run's shuffles, augmentations and dropout masks come from a generator
    // of its own, so that runs trained at once in one process draw what each
    // would draw alone. A captured CUDA graph's dropout can draw only from the
    // global generator (native/net.cc): with cudaGraph that one is seeded per
    // epoch too, and is shared with whatever else runs in the process.
    const generator = new Generator(0, c.device);
    net = createNativeNet(network, sgd, c, hooks.lrScale, c.cudaGraph ? undefined : generator);
    // 3. resume
    let history: EpochRecord[] = [];
    let startEpoch = 0;
    if (resumeFrom) {
      const state = loadCheckpoint<EpochRecord>(resumeFrom, network, sgd, c, dataset.recipe ?? null);
      // Its config has these epochs (it was compared): more done than that, it resumed "after epoch 99" of 2 and returned 99 records.
      if (state.epoch > c.epochs) throw new CheckpointError(`${resumeFrom}: metadata "epoch" is ${state.epoch}, past the run's ${c.epochs} epochs (a corrupt checkpoint?)`);
      // JSON has no NaN: a diverged epoch's losses come back as null.
      history = state.history.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? NaN : v])) as unknown as EpochRecord);
      startEpoch = state.epoch;
    }
    const train = dataset.train;
    progress.tell({
      type: 'start', config: c, parameters: network.parameterCount(), trainImages: train.count, startEpoch, absentClasses: dataset.absentClasses,
      ...(hooks.dataset ? {} : { data: { seconds: (Date.now() - dataStarted) / 1000, zcaCached: dataset.zcaCached, zcaSaved: dataset.zcaSaved, fittedOn: dataset.fittedOn ?? train.count } }),
    });

    // 4. the loop
    const chance = Math.log(dataset.classes);
    let graph = c.cudaGraph ? 'warming up' : 'off';
    // Scores are compared on validation images, or training ones when there are none.
    const probe = dataset.validation.count > 1 ? dataset.validation : train;
    let stalled = isStalled(history, chance, c.stallEpochs, network, probe);
    const validated = { validated: dataset.validation.count > 0 };
    let diverged = hasDiverged(history, validated);
    const steps = Math.ceil(train.count / c.batchSize);
    const lastEpoch = Math.min(c.epochs, hooks.stopAfterEpoch ?? c.epochs);
    for (let epoch = startEpoch; epoch < lastEpoch && !stalled && !diverged; epoch++) {
      const t0 = Date.now();
      const seed = epochSeed(c.seed, epoch);
      generator.manualSeed(seed);
      if (c.cudaGraph) manualSeed(seed);
      const order = randperm(train.count, { device: c.device, generator });
      const sums = { loss: 0, correct: 0, seen: 0 };
      const take = (m: NativeMetrics) => {
        if (m.graph) graph = m.graph;
        if (m.seen === 0) return;
        sums.loss += m.loss * m.seen;
        sums.correct += m.correct;
        sums.seen += m.seen;
      };
      let lr = c.lr;
      try {
        for (let step = 0; step < steps; step++) {
          if (hooks.signal?.aborted) throw new AbortError(`training aborted in epoch ${epoch + 1}; ${resumeHint(hooks.checkpoint, epoch)}`);
          lr = learningRate(epoch + step / steps, { name: c.schedule, baseLr: c.lr, epochs: c.epochs, warmupEpochs: c.warmupEpochs, stepEpochs: 1 / steps });
          const start = step * c.batchSize;
          const len = Math.min(c.batchSize, train.count - start);
          const [xb, yb] = batch(train, order, start, len, c.augment || null, generator);
          try {
            if (c.engine === 'native') await native().net_train_step(net, xb.handle, yb.handle, lr);
            else take(await typescriptStep(network, sgd, xb, yb, lr, c.labelSmoothing, generator));
          } finally {
            xb.dispose();
            yb.dispose();
          }
          const read = (step + 1) % READ_EVERY === 0 || step === steps - 1;
          if (read) take(native().net_take_metrics(net));
          progress.check(); // after the step's await, in which a report's rejection lands
          progress.tell({ type: 'step', epoch: epoch + 1, step: step + 1, steps, loss: sums.seen ? sums.loss / sums.seen : null, lr });
        }
      } finally {
        order.dispose();
      }
      const trainSeconds = (Date.now() - t0) / 1000;
      const val = await evaluateNative(net, dataset.validation, c.evalBatchSize);
      const record: EpochRecord = {
        epoch: epoch + 1, loss: sums.loss / sums.seen, trainAccuracy: sums.correct / sums.seen, valLoss: val.loss, valAccuracy: val.accuracy,
        lr, seconds: (Date.now() - t0) / 1000, imagesPerSecond: train.count / trainSeconds,
      };
      history.push(record);
      stalled = isStalled(history, chance, c.stallEpochs, network, probe);
      diverged = hasDiverged(history, validated);
      if (hooks.checkpoint) {
        saveCheckpoint(hooks.checkpoint, network, sgd, { epoch: epoch + 1, history, config: c, data: dataset.recipe ?? null });
        progress.tell({ type: 'checkpoint', file: hooks.checkpoint, epoch: epoch + 1 });
      }
      progress.tell({ type: 'epoch', record, stalled, diverged });
    }

    // 5. final scores
    const validation = await evaluateNative(net, dataset.validation, c.evalBatchSize);
    const test = await evaluateNative(net, dataset.test, c.evalBatchSize);
    progress.check(); // after awaits: the last epoch's report has had its turn to reject
    const ran = history.slice(startEpoch);
    const trainSeconds = ran.reduce((s, r) => s + train.count / r.imagesPerSecond, 0);
    returned = true;
    return {
      config: c, parameters: network.parameterCount(), history, validation, test, stalled, diverged, absentClasses: dataset.absentClasses, resumedFrom: startEpoch,
      seconds: (Date.now() - started) / 1000,
      imagesPerSecond: ran.length ? (ran.length * train.count) / trainSeconds : NaN,
      device: c.device,
      cudaGraph: graph,
      network: hooks.keepModel ? network : undefined,
    };
  } finally {
    progress.close();
    if (net) native().net_release(net);
    sgd?.dispose();
    if (!(hooks.keepModel && returned)) network?.dispose();
    if (!hooks.dataset) dataset.dispose();
  }
}

/**
 * onProgress, told without waiting. A promise it returns that rejects is kept
 * and thrown by check(), so it fails the run instead of the process (an
 * unhandled rejection); one that rejects after the run ended is a warning.
 */
function progressReporter(onProgress: TrainHooks['onProgress']): { tell(p: Progress): void; check(): void; close(): void } {
  let failed: { error: unknown } | null = null;
  let open = true;
  return {
    tell(p) {
      const r: unknown = onProgress?.(p);
      if (!isThenable(r)) return;
      r.then(undefined, (error: unknown) => {
        if (open) failed ??= { error };
        else process.emitWarning(`hooks.onProgress rejected after the run ended: ${error instanceof Error ? error.message : String(error)}`, 'AllcnnProgressWarning');
      });
    },
    check() {
      if (failed) throw failed.error;
    },
    close() {
      open = false;
    },
  };
}

/**
 * A batch-norm layer with one value per channel (after gap or flatten) has no
 * batch statistics for a batch of one image: said before the first epoch,
 * not met at the last step of it (native/common.h refuses such a step).
 */
function checkBatchNormBatches(network: Network, count: number, batchSize: number): void {
  const single = batchSize === 1 ? 'every batch holds 1 image (batchSize 1)' : count % batchSize === 1 ? `the last batch of each epoch holds 1 image (${count} training images, batch ${batchSize})` : null;
  if (!single) return;
  const i = network.layers.findIndex((l, k) => (l.spec.kind === 'conv' || l.spec.kind === 'fc') && l.spec.batchNorm && network.shapes[k].slice(1).every((d) => d === 1));
  if (i < 0) return;
  throw new InvalidArgumentError(`${network.spec.name}: the batch norm of ${network.layers[i].name} needs batches of 2 or more images, but ${single}: pick another batchSize (or limit)`);
}

/** One mini-batch, gathered on the device, augmented if asked. */
function batch(split: TensorSplit, order: Tensor, start: number, len: number, augment: ResolvedConfig['augment'] | null, generator: Generator): [Tensor, Tensor] {
  return tidy(() => {
    const idx = order.narrow(0, start, len);
    const x = indexSelectInRange(split.x, 0, idx); // idx: a slice of a permutation of the split
    return [augment ? applyAugmentation(x, augment, generator) : x, indexSelectInRange(split.y, 0, idx)] as [Tensor, Tensor];
  });
}

export function createNativeNet(
  network: Network, sgd: SGD | null, c: Pick<ResolvedConfig, 'momentum' | 'weightDecay' | 'labelSmoothing' | 'channelsLast' | 'precision'> & { cudaGraph?: boolean; cudaStream?: boolean; foreachSgd?: boolean; fuseConvRelu?: boolean }, lrScale?: (name: string) => number,
  generator?: Generator,
): NativeNet {
  const params = network.parameterList();
  // Without an optimiser (evaluation only) the net gets no momentum buffers and refuses to train.
  const momentum = sgd ? sgd.momentumBuffers : [];
  return native().net_create(network.nativeProgram(), params.map((p) => p.handle), momentum.map((b) => b.handle), network.bufferList().map((b) => b.handle), {
    momentum: c.momentum, weightDecay: c.weightDecay, nesterov: false, labelSmoothing: c.labelSmoothing, channelsLast: c.channelsLast,
    autocast: c.precision === 'bf16' ? 'bfloat16' : c.precision === 'fp16' ? 'float16' : null,
    // A negative scale would climb the loss, NaN or Infinity wreck the weights: say which tensor got one.
    lrScales: lrScale ? [...network.parameters.keys()].map((name) => checkNumber(`hooks.lrScale('${name}')`, lrScale(name), 0, 1e6)) : undefined,
    cudaGraph: Boolean(c.cudaGraph),
    cudaStream: Boolean(c.cudaStream),
    foreachSgd: Boolean(c.foreachSgd),
    fuseConvRelu: Boolean(c.fuseConvRelu),
    generator: generatorHandle('generator', generator),
  });
}

async function evaluateNative(net: NativeNet, split: TensorSplit, batchSize: number): Promise<Score> {
  if (split.count === 0) return { loss: NaN, accuracy: NaN, count: 0 };
  const m = await native().net_evaluate(net, split.x.handle, split.y.handle, batchSize);
  return { loss: m.loss, accuracy: m.correct / m.seen, count: m.seen };
}

/** The same step, op by op from TypeScript (for parity checks and custom code). */
async function typescriptStep(network: Network, sgd: SGD, x: Tensor, y: Tensor, lr: number, labelSmoothing: number, generator: Generator): Promise<NativeMetrics> {
  const m = tidy(() => {
    sgd.zeroGrad();
    const logits = network.forward(x, true, undefined, generator);
    const loss = crossEntropy(logits, y, { labelSmoothing });
    loss.backward();
    sgd.step(lr);
    const correct = logits.argmax(1).eq(y).sum().item();
    return { loss: loss.item(), correct, seen: y.shape[0] };
  });
  await new Promise((r) => setImmediate(r)); // let the event loop breathe between steps
  return m;
}

/**
 * Whether the last epoch's training loss was NaN or infinite (null: a NaN
 * read back from JSON): the weights have overflowed, and no later epoch can
 * recover them. With `validated` (the run has validation images) a NaN
 * validation loss counts too: weights grown huge overflow the scores before
 * the epoch's mean training loss turns NaN, and a run that blew up in its
 * last epoch would otherwise look like one at chance.
 */
export function hasDiverged(history: ReadonlyArray<{ loss: number | null; valLoss?: number | null }>, o: { validated?: boolean } = {}): boolean {
  if (history.length === 0) return false;
  const last = history[history.length - 1];
  return !Number.isFinite(last.loss) || (o.validated === true && !Number.isFinite(last.valLoss));
}
