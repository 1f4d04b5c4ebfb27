/**
 * When is a run stuck at chance for good?
 *
 * The paper's ALL-CNN networks end in a ReLU on the class scores. If training
 * pushes all of them below zero for every image, the scores are all 0, the
 * loss is exactly ln(K), and no gradient flows back: SGD can no longer move
 * the run off chance (only weight decay still shrinks the weights). The same
 * happens when any earlier layer goes dead for every image. Both leave the
 * same mark: the network gives every image the same scores.
 *
 * A slow start looks similar in the loss alone. ALL-CNN-C on 1,000 real
 * CIFAR-10 images at lr 0.25 had training losses 2.3027, 2.3009, 2.2958 in
 * its first three epochs (8 steps each): within 0.02 of ln 10, yet learning.
 * So a run is stalled only when both hold: the loss has stayed at chance for
 * `stallEpochs` epochs, and the class scores no longer depend on the image.
 */
import type { TensorSplit } from '../data/dataset';
import type { Network } from '../model/network';
import { noGrad } from '../autograd';
import { tidy } from '../scope';

/** A run is at chance while its training loss is within this of ln(K). */
export const STALL_TOLERANCE = 0.02;
/** Images whose class scores are compared. */
const PROBE_IMAGES = 256;
/** Scores closer than this across those images count as the same (fp32). */
const SAME_SCORES = 1e-6;

/** True when the last `epochs` epochs all had a training loss within STALL_TOLERANCE of ln(K). */
export function stalledFor(history: readonly { loss: number }[], chance: number, epochs: number): boolean {
  if (epochs <= 0 || history.length < epochs) return false;
  return history.slice(-epochs).every((r) => Math.abs(r.loss - chance) < STALL_TOLERANCE);
}

/**
 * The largest spread, over the classes, of a class score across the first
 * images of `split` (evaluation mode): 0 for a network that gives every image
 * the same scores.
 */
export function scoreSpread(network: Network, split: TensorSplit): number {
  const n = Math.min(PROBE_IMAGES, split.count);
  if (n < 2) return NaN;
  return noGrad(() =>
    tidy(() => {
      const scores = network.forward(split.x.narrow(0, 0, n), false);
      return scores.max(0).sub(scores.min(0)).max().item();
    }),
  );
}

/** Stalled: at chance for `epochs` epochs, and the network's scores no longer depend on the image. */
export function isStalled(history: readonly { loss: number }[], chance: number, epochs: number, network: Network, probe: TensorSplit): boolean {
  return stalledFor(history, chance, epochs) && scoreSpread(network, probe) <= SAME_SCORES;
}
