/**
 * predictImages(): a trained run's checkpoint applied to your own pictures.
 * The pictures become 32x32 CIFAR images (data/images.ts) and are prepared
 * exactly as the run's test images were: they take the test images' place
 * in the run's data recipe, so GCN and the ZCA fitted on the run's training
 * images (from the on-disk cache when it has them) are applied to them.
 */
import { requireDevice } from '../backend';
import { checkInteger, checkKeys, checkOneOf, invalid } from '../check';
import { CIFAR_IMAGE_BYTES } from '../data/cifar';
import type { Dataset, DatasetName } from '../data/dataset';
import { Fit, FITS, ImageInput, readImage, toCifarPixels } from '../data/images';
import { tidy } from '../scope';
import { checkDevice, Device } from '../tensor';
import { predict } from './evaluate';
import { readRun, runCheckpoint, runData, runNetwork, sameImages, scoringData } from './evaluate-checkpoint';

export interface PredictImagesOptions {
  /** Classes listed per image, most likely first (default 3); all of them when `top` is more than there are. */
  top?: number;
  /** How pictures that are not 32x32 are brought to it (default 'crop'). */
  fit?: Fit;
  /** The run's CIFAR-10 (or CIFAR-100) archive or folder, whose training images the preprocessing was fitted on; default: the one it was trained on. */
  data?: string;
  /** Default 'cpu'. */
  device?: Device;
}

export interface ImagePrediction {
  /** The file name, or `image <k>` for a Buffer or raw pixels. */
  source: string;
  /** The most likely classes, most likely first. */
  top: Array<{ class: number; name: string; probability: number }>;
  /** Every class's probability, in class order. */
  probabilities: number[];
}

export interface Predictions {
  file: string;
  model: string;
  name: string;
  epoch: number;
  epochs: number;
  /** The run's data set, and the archive or folder it was trained on as it recorded it (null: the bundled sample, or unknown). */
  dataset: DatasetName;
  trainedOn: string | null;
  /** Whether the archive read holds the training images the run was trained on, which the preparation is fitted on (null: its checkpoint records no digest of them). */
  sameData: boolean | null;
  classNames: string[];
  fit: Fit;
  images: ImagePrediction[];
}

/** Every key of PredictImagesOptions (the type makes this list complete). */
const OPTION_KEYS = Object.keys({ top: 1, fit: 1, data: 1, device: 1 } satisfies Record<keyof PredictImagesOptions, 1>);

/** Classifies `images` with the network in checkpoint `file` (written by `allcnn train` or `allcnn reproduce`). */
export async function predictImages(file: string, images: ImageInput[], o: PredictImagesOptions = {}): Promise<Predictions> {
  checkKeys('options', o, OPTION_KEYS);
  const device = checkDevice('device', o.device ?? 'cpu');
  requireDevice(device);
  if (!Array.isArray(images) || images.length === 0) throw invalid('images', 'a non-empty list of images', images);
  const fit = checkOneOf('fit', o.fit ?? 'crop', FITS);
  const top = checkInteger('top', o.top ?? 3, 1);
  file = runCheckpoint(file);
  const { config, spec, epoch, recipe } = readRun(file, { needsWeights: true });
  const sources = images.map((input, k) => (typeof input === 'string' ? input : `image ${k}`));
  // Every picture is decoded before the (seconds-long) data preparation, so a bad one fails fast.
  const pixels = images.map((input, k) => toCifarPixels(readImage(input, sources[k]), fit));
  const { dataset, data, options, digest } = runData(file, recipe, o.data);
  const network = runNetwork(file, config, spec, device);
  let set: Dataset | null = null;
  try {
    const test = { images: new Uint8Array(pixels.length * CIFAR_IMAGE_BYTES), labels: new Uint8Array(pixels.length), count: pixels.length };
    pixels.forEach((p, k) => test.images.set(p, k * CIFAR_IMAGE_BYTES));
    const { raw, set: prepared } = await scoringData(dataset, data, options, device, test);
    set = prepared;
    const probabilities: number[][] = [];
    for (let start = 0; start < test.count; start += config.evalBatchSize) {
      const batch = Math.min(config.evalBatchSize, test.count - start);
      const rows = tidy(() => predict(network, prepared.test.x.narrow(0, start, batch)).probabilities.toArray());
      for (let at = 0; at < rows.length; at += network.classes) probabilities.push(rows.slice(at, at + network.classes));
    }
    const names = prepared.classNames;
    return {
      file, model: config.model, name: network.spec.name, epoch, epochs: config.epochs, dataset, trainedOn: recipe.data ?? null, sameData: sameImages(raw, digest, { trainingOnly: true }), classNames: names, fit,
      images: probabilities.map((p, k) => ({
        source: sources[k],
        top: p.map((probability, c) => ({ class: c, name: names[c], probability })).sort((a, b) => b.probability - a.probability).slice(0, top),
        probabilities: p,
      })),
    };
  } finally {
    network.dispose();
    set?.dispose();
  }
}
