/**
 * Data augmentation: small functions of a whole batch [N, C, H, W], run on
 * the training device with a given generator, or LibTorch's global one
 * (reproducible from the seed either way).
 * The paper's set is flips + translations; scaling and colour jitter are the
 * richer set of the seed report. Translations pad with zeros, which is the
 * mean after whitening.
 */
import { checkInteger, checkNumber, invalid, invalidAs } from '../check';
import { arange, rand, randint, stack, where, zeros } from '../creation';
import * as F from '../functional';
import { checkGenerator, Generator } from '../generator';
import { tidy } from '../scope';
import { gatherInRange, handleOf, isFloating, Tensor } from '../tensor';

export interface AugmentOptions {
  /** Random horizontal flips (p = 0.5). */
  flip?: boolean;
  /** Random translations by up to this many pixels (pad + crop), 0 for none. */
  translate?: number;
  /** Random zoom factor range, e.g. [0.9, 1.1] (resize + crop via an affine grid). */
  scale?: [number, number] | null;
  /** Random brightness/contrast/saturation factors in [1 - v, 1 + v]. */
  colorJitter?: { brightness?: number; contrast?: number; saturation?: number } | null;
}

const KNOWN = new Set(['flip', 'translate', 'scale', 'colorJitter']);
const JITTER = new Set(['brightness', 'contrast', 'saturation']);
/** A shift of 32 pixels or more can move a CIFAR image out of its frame entirely. */
const MAX_TRANSLATE = 31;

/** The paper's augmentation (flips and translations). */
export const PAPER_AUGMENTATION: AugmentOptions = { flip: true, translate: 5 };
/** The seed report's richer set. */
export const RICH_AUGMENTATION: AugmentOptions = { flip: true, translate: 5, scale: [0.9, 1.1], colorJitter: { brightness: 0.2, contrast: 0.2, saturation: 0.2 } };

/** Checks every key and value, so a typo fails here, not as a LibTorch error (or a silent no-op) mid-training. */
export function checkAugment(o: unknown): AugmentOptions {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw invalid('augment', 'an object of augmentation options', o);
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw invalid('augment', `known augmentation keys (${[...KNOWN].join(', ')})`, k);
  const { flip, translate, scale, colorJitter } = o as Record<string, unknown>;
  if (flip !== undefined && typeof flip !== 'boolean') throw invalid('augment.flip', 'true or false', flip);
  if (translate !== undefined) checkInteger('augment.translate', translate, 0, MAX_TRANSLATE);
  if (scale !== undefined && scale !== null) {
    const ok = Array.isArray(scale) && scale.length === 2 && scale.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0) && scale[0] <= scale[1];
    if (!ok) throw invalid('augment.scale', 'a zoom range [lo, hi] with 0 < lo <= hi, e.g. [0.9, 1.1]', scale);
  }
  if (colorJitter !== undefined && colorJitter !== null) {
    if (typeof colorJitter !== 'object' || Array.isArray(colorJitter)) throw invalid('augment.colorJitter', 'an object {brightness, contrast, saturation}', colorJitter);
    for (const [k, v] of Object.entries(colorJitter)) {
      if (!JITTER.has(k)) throw invalid('augment.colorJitter', `known keys (${[...JITTER].join(', ')})`, k);
      checkNumber(`augment.colorJitter.${k}`, v, 0, 1); // factors in [1 - v, 1 + v]: v > 1 could flip the sign
    }
  }
  return o as AugmentOptions;
}

/** Mirrors each image left-right with probability 0.5. */
export function randomFlip(x: Tensor, generator?: Generator): Tensor {
  return tidy(() => {
    const n = x.shape[0];
    const mask = rand([n], { device: x.device, generator }).lt(0.5).reshape([n, 1, 1, 1]);
    return where(mask, x.flip(3), x);
  });
}

