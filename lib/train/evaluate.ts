/** evaluate(), evaluateByClass() and predict() for a trained Network. */
import { noGrad } from '../autograd';
import { checkInteger, checkKeys, invalid, invalidAs } from '../check';
import type { TensorSplit } from '../data/dataset';
import { crossEntropy, logSoftmax } from '../functional';
import type { Network } from '../model/network';
import { native } from '../native';
import { tidy } from '../scope';
import { handleOf, type Tensor } from '../tensor';
import { MAX_BATCH_SIZE } from './config';
import { createNativeNet, Score } from './train';

const EVAL_DEFAULTS = { momentum: 0, weightDecay: 0, labelSmoothing: 0, channelsLast: false, precision: 'fp32' as const };

/** Images per forward pass when scoring: 500 unless given. */
export function evalBatchSize(batchSize: unknown = 500): number {
  return checkInteger('batchSize', batchSize, 1, MAX_BATCH_SIZE);
}

/** Mean loss and accuracy of `network` on images x [N,C,H,W] with labels y [N] (int64), dropout off. */
export async function evaluate(network: Network, data: Pick<TensorSplit, 'x' | 'y'>, o: { batchSize?: number } = {}): Promise<Score> {
  checkKeys('options', o, ['batchSize']);
  checkScored(network, data);
  const batchSize = evalBatchSize(o.batchSize);
  const net = createNativeNet(network, null, EVAL_DEFAULTS);
  try {
    const m = await native().net_evaluate(net, data.x.handle, data.y.handle, batchSize);
    return { loss: m.loss, accuracy: m.seen ? m.correct / m.seen : NaN, count: m.seen };
  } finally {
    native().net_release(net);
  }
}

/** An InvalidArgumentError unless data holds images x the network takes and int64 labels y [N], one per image. */
function checkScored(network: Network, data: Pick<TensorSplit, 'x' | 'y'>): void {
  if (data === null || typeof data !== 'object') throw invalid('data', 'an object { x, y } of images and labels (a split of loadCifar)', data);
  network.checkImages('data.x', data.x);
  handleOf('data.y', data.y);
  if (data.y.dtype !== 'int64' || data.y.rank !== 1 || data.y.shape[0] !== data.x.shape[0]) {
    throw invalidAs('data.y', `int64 labels [${data.x.shape[0]}], one per image of data.x`, `a ${data.y.dtype} tensor of shape [${data.y.shape.join(', ')}]`);
  }
  // Read once (one sync per call): on CUDA a label out of range is a device-side assert, which leaves the GPU unusable to the process.
  if (data.y.numel === 0) return;
  const [lo, hi] = tidy(() => [data.y.min().item(), data.y.max().item()]);
  if (lo < 0 || hi >= network.classes) {
    throw invalidAs('data.y', `class indices in [0, ${network.classes - 1}] (the network's ${network.classes} classes)`, `labels from ${lo} to ${hi}`);
  }
}

/** Class probabilities [N, classes] and predicted labels [N] for preprocessed images x. */
export function predict(network: Network, x: Tensor): { probabilities: Tensor; labels: Tensor } {
  return noGrad(() =>
    tidy(() => {
      const logp = logSoftmax(network.forward(x, false), 1);
      return { probabilities: logp.exp(), labels: logp.argmax(1) };
    }),
  );
}

/** A Score with the confusion matrix: confusion[t][p] counts the images of true class t predicted as p. */
export interface ClassScore extends Score {
  confusion: number[][];
}

/**
 * Loss, accuracy and confusion matrix of `network` on images x with labels y
 * (dropout off), in one pass run op by op from TypeScript. The event loop
 * gets a turn between batches.
 */
export async function evaluateByClass(network: Network, data: Pick<TensorSplit, 'x' | 'y'>, classes: number, o: { batchSize?: number } = {}): Promise<ClassScore> {
  // The confusion matrix is indexed by the network's predictions: it needs a row and column for each of its outputs.
  if (classes !== network.classes) throw invalid('classes', `the network's number of classes (${network.classes})`, classes);
  checkScored(network, data);
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const n = data.y.shape[0];
  const batchSize = evalBatchSize(o.batchSize); // 0 would never leave the loop below
  let lossSum = 0;
  for (let start = 0; start < n; start += batchSize) {
    const len = Math.min(batchSize, n - start);
    const [loss, truth, predicted] = noGrad(() =>
      tidy(() => {
        const y = data.y.narrow(0, start, len);
        const logits = network.forward(data.x.narrow(0, start, len), false);
        return [crossEntropy(logits, y).item(), y.toArray(), logits.argmax(1).toArray()] as const;
      }),
    );
    lossSum += loss * len;
    truth.forEach((t, i) => confusion[t][predicted[i]]++);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const correct = confusion.reduce((s, row, k) => s + row[k], 0);
  return { loss: n ? lossSum / n : NaN, accuracy: n ? correct / n : NaN, count: n, confusion };
}
