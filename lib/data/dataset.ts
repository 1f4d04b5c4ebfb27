/**
 * A CIFAR data set ready for training: the 49,000 / 1,000 / 10,000 split
 * (split.ts), preprocessed (preprocess.ts), as float32 tensors resident on
 * the training device, so batches are sliced there with no host copies.
 * CIFAR-10, or CIFAR-100 with its 100 fine classes (the paper's CIFAR-100
 * experiment); CIFAR-100 subsets for transfer learning are in subsets.ts.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { requireDevice } from '../backend';
import { checkInteger, checkKeys, checkOneOf, invalid, invalidAs } from '../check';
import { fromArray } from '../creation';
import { DataError } from '../errors';
import { noGrad } from '../autograd';
import { dispose, keep, tidy } from '../scope';
import { checkDevice, Device, Tensor } from '../tensor';
import { Cifar10, CIFAR_IMAGE_BYTES, ImageSet, readCifar10, readCifar100 } from './cifar';
import { fitNormalization, globalContrastNormalize, IMAGE_SHAPE, imagesToTensor, warningsDelivered } from './preprocess';
import { splitTrainValidation } from './split';

export const PREPS = ['zca', 'std', 'none'] as const;
export type Prep = (typeof PREPS)[number];

/** The small CIFAR-10 sample shipped with allcnn (600 real images), used when no data set is given. */
export const BUNDLED_SAMPLE = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'cifar-10-sample.tar.gz');
/** The CIFAR-100 sample shipped with allcnn (200 training + 100 test images of 20 classes, those of the two transfer subsets). */
export const BUNDLED_CIFAR100_SAMPLE = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'cifar-100-sample.tar.gz');

/** The data sets a network is trained on from scratch. */
export const DATASETS = ['cifar10', 'cifar100'] as const;
export type DatasetName = (typeof DATASETS)[number];
/** Its classes, the network's outputs: CIFAR-100 is trained on its 100 fine classes, as in the paper. */
export const DATASET_CLASSES: Readonly<Record<DatasetName, number>> = { cifar10: 10, cifar100: 100 };
export const DATASET_TITLES: Readonly<Record<DatasetName, string>> = { cifar10: 'CIFAR-10', cifar100: 'CIFAR-100' };
/**
 * The data set of a record that does not name one (a checkpoint, weights
 * file or result.json written before CIFAR-100 could be trained on): CIFAR-10.
 */
export function recordedDataset(dataset: DatasetName | undefined | null): DatasetName {
  return dataset ?? 'cifar10';
}
const BUNDLED: Readonly<Record<DatasetName, string>> = { cifar10: BUNDLED_SAMPLE, cifar100: BUNDLED_CIFAR100_SAMPLE };

export interface DatasetOptions {
  /** Validation images taken from the training images (default 1,000, or a tenth for sets under 10,000). */
  validation?: number;
  /** Use at most this many training images (after the split). */
  limit?: number;
  /** Use at most this many test images. */
  testLimit?: number;
  /** 'zca' (GCN + ZCA, the paper), 'std' (per-channel mean/std) or 'none' (0..1). Default 'zca'. */
  prep?: Prep;
  /** Seed of the split (default 0). */
  seed?: number;
  /** Default 'cpu'. */
  device?: Device;
  /** Folder for the ZCA cache, or false for none (default $ALLCNN_DATA/zca). */
  zcaCache?: string | false;
  /**
   * The dataDigest() the images read must have (a recipe's): other images
   * are refused, so a recipe given back to loadCifar makes the same data set
   * or none.
   */
  digest?: string;
}

export interface TensorSplit {
  /** Images [N, C, H, W], float32, preprocessed. */
  x: Tensor;
  /** Labels [N], int64. */
  y: Tensor;
  count: number;
}

/**
 * What loadCifar read and how: given back to it (`const { dataset, data,
 * ...options } = recipe; loadCifar(dataset, data, options)`),
 * it makes the same data set again. Checkpoints keep it, so that
 * evaluateCheckpoint() scores a run on the very images it was scored on (a
 * reproduction's runs share a data set whose split seed is not the run's).
 */
