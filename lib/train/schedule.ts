/**
 * Learning-rate schedules as pure functions of the (fractional) epoch.
 *
 * 'paper': the paper's multi-step schedule: the rate is multiplied by 0.1
 *   after epochs 200, 250 and 300 of 350. For other lengths the milestones
 *   scale proportionally (e.g. 20, 25 and 30 of 35), rounded to whole
 *   epochs: in runs of 5 epochs or fewer two or three of them round to the
 *   same epoch and their cuts combine (2 epochs: lr, then lr x 0.01).
 * 'cosine': half a cosine from the base rate to 0.
 * 'constant': the base rate throughout.
 * A linear warm-up over the first `warmupEpochs` multiplies any of them.
 *   A step gets the rate at the end of its share of the ramp
 *   (`stepEpochs`), so the first step trains too: with one step per epoch
 *   and a 1-epoch warm-up, the start of the ramp (0) was a whole epoch at
 *   lr 0.
 */
import { checkNumber, checkOneOf } from '../check';

export const SCHEDULES = ['paper', 'cosine', 'constant'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

/** The paper's milestones as fractions of the run: 200/350, 250/350, 300/350. */
export const PAPER_MILESTONES = [200 / 350, 250 / 350, 300 / 350];
export const PAPER_DECAY = 0.1;

export interface Schedule {
  name: ScheduleName;
  baseLr: number;
  epochs: number;
  warmupEpochs?: number;
  /** The share of an epoch one step covers (1 / steps per epoch); 0, the default: the rate at `epoch` itself. */
  stepEpochs?: number;
}

/** The learning rate at `epoch` (0-based, fractional within an epoch). */
export function learningRate(epoch: number, s: Schedule): number {
  checkOneOf('schedule', s.name, SCHEDULES);
  checkNumber('lr', s.baseLr, 0);
  // Checked as trainModel's config is: epochs 0 gave NaN for cosine, a NaN epoch the base rate.
  checkNumber('epoch', epoch, 0);
  checkNumber('epochs', s.epochs, 1);
  checkNumber('warmupEpochs', s.warmupEpochs ?? 0, 0);
  checkNumber('stepEpochs', s.stepEpochs ?? 0, 0, 1);
  let lr = s.baseLr;
  // 1. the schedule proper
  if (s.name === 'paper') {
    for (const m of PAPER_MILESTONES) if (epoch >= Math.round(m * s.epochs)) lr *= PAPER_DECAY;
  } else if (s.name === 'cosine') {
    lr *= 0.5 * (1 + Math.cos((Math.PI * Math.min(epoch, s.epochs)) / s.epochs));
  }
  // 2. linear warm-up, to where the step ends: the step from `epoch` to `epoch + stepEpochs` trains at (epoch + stepEpochs) / warm of the rate
  const warm = s.warmupEpochs ?? 0;
  if (warm > 0) lr *= Math.min(1, (epoch + (s.stepEpochs ?? 0)) / warm);
  return lr;
}