/** Shifts each image by its own random (dx, dy) in [-t, t], filling with zeros. */
export function randomTranslate(x: Tensor, t: number, generator?: Generator): Tensor {
  if (t === 0) return x.clone();
  return tidy(() => {
    const [n, c, h, w] = x.shape;
    const padded = x.pad([t, t, t, t]);
    const pw = w + 2 * t;
    const dy = randint(0, 2 * t + 1, [n, 1, 1], { device: x.device, generator });
    const dx = randint(0, 2 * t + 1, [n, 1, 1], { device: x.device, generator });
    const rows = arange(0, h, 1, { dtype: 'int64', device: x.device }).reshape([1, h, 1]).add(dy);
    const cols = arange(0, w, 1, { dtype: 'int64', device: x.device }).reshape([1, 1, w]).add(dx);
    const index = rows.mul(pw).add(cols).reshape([n, 1, h * w]).expand([n, c, h * w]);
    return gatherInRange(padded.reshape([n, c, -1]), 2, index).reshape([n, c, h, w]); // in range: rows < h + 2t, cols < w + 2t
  });
}

/** Zooms each image by its own factor in [lo, hi] about the centre. */
export function randomScale(x: Tensor, [lo, hi]: [number, number], generator?: Generator): Tensor {
  return tidy(() => {
    const [n, c, h, w] = x.shape;
    const inv = rand([n], { device: x.device, generator }).mul(hi - lo).add(lo).pow(-1);
    const zero = zeros([n], { device: x.device });
    const theta = stack([stack([inv, zero, zero], 1), stack([zero, inv, zero], 1)], 1);
    // grid_sample takes a grid of the images' dtype: a float32 one failed on float64 images.
    const grid = F.affineGrid(theta, [n, c, h, w]).to({ dtype: x.dtype });
    return F.gridSample(x, grid, { padding: 'zeros' });
  });
}

/**
 * Per-image brightness, contrast and saturation factors, applied to the
 * network's input (after GCN + ZCA), not to raw pixels: GCN divides each
 * image by its own contrast, so on raw pixels it would undo the brightness
 * and contrast factors exactly (test/data.test.ts checks this).
 */
export function colorJitter(x: Tensor, o: { brightness?: number; contrast?: number; saturation?: number }, generator?: Generator): Tensor {
  return tidy(() => {
    const n = x.shape[0];
    // In the images' dtype: float32 factors turned float16 and bfloat16 images into float32 ones.
    const factor = (v: number) => rand([n, 1, 1, 1], { device: x.device, generator }).mul(2 * v).add(1 - v).to({ dtype: x.dtype });
    let y = x;
    if (o.brightness) y = y.mul(factor(o.brightness));
    if (o.contrast) {
      const m = y.mean([1, 2, 3], true);
      y = y.sub(m).mul(factor(o.contrast)).add(m);
    }
    if (o.saturation) {
      const gray = y.mean(1, true);
      y = y.sub(gray).mul(factor(o.saturation)).add(gray);
    }
    return y;
  });
}

/** Applies the enabled augmentations to a batch, after checking `o`; returns a new tensor. Draws from `generator` if given. */
export function augmentBatch(x: Tensor, o: AugmentOptions, generator?: Generator): Tensor {
  handleOf('x', x);
  // Integer images would pass flips and shifts but fail in scale's grid sampling; a 3-d image, in a flip.
  if (x.rank !== 4 || !isFloating(x.dtype)) throw invalidAs('x', 'a floating-point batch of images [N, C, H, W]', `a ${x.dtype} tensor of shape [${x.shape.join(', ')}]`);
  const checked = checkAugment(o);
  const g = checkGenerator('generator', generator);
  return x.shape[0] === 0 ? x.clone() : applyAugmentation(x, checked, g);
}

/** augmentBatch for options checked once already (trainModel's config), so that a step does no checking. */
export function applyAugmentation(x: Tensor, o: AugmentOptions, generator?: Generator): Tensor {
  return tidy(() => {
    let y = x;
    if (o.flip) y = randomFlip(y, generator);
    if (o.translate) y = randomTranslate(y, o.translate, generator);
    if (o.scale) y = randomScale(y, o.scale, generator);
    if (o.colorJitter) y = colorJitter(y, o.colorJitter, generator);
    return y === x ? x.clone() : y;
  });
}