export interface DataRecipe {
  /** Absent in checkpoints written before CIFAR-100 could be trained on: 'cifar10'. */
  dataset: DatasetName;
  /** The archive or folder, as an absolute path; null: the bundled sample. */
  data: string | null;
  prep: Prep;
  /** The split's seed and sizes. */
  seed: number;
  validation: number;
  limit: number;
  testLimit: number;
  /**
   * dataDigest() of the images read: the data themselves, wherever their file
   * is and however it is packed. Absent in checkpoints written before
   * 2026-12-02, which tell moved data by the archive's size.
   */
  digest?: string;
}

export interface Dataset {
  train: TensorSplit;
  validation: TensorSplit;
  test: TensorSplit;
  classes: number;
  classNames: string[];
  prep: Prep;
  source: string;
  device: Device;
  /** Whether the ZCA matrix came from the on-disk cache. */
  zcaCached?: boolean;
  /** Whether the ZCA matrix is in the on-disk cache now (read from it, or written to it). */
  zcaSaved?: boolean;
  /** Training images the preparation was fitted on (ZCA, or the channel statistics): all of the split's, whatever the limit. */
  fittedOn?: number;
  /**
   * Classes with no training image in the data read: the CIFAR-100 subsets
   * archive holds 20 of CIFAR-100's 100 classes, and a network trained on it
   * still has 100 outputs. Empty for a complete data set.
   */
  absentClasses: string[];
  /** Set by loadCifar; absent for data sets made with prepareDataset. */
  recipe?: DataRecipe;
  dispose(): void;
}

function pick(set: ImageSet, indices: Int32Array): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(indices.length * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(indices.length);
  indices.forEach((src, i) => {
    images.set(set.images.subarray(src * CIFAR_IMAGE_BYTES, (src + 1) * CIFAR_IMAGE_BYTES), i * CIFAR_IMAGE_BYTES);
    labels[i] = set.labels[src];
  });
  return { images, labels };
}

/** Hex digits of a dataDigest() per part (training images, test images). */
const DIGEST_HALF = 12;

/**
 * What tells the same images in a moved, copied, repacked or extracted
 * archive from other images in a file of the same name and size: the
 * SHA-256 of the training images and labels as read (before any split), its
 * first 12 hex digits, then the same of the test images. The first half
 * alone says whether a preparation fitted on them is the run's (predict).
 * About 0.16 s for CIFAR-10's 60,000 images (2-core EPYC).
 */
export function dataDigest(raw: { train: ImageSet; test: ImageSet }): string {
  return [raw.train, raw.test].map((set) => createHash('sha256')
    .update(`${set.count};`).update(set.images.subarray(0, set.count * CIFAR_IMAGE_BYTES)).update(set.labels.subarray(0, set.count))
    .digest('hex').slice(0, DIGEST_HALF)).join('');
}

/** The training images' part of a dataDigest(). */
export function trainingDigest(digest: string): string {
  return digest.slice(0, DIGEST_HALF);
}

/** Every key of DatasetOptions (the type makes this list complete): a misspelt `prep` would otherwise mean ZCA. */
const OPTION_KEYS = Object.keys({ validation: 1, limit: 1, testLimit: 1, prep: 1, seed: 1, device: 1, zcaCache: 1, digest: 1 } satisfies Record<keyof DatasetOptions, 1>);

/**
 * Checks data handed to prepareDataset by a caller (the archive readers make
 * them right): a short buffer would read as black images labelled 0, a label
 * past the classes would fail only at the first evaluation, after training.
 */
