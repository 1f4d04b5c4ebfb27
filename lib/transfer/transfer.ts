/**
 * transfer(): a CIFAR-10 network moved to a small CIFAR-100 subset, top to
 * bottom: config, data, model, partial load + freeze, optimisers, schedule,
 * loop, evaluation.
 *
 * Two learning rates (finetune): the native fused step has one rate for all
 * tensors, so a finetune run with bodyLrScale != 1 takes its steps op by op
 * from TypeScript (Network.forward, crossEntropy, backward) and updates the
 * body and the head with one SGD each, at lr * bodyLrScale and lr. The update
 * rule is the same as the native one (optim.ts), so the modes differ only in
 * what they train. Features and scratch runs have one rate and use the fused
 * native step, which skips the frozen tensors (they get no gradient).
 */
import { ensureDefaultThreads } from '../backend';
import { invalid } from '../check';
import { manualSeed, randperm } from '../creation';
import { augmentBatch } from '../data/augment';
import type { Dataset, TensorSplit } from '../data/dataset';
import { loadCifar100Subset, parseSubsetNames, SubsetClass, SubsetSelection } from '../data/subsets';
import { crossEntropy } from '../functional';
import { buildNetwork, Network } from '../model/network';
import { native, NativeMetrics } from '../native';
import { tidy } from '../scope';
import type { Tensor } from '../tensor';
import { evaluate } from '../train/evaluate';
import { SGD } from '../train/optim';
import { learningRate } from '../train/schedule';
import { createNativeNet, epochSeed, EpochRecord, Progress, Score, stalledFor } from '../train/train';
import { MODELS } from '../../models';
import { ResolvedTransferConfig, resolveTransferConfig, TransferConfig } from './config';
import { isHeadOf, transferSpec } from './heads';
import { BodyLoad, loadBody, Pretrained, readPretrained } from './pretrained';

/** Training metrics of the native step are read back (a host sync) every this many steps. */
const READ_EVERY = 10;

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
  /** The training loss stayed at chance (ln K) for config.stallEpochs epochs: the run was stopped. */
  stalled: boolean;
  seconds: number;
  imagesPerSecond: number;
  device: string;
  /** The trained network, when hooks.keepModel was set (dispose it yourself). */
  network?: Network;
}

export interface TransferHooks {
  onProgress?: (p: TransferProgress) => void;
  signal?: AbortSignal;
  /** A subset already loaded with loadCifar100Subset (not disposed by transfer). */
  data?: { dataset: Dataset; selection: SubsetSelection };
  /** Return the trained network in the result instead of freeing it. */
  keepModel?: boolean;
}

