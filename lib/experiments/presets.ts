/**
 * The presets of `allcnn reproduce`. Every field can be overridden from the
 * command line; the resolved options are saved in experiment.json.
 *
 * paper: the paper's protocol: 350 epochs, the multi-step schedule (x0.1
 *   after epochs 200, 250, 300), learning rate chosen from {0.25, 0.1, 0.05,
 *   0.01} by validation accuracy, every rate run to the end. GPU work: about
 *   12 x 4 x 350 epochs.
 * fast: the same protocol shortened to 40 epochs (drops after epochs 23, 29
 *   and 34, the paper's milestones scaled by 40/350), with the learning rate
 *   probed for 5 epochs and only the best rate continued.
 * smoke: a CPU check of the whole pipeline in a few minutes: 500 training
 *   images, 2 epochs, two learning rates probed for 1 epoch, 1,000 test images.
 *   That is 8 SGD steps per network: accuracies stay near chance, and stall
 *   detection is off (a run this short is not worth restarting).
 */
import { DEFAULTS } from '../train/config';
import type { Precision } from '../train/config';
import { MODEL_IDS } from '../../models';

export const PRESET_NAMES = ['paper', 'fast', 'smoke'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];
export const EXTRAS = ['augment', 'ablations'] as const;
export type Extra = (typeof EXTRAS)[number];

export interface ReproduceOptions {
  preset: PresetName;
  /** Model ids (default: all 12). */
  models: string[];
  epochs: number;
  lrs: number[];
  batchSize: number;
  /** Train the Table 3 runs with flips + translations too (the paper's Table 3 has none). */
  augment: boolean;
  seed: number;
  device: string;
  /** Training images (null: all 49,000). */
  limit: number | null;
  testLimit: number | null;
  lrSelection: 'full' | 'probe';
  probeEpochs: number;
  /** The augmented ALL-CNN-C runs and the ablations, run after Table 3 at ALL-CNN-C's chosen rate. */
  extras: Extra[];
  /** Runs trained at the same time on one device. */
  concurrency: number;
  /** Restarts, with the next seed, of a run that stalled at chance level. */
  maxRestarts: number;
  stallEpochs: number;
  precision: Precision;
  prep: 'zca' | 'std' | 'none';
  /** On CUDA devices: TF32 convolutions, channels-last memory, CUDA-graph steps, and with concurrency > 1 a CUDA stream per run. Ignored on the CPU. */
  fastPath: boolean;
}

const PAPER_LRS = [0.25, 0.1, 0.05, 0.01];
const COMMON = {
  models: MODEL_IDS, batchSize: DEFAULTS.batchSize, augment: false, seed: 0, limit: null, testLimit: null,
  extras: [...EXTRAS], concurrency: 1, maxRestarts: 2, precision: 'fp32' as Precision, prep: 'zca' as const, fastPath: true,
};

export const PRESETS: Record<PresetName, Omit<ReproduceOptions, 'device'>> = {
  paper: { ...COMMON, preset: 'paper', epochs: 350, lrs: PAPER_LRS, lrSelection: 'full', probeEpochs: 0, stallEpochs: 10 },
  fast: { ...COMMON, preset: 'fast', epochs: 40, lrs: PAPER_LRS, lrSelection: 'probe', probeEpochs: 5, stallEpochs: 3 },
  smoke: { ...COMMON, preset: 'smoke', epochs: 2, lrs: [0.05, 0.01], lrSelection: 'probe', probeEpochs: 1, stallEpochs: 0, limit: 500, testLimit: 1000 },
};
