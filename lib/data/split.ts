/**
 * The paper's split of the 50,000 CIFAR-10 training images into 49,000 for
 * training and 1,000 for validation (learning-rate selection). The split is
 * class-balanced (100 images per class for 1,000 and 10 classes) and
 * deterministic: the same seed gives the same split on every machine.
 */
import { checkInteger, checkKeys, invalid } from '../check';
import { mulberry32, shuffle } from '../random';

export interface TrainValidationSplit {
  /** Indices into the training set, in a seeded random order. */
  train: Int32Array;
  validation: Int32Array;
}

/**
 * Splits `labels` (one per image) into training and validation indices.
 * `validation` images are taken evenly from each of the `classes` classes
 * that have images (the remainder from the first of them; the CIFAR-100
 * subsets archive has 20 of its 100 classes), and where a class has fewer
 * than its share, from the others; the rest are for training.
 */
export function splitTrainValidation(labels: Uint8Array, o: { validation?: number; seed?: number; classes?: number } = {}): TrainValidationSplit {
  checkKeys('options', o, ['validation', 'seed', 'classes']);
  const validation = checkInteger('validation', o.validation ?? 1000, 0, labels.length);
  // A loop, not Math.max(...labels): spread into arguments, 130,000 labels overflowed the call stack.
  const classes = checkInteger('classes', o.classes ?? labels.reduce((m, l) => Math.max(m, l), 1) + 1, 1);
  const random = mulberry32(checkInteger('seed', o.seed ?? 0, 0, 2 ** 32 - 1)); // mulberry32 keeps 32 bits: 2 ** 32 would repeat seed 0
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((l, i) => {
    if (l >= classes) throw invalid('labels', `labels below ${classes}`, l);
    byClass[l].push(i);
  });
  const val: number[] = [];
  const rest: number[] = [];
  const present = byClass.filter((idx) => idx.length > 0);
  present.forEach((idx) => shuffle(idx, random));
  const take = present.map((idx, k) => Math.min(idx.length, Math.floor(validation / present.length) + (k < validation % present.length ? 1 : 0)));
  // Classes with fewer images than their share leave a shortfall: the others make it up, one image each in turn, so exactly `validation` are held out.
  for (let short = validation - take.reduce((a, b) => a + b, 0), k = 0; short > 0; k = (k + 1) % present.length) {
    if (take[k] < present[k].length) {
      take[k]++;
      short--;
    }
  }
  present.forEach((idx, k) => idx.forEach((i, j) => (j < take[k] ? val : rest).push(i)));
  return { train: Int32Array.from(shuffle(rest, random)), validation: Int32Array.from(shuffle(val, random)) };
}