function checkRaw(raw: { train: ImageSet; test: ImageSet; classNames: string[] }): void {
  if (raw === null || typeof raw !== 'object') throw invalid('data', 'an object { train, test, classNames, source }', raw);
  const classes = raw.classNames;
  if (!Array.isArray(classes) || classes.length < 2 || !classes.every((c) => typeof c === 'string')) throw invalid('data.classNames', 'a list of at least 2 class names', classes);
  for (const which of ['train', 'test'] as const) {
    const set = raw[which];
    const name = `data.${which}`;
    if (set === null || typeof set !== 'object') throw invalid(name, 'an ImageSet { images, labels, count }', set);
    const count = checkInteger(`${name}.count`, set.count, which === 'train' ? 1 : 0);
    if (!(set.images instanceof Uint8Array)) throw invalid(`${name}.images`, 'a Uint8Array (or Buffer) of 3x32x32 images, channel by channel', set.images);
    if (!(set.labels instanceof Uint8Array)) throw invalid(`${name}.labels`, 'a Uint8Array (or Buffer) of labels', set.labels);
    if (set.images.length < count * CIFAR_IMAGE_BYTES) throw invalidAs(`${name}.images`, `${count} images of ${CIFAR_IMAGE_BYTES} bytes (${count * CIFAR_IMAGE_BYTES} bytes)`, `${set.images.length} bytes`);
    if (set.labels.length < count) throw invalidAs(`${name}.labels`, `${count} labels`, `${set.labels.length} labels`);
    const bad = set.labels.subarray(0, count).findIndex((l) => l >= classes.length);
    if (bad >= 0) throw invalid(`${name}.labels[${bad}]`, `a label below ${classes.length} (the number of classNames)`, set.labels[bad]);
  }
}

/** The options that do not depend on the data, checked before any are read: a mistake costs nothing. */
function checkOptions(o: DatasetOptions): { prep: Prep; device: Device } {
  checkKeys('options', o, OPTION_KEYS);
  const prep = checkOneOf('prep', o.prep ?? 'zca', PREPS);
  const device = checkDevice('device', o.device ?? 'cpu');
  requireDevice(device);
  // '' would be the working folder; a number would fail in path.join after the split.
  if (o.zcaCache !== undefined && o.zcaCache !== false && (typeof o.zcaCache !== 'string' || o.zcaCache === '')) {
    throw invalid('zcaCache', 'a folder for the ZCA cache, or false for none', o.zcaCache);
  }
  // What does not depend on the data, checked before an archive is read (a mistake cost its 10 s); validation's bound is the data's.
  if (o.limit !== undefined) checkInteger('limit', o.limit, 1);
  if (o.testLimit !== undefined) checkInteger('testLimit', o.testLimit, 1);
  if (o.seed !== undefined) checkInteger('seed', o.seed, 0, 2 ** 32 - 1);
  if (o.validation !== undefined) checkInteger('validation', o.validation, 0);
  if (o.digest !== undefined && (typeof o.digest !== 'string' || !/^[0-9a-f]{24}$/.test(o.digest))) throw invalid('digest', 'a recipe\'s digest (24 hex digits, dataDigest())', o.digest);
  return { prep, device };
}

