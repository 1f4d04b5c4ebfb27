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
import { checkInteger, checkKeys, checkNumber, checkOneOf, invalid } from '../check';
import { PREPS } from '../data/dataset';
import { InvalidArgumentError } from '../errors';
import { checkDevice } from '../tensor';
import { DEFAULTS, MAX_BATCH_SIZE, PRECISIONS } from '../train/config';
import type { Precision } from '../train/config';
import { MODEL_IDS } from '../../models';

export const PRESET_NAMES = ['paper', 'fast', 'smoke'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];
export const EXTRAS = ['augment', 'ablations', 'cifar100'] as const;
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
  /**
   * Rows after Table 3, at ALL-CNN-C's chosen rate: the augmented runs, the
   * ablations, and ALL-CNN-C on CIFAR-100 (the paper's CIFAR-100 row; asked
   * for by name, as it reads the CIFAR-100 archive).
   */
  extras: Extra[];
  /** Runs trained at the same time on one device. */
  concurrency: number;
  /**
   * Seeds per Table 3 network at its chosen rate (default 1, as in the
   * paper): with more, its row is the mean over them, with their spread.
   * The rate is chosen on the first seed.
   */
  seeds: number;
  /** Restarts, with the next seed, of a run that stalled at chance level. */
  maxRestarts: number;
  stallEpochs: number;
  precision: Precision;
  prep: 'zca' | 'std' | 'none';
  /** On CUDA devices: TF32 convolutions, channels-last memory, CUDA-graph steps, and with concurrency > 1 a CUDA stream per run. Ignored on the CPU. */
  fastPath: boolean;
}

const PAPER_LRS = [0.25, 0.1, 0.05, 0.01];

export const MAX_SEEDS = 100;
/** Repeat k of a network (k = 1 .. seeds - 1) trains with seed `seed + k * SEED_STRIDE`, clear of the restarts' seed + 1, + 2, ... */
export const SEED_STRIDE = 1000;

/**
 * Options added after experiments were recorded without them, with the value
 * that those experiments ran with: an older experiment.json resumes.
 */
export const ADDED_OPTIONS: Partial<ReproduceOptions> = { seeds: 1 };
const COMMON = {
  models: MODEL_IDS, batchSize: DEFAULTS.batchSize, augment: false, seed: 0, limit: null, testLimit: null,
  extras: ['augment', 'ablations'] as Extra[], concurrency: 1, seeds: 1, maxRestarts: 2, precision: 'fp32' as Precision, prep: 'zca' as const, fastPath: true,
};

export const PRESETS: Record<PresetName, Omit<ReproduceOptions, 'device'>> = {
  paper: { ...COMMON, preset: 'paper', epochs: 350, lrs: PAPER_LRS, lrSelection: 'full', probeEpochs: 0, stallEpochs: 10 },
  fast: { ...COMMON, preset: 'fast', epochs: 40, lrs: PAPER_LRS, lrSelection: 'probe', probeEpochs: 5, stallEpochs: 3 },
  smoke: { ...COMMON, preset: 'smoke', epochs: 2, lrs: [0.05, 0.01], lrSelection: 'probe', probeEpochs: 1, stallEpochs: 0, limit: 500, testLimit: 1000 },
};

/**
 * Checks options given to reproduce() from code (the CLI's are checked as it
 * parses them): every field present and valid, none unknown. Caught here, a
 * mistake costs nothing; caught mid-grid, it costs the runs before it.
 * Start from a preset: `{ ...PRESETS.fast, device: 'cuda', models: ['c'] }`.
 */
export function checkReproduceOptions(o: unknown): ReproduceOptions {
  if (o === null || typeof o !== 'object') throw invalid('options', 'a ReproduceOptions object (start from one of PRESETS)', o);
  const r = o as Record<string, unknown>;
  const keys = [...Object.keys(PRESETS.paper), 'device'];
  checkKeys('options', r, keys);
  for (const k of keys) if (r[k] === undefined) throw invalid(`options.${k}`, 'a value (start from one of PRESETS)', r[k]);
  const listOf = (name: string, v: unknown, check: (item: unknown) => void, empty = false) => {
    if (!Array.isArray(v) || (!empty && v.length === 0)) throw invalid(name, `a${empty ? '' : ' non-empty'} list`, v);
    v.forEach(check);
    // The same model or rate twice would train the same run twice, into one journal.
    if (new Set(v).size !== v.length) throw invalid(name, 'a list without repeats', v);
  };
  const bool = (name: string) => {
    if (typeof r[name] !== 'boolean') throw invalid(name, 'true or false', r[name]);
  };
  checkOneOf('preset', r.preset, PRESET_NAMES);
  listOf('models', r.models, (m) => checkOneOf('models', m, MODEL_IDS));
  const epochs = checkInteger('epochs', r.epochs, 1);
  listOf('lrs', r.lrs, (lr) => checkNumber('lrs', lr, 0, 100)); // trainModel's range: found only at the first run, after the folder was claimed
  checkInteger('batchSize', r.batchSize, 1, MAX_BATCH_SIZE);
  bool('augment');
  bool('fastPath');
  checkInteger('seed', r.seed, 0);
  checkDevice('device', r.device);
  for (const k of ['limit', 'testLimit']) if (r[k] !== null) checkInteger(k, r[k], 1);
  const selection = checkOneOf('lrSelection', r.lrSelection, ['full', 'probe']);
  // A probe longer than the run would be the run itself.
  if (selection === 'probe') checkInteger('probeEpochs', r.probeEpochs, 1, epochs);
  listOf('extras', r.extras, (e) => checkOneOf('extras', e, EXTRAS), true);
  checkInteger('concurrency', r.concurrency, 1);
  checkInteger('seeds', r.seeds, 1, MAX_SEEDS);
  // A repeat's restarts take the seeds after its own: they must not reach the next repeat's.
  checkInteger('maxRestarts', r.maxRestarts, 0, r.seeds === 1 ? Number.MAX_SAFE_INTEGER : SEED_STRIDE - 1);
  checkInteger('stallEpochs', r.stallEpochs, 0);
  checkOneOf('precision', r.precision, PRECISIONS);
  // Caught here, not at the first run's first step (LibTorch's CPU autocast knows bfloat16 only).
  // In trainModel's words (resolveConfig's), which say what to use instead.
  if (r.precision === 'fp16' && !String(r.device).startsWith('cuda')) {
    throw new InvalidArgumentError(`precision 'fp16' needs a CUDA device (LibTorch autocasts to float16 on GPUs only), but device is ${JSON.stringify(r.device)}: use 'bf16' on the CPU`);
  }
  checkOneOf('prep', r.prep, PREPS);
  return o as ReproduceOptions;
}