/** Trains one transfer run; see TransferConfig and TransferResult. */
export async function transfer(config: TransferConfig, hooks: TransferHooks = {}): Promise<TransferResult> {
  const started = Date.now();
  ensureDefaultThreads();
  // 1. config: the checkpoint's metadata supplies the model and its preprocessing
  const pre = config.from !== undefined && config.from !== null ? readPretrained(config.from) : null;
  let network: Network | null = null;
  let data: TransferHooks['data'] | null = null;
  try {
    const c = resolveTransferConfig(config, pre);
    if (c.mode === 'finetune' && c.bodyLrScale !== 1 && c.precision !== 'fp32') throw new TypeError(`finetune with two learning rates runs in fp32 only (precision '${c.precision}' asked)`);
    // 2. data
    data = hooks.data ?? (await loadCifar100Subset(c.data ?? undefined, c.subset, {
      prep: c.prep, limit: c.limit ?? undefined, testLimit: c.testLimit ?? undefined, validation: c.validation ?? undefined, seed: c.seed, device: c.device,
    }));
    const { dataset, selection } = data;
    if (selection.name !== parseSubsetNames(c.subset).name) throw invalid('hooks.data', `the subset "${parseSubsetNames(c.subset).name}" of the config`, selection.name);
    // 3. model: the pretrained body, a new K-way head
    const t = transferSpec(MODELS[c.model], c.head);
    network = buildNetwork(t.spec, { classes: dataset.classes, finalRelu: c.finalRelu, init: c.init, seed: c.seed, device: c.device });
    const isHead = isHeadOf(t);
    let load: TransferResult['load'] = null;
    if (c.mode !== 'scratch') {
      const body = loadBody(network, pre!, { model: t.base.name, isHead });
      const frozen = c.mode === 'features' ? network.freeze((name) => !isHead(name)) : [];
      load = { ...body, frozen };
    }
    hooks.onProgress?.({
      type: 'prepared', from: load ? pre!.file : null, load, classes: selection.classes,
      trainImages: dataset.train.count, validationImages: dataset.validation.count, testImages: dataset.test.count,
    });
    // 4. optimisers: one per learning rate
    const names = [...network.parameters.keys()];
    const trainable = names.filter((n) => network!.parameters.get(n)!.requiresGrad);
    const twoRates = c.mode === 'finetune' && c.bodyLrScale !== 1;
    const group = (match: (n: string) => boolean) => new SGD(trainable.filter(match).map((n) => network!.parameters.get(n)!), { momentum: c.momentum, weightDecay: c.weightDecay });
    const sgds = twoRates ? { body: group((n) => !isHead(n)), head: group(isHead) } : null;
    const sgd = twoRates ? null : new SGD(network.parameterList(), { momentum: c.momentum, weightDecay: c.weightDecay });
    const net = sgd ? createNativeNet(network, sgd, c) : null;
    const trainableParameters = trainable.reduce((s, n) => s + network!.parameters.get(n)!.numel, 0);

    try {
      // 5. the loop
      const train = dataset.train;
      hooks.onProgress?.({ type: 'start', config: c, parameters: network.parameterCount(), trainImages: train.count, startEpoch: 0 });
      const history: EpochRecord[] = [];
      const steps = Math.ceil(train.count / c.batchSize);
      const chance = Math.log(dataset.classes);
      let stalled = false;
      // As trainModel: a run whose training loss sits at chance for stallEpochs epochs is stopped and reported.
      for (let epoch = 0; epoch < c.epochs && !stalled; epoch++) {
        const t0 = Date.now();
        manualSeed(epochSeed(c.seed, epoch));
        const order = randperm(train.count, c.device);
        const sums = { loss: 0, correct: 0, seen: 0 };
        const take = (m: NativeMetrics) => {
          sums.loss += m.loss * m.seen;
          sums.correct += m.correct;
          sums.seen += m.seen;
        };
        let lr = c.lr;
        try {
          for (let step = 0; step < steps; step++) {
            if (hooks.signal?.aborted) throw Object.assign(new Error(`transfer aborted in epoch ${epoch + 1}`), { name: 'AbortError' });
            lr = learningRate(epoch + step / steps, { name: c.schedule, baseLr: c.lr, epochs: c.epochs, warmupEpochs: c.warmupEpochs });
            const [xb, yb] = batch(train, order, step * c.batchSize, Math.min(c.batchSize, train.count - step * c.batchSize), c.augment || null);
            try {
              if (net) await native().net_train_step(net, xb.handle, yb.handle, lr);
              else take(await twoRateStep(network, sgds!, xb, yb, lr, c));
            } finally {
              xb.dispose();
              yb.dispose();
            }
            if (net && ((step + 1) % READ_EVERY === 0 || step === steps - 1)) {
              const m = native().net_take_metrics(net);
              if (m.seen) take(m);
            }
            hooks.onProgress?.({ type: 'step', epoch: epoch + 1, step: step + 1, steps, loss: sums.seen ? sums.loss / sums.seen : null, lr });
          }
        } finally {
          order.dispose();
        }
        const trainSeconds = (Date.now() - t0) / 1000;
        const val = await score(network, dataset.validation, c.evalBatchSize);
        const record: EpochRecord = {
          epoch: epoch + 1, loss: sums.loss / sums.seen, trainAccuracy: sums.correct / sums.seen, valLoss: val.loss, valAccuracy: val.accuracy,
          lr, seconds: (Date.now() - t0) / 1000, imagesPerSecond: train.count / trainSeconds,
        };
        history.push(record);
        stalled = stalledFor(history, chance, c.stallEpochs);
        hooks.onProgress?.({ type: 'epoch', record, stalled });
      }

      // 6. final scores
      const validation = await score(network, dataset.validation, c.evalBatchSize);
      const test = await score(network, dataset.test, c.evalBatchSize);
      const trainSeconds = history.reduce((s, r) => s + train.count / r.imagesPerSecond, 0);
      const result: TransferResult = {
        config: c, classes: selection.classes,
        pretrained: pre && c.mode !== 'scratch' ? { file: pre.file, kind: pre.kind, model: pre.model, epochs: pre.epochs, validationAccuracy: pre.validationAccuracy } : null,
        load, parameters: network.parameterCount(), trainableParameters, history, validation, test,
        stalled,
        seconds: (Date.now() - started) / 1000,
        imagesPerSecond: history.length ? (history.length * train.count) / trainSeconds : 0,
        device: c.device,
        network: hooks.keepModel ? network : undefined,
      };
      if (hooks.keepModel) network = null;
      return result;
    } finally {
      if (net) native().net_release(net);
      sgd?.dispose();
      sgds?.body.dispose();
      sgds?.head.dispose();
    }
  } finally {
    network?.dispose();
    pre?.dispose();
    if (data && !hooks.data) data.dataset.dispose();
  }
}

/** One mini-batch, gathered on the device, augmented if asked. */
function batch(split: TensorSplit, order: Tensor, start: number, len: number, augment: ResolvedTransferConfig['augment'] | null): [Tensor, Tensor] {
  return tidy(() => {
    const idx = order.narrow(0, start, len);
    const x = split.x.indexSelect(0, idx);
    return [augment ? augmentBatch(x, augment) : x, split.y.indexSelect(0, idx)] as [Tensor, Tensor];
  });
}

/** Forward, loss, backward, then each group's SGD at its own rate. */
async function twoRateStep(network: Network, sgds: { body: SGD; head: SGD }, x: Tensor, y: Tensor, lr: number, c: ResolvedTransferConfig): Promise<NativeMetrics> {
  const m = tidy(() => {
    sgds.body.zeroGrad();
    sgds.head.zeroGrad();
    const logits = network.forward(x, true);
    const loss = crossEntropy(logits, y, { labelSmoothing: c.labelSmoothing });
    loss.backward();
    sgds.body.step(lr * c.bodyLrScale);
    sgds.head.step(lr);
    return { loss: loss.item(), correct: logits.argmax(1).eq(y).sum().item(), seen: y.shape[0] };
  });
  await new Promise((r) => setImmediate(r)); // let the event loop breathe between steps
  return m;
}

async function score(network: Network, split: TensorSplit, batchSize: number): Promise<Score> {
  if (split.count === 0) return { loss: NaN, accuracy: NaN, count: 0 };
  return evaluate(network, split, { batchSize });
}