/** Splits, preprocesses and moves to the device any CIFAR-format train/test pair. */
export function prepareDataset(raw: { train: ImageSet; test: ImageSet; classNames: string[]; source: string }, o: DatasetOptions = {}): Dataset {
  checkRaw(raw);
  const { prep, device } = checkOptions(o);
  const digest = o.digest !== undefined ? dataDigest(raw) : undefined;
  if (digest !== o.digest) throw new DataError(`${raw.source} holds other images than the recipe's (their digest is ${digest}, the recipe's ${o.digest}): pass the data it was made from`);
  const n = raw.train.count;
  const validation = checkInteger(`validation (the images held out of the ${n} training images)`, o.validation ?? (n >= 10000 ? 1000 : Math.floor(n / 10)), 0, n - 1);
  const classes = raw.classNames.length;
  const seen = new Set(raw.train.labels.subarray(0, n));
  const absentClasses = raw.classNames.filter((_, k) => !seen.has(k));
  const split = splitTrainValidation(raw.train.labels.subarray(0, n), { validation, seed: o.seed ?? 0, classes });
  const all = pick(raw.train, split.train);
  const limit = o.limit === undefined ? split.train.length : checkInteger('limit', o.limit, 1);
  const testCount = o.testLimit === undefined ? raw.test.count : Math.min(checkInteger('testLimit', o.testLimit, 1), raw.test.count);
  const val = pick(raw.train, split.validation);

  return noGrad(() => {
    // uint8 -> float32 0..255 (-> GCN for 'zca'), on the host.
    const load = (images: Uint8Array, count: number) => tidy(() => {
      const x = imagesToTensor(images, count);
      return prep === 'zca' ? globalContrastNormalize(x) : x;
    });
    // All the training images are made only if the fit needs them (not with a ZCA cache hit) or the run trains on them all.
    let trainFull: Tensor | null = null;
    const fitOn = { shape: [split.train.length, ...IMAGE_SHAPE], make: () => (trainFull ??= load(all.images, split.train.length)) };
    const norm = fitNormalization(prep, fitOn, all.images, o.zcaCache);
    const trainCount = Math.min(limit, split.train.length);
    // A split that fails (the device out of memory) frees what was made before it.
    const made: Tensor[] = [];
    const make = (x: Tensor, labels: Uint8Array, count: number): TensorSplit => {
      try {
        const px = keep(tidy(() => norm.apply(x.narrow(0, 0, count)).to(device).contiguous()));
        made.push(px);
        const py = keep(tidy(() => fromArray(labels.subarray(0, count), [count], 'uint8').to({ device, dtype: 'int64' })));
        made.push(py);
        return { x: px, y: py, count };
      } finally {
        x.dispose();
      }
    };
    let train: TensorSplit, validationSplit: TensorSplit, test: TensorSplit;
    try {
      train = make(trainFull ?? load(all.images, trainCount), all.labels, trainCount);
      validationSplit = make(load(val.images, split.validation.length), val.labels, split.validation.length);
      test = make(load(raw.test.images, testCount), raw.test.labels, testCount);
    } catch (err) {
      dispose(made);
      throw err;
    } finally {
      norm.release();
    }
    return {
      train, validation: validationSplit, test, classes, classNames: raw.classNames, prep, source: raw.source, device, zcaCached: norm.zcaCached, zcaSaved: norm.zcaSaved, fittedOn: split.train.length, absentClasses,
      dispose() {
        for (const t of [train, validationSplit, test]) {
          t.x.dispose();
          t.y.dispose();
        }
      },
    };
  });
}

/**
 * Reads `dataset`'s archive or folder (its bundled sample when `file` is
 * omitted) as a CIFAR-format train/test pair: CIFAR-100 with its fine labels
 * and the 100 fine class names.
 */
export async function readCifar(dataset: DatasetName, file?: string | null): Promise<Cifar10> {
  const name = checkOneOf('dataset', dataset, DATASETS);
  if (name === 'cifar10') return readCifar10(file ?? BUNDLED.cifar10);
  const { train, test, fineNames, source } = await readCifar100(file ?? BUNDLED.cifar100);
  return { train, test, classNames: fineNames, source };
}

/** Reads `dataset` (archive or folder; its bundled sample when omitted) and prepares it. */
export async function loadCifar(dataset: DatasetName, file: string | null | undefined, o: DatasetOptions = {}): Promise<Dataset> {
  checkOneOf('dataset', dataset, DATASETS);
  checkOptions(o); // before the archive is read
  const raw = await readCifar(dataset, file);
  const set = prepareDataset(raw, o);
  await warningsDelivered();
  const data = file == null || path.resolve(file) === BUNDLED[dataset] ? null : path.resolve(file);
  set.recipe = { dataset, data, prep: set.prep, seed: o.seed ?? 0, validation: set.validation.count, limit: set.train.count, testLimit: set.test.count, digest: o.digest ?? dataDigest(raw) };
  return set;
}

/** Reads CIFAR-10 (archive or folder; the bundled sample when omitted) and prepares it. */
export function loadCifar10(file: string | null | undefined, o: DatasetOptions = {}): Promise<Dataset> {
  return loadCifar('cifar10', file, o);
}

/**
 * Reads the official CIFAR-100 binary archive (the bundled sample when
 * omitted) and prepares all 100 fine classes: the paper's CIFAR-100
 * experiment. For a few classes as a data set of their own, see
 * loadCifar100Subset.
 */
export function loadCifar100(file: string | null | undefined, o: DatasetOptions = {}): Promise<Dataset> {
  return loadCifar('cifar100', file, o);
}
