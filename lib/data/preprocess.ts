/**
 * Preprocessing as in the paper, which follows Goodfellow et al. 2013
 * (Maxout networks, pylearn2's make_cifar10_gcn_whitened.py):
 *   1. global contrast normalisation per image: x <- 55 * (x - mean(x)) / ||x - mean(x)||
 *   2. ZCA whitening fitted on the training split only:
 *      W = V diag(1 / sqrt(lambda + eps)) V^T from the covariance of the
 *      GCN'd training images (eps = 0.1, pylearn2's filter_bias default).
 * Or, as a simpler option ('std'), per-channel mean/std from the training split.
 * Fitted statistics never see validation or test images.
 */
import * as crypto from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { noGrad } from '../autograd';
import { eigh, fromArray, ones, where } from '../creation';
import { loadSafetensors, saveSafetensors } from '../io/safetensors';
import { checkNumber, invalid } from '../check';
import { keep, tidy } from '../scope';
import type { Tensor } from '../tensor';

export const GCN_SCALE = 55;
export const ZCA_EPS = 0.1;
/** Below this norm an image is left unscaled (pylearn2's min_divisor). */
const GCN_MIN_DIVISOR = 1e-8;

/** [N, D], one row per image: D spelled out, as -1 cannot be inferred when N is 0 (an empty validation split). */
function rowsOf(x: Tensor): number[] {
  return [x.shape[0], x.shape.slice(1).reduce((a, b) => a * b, 1)];
}

/** GCN's scale: 0 or NaN would make every image Inf or NaN, silently. */
function checkScale(v: number): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw invalid('scale', 'a positive number', v);
  return v;
}
/** ZCA's epsilon: 0 is exact whitening, right for a full-rank covariance; below 0 or NaN gives NaN. */
const checkEps = (v: number): number => checkNumber('eps', v, 0, Number.MAX_VALUE);

/** Global contrast normalisation of images [N, ...] (each image is one row). */
export function globalContrastNormalize(x: Tensor, scale = GCN_SCALE): Tensor {
  checkScale(scale);
  return tidy(() => {
    const n = x.shape[0];
    const flat = x.reshape(rowsOf(x));
    const centred = flat.sub(flat.mean(1, true));
    const norm = centred.square().sum(1, true).sqrt().div(scale);
    const safe = where(norm.lt(GCN_MIN_DIVISOR), ones([n, 1], { device: x.device }), norm); // flat images stay as they are
    return centred.div(safe).reshape(x.shape);
  });
}

export interface Zca {
  /** Per-feature mean of the training images [D]. */
  mean: Tensor;
  /** The symmetric whitening matrix [D, D]. */
  matrix: Tensor;
}

/** Step 1 of ZCA: the mean and covariance of the training rows [N, D]. */
export function zcaCovariance(rows: Tensor): { mean: Tensor; covariance: Tensor } {
  return tidy(() => {
    // The big product in float32 (fast), the eigendecomposition in float64 (stable).
    const mean = rows.to({ dtype: 'float64' }).mean(0);
    const c = rows.sub(mean.to({ dtype: 'float32' }));
    const product = c.transpose(0, 1).matmul(c).to({ dtype: 'float64' });
    // c^T c is symmetric, but a BLAS kernel may sum its two triangles in different orders (Debian's
    // OpenBLAS 0.3.21 on an AVX-512 EPYC: 3.6e-7 apart in data.test's case), and eigh reads only one: average them.
    const covariance = product.add(product.transpose(0, 1)).div(2 * rows.shape[0]);
    return { mean, covariance };
  });
}

/** Step 2: W = V diag(1/sqrt(lambda + eps)) V^T. */
export function zcaMatrix(covariance: Tensor, eps = ZCA_EPS): Tensor {
  checkEps(eps);
  return tidy(() => {
    const { values, vectors } = eigh(covariance);
    const scale = values.clamp(0).add(eps).rsqrt();
    return vectors.mul(scale.unsqueeze(0)).matmul(vectors.transpose(0, 1));
  });
}

/** Fits ZCA on training images [N, C, H, W]. */
export function fitZca(train: Tensor, eps = ZCA_EPS): Zca {
  checkEps(eps); // before the covariance, not after it
  return tidy(() => {
    const { mean, covariance } = zcaCovariance(train.reshape(rowsOf(train)));
    return { mean: mean.to({ dtype: 'float32' }), matrix: zcaMatrix(covariance, eps).to({ dtype: 'float32' }) };
  });
}

/** Step 3: (x - mean) W. */
export function applyZca(x: Tensor, zca: Zca): Tensor {
  return tidy(() => {
    const flat = x.reshape(rowsOf(x));
    return flat.sub(zca.mean).matmul(zca.matrix).reshape(x.shape);
  });
}

/** Per-channel mean and std over training images [N, C, H, W]. */
export function channelStats(train: Tensor): { mean: Tensor; std: Tensor } {
  return tidy(() => ({ mean: train.mean([0, 2, 3], true), std: train.std([0, 2, 3], { keepdim: true }) }));
}

/** The folder where downloads and the ZCA cache live: $ALLCNN_DATA or ~/.cache/allcnn. */
export function cacheDir(): string {
  return process.env.ALLCNN_DATA || path.join(os.homedir(), '.cache', 'allcnn');
}

/**
 * The GCN'd training images, or their shape and a function that makes them:
 * with a ZCA cache hit they are never needed, and making them (uint8 to
 * float32, then GCN) is most of the seconds it takes to prepare CIFAR-10.
 */
export type TrainImages = Tensor | { shape: number[]; make: () => Tensor };

const trainTensor = (train: TrainImages): Tensor => ('make' in train ? train.make() : train);

/**
 * ZCA fitted on `train`, cached on disk under a key made from the training
 * pixels and the parameters, so a second run with the same data skips the
 * (minutes-long on CPU) fit.
 */
export function cachedZca(train: TrainImages, trainBytes: Uint8Array, o: { eps?: number; gcnScale?: number; cache?: string | false } = {}): Zca & { cached: boolean; saved: boolean } {
  const eps = o.eps ?? ZCA_EPS;
  // v: the fit's version, so that a change to it refits (2: the covariance's triangles averaged).
  const key = crypto.createHash('sha256').update(trainBytes).update(JSON.stringify({ v: 2, eps, gcn: o.gcnScale ?? GCN_SCALE, shape: train.shape })).digest('hex').slice(0, 24);
  const file = o.cache === false ? null : path.join(o.cache ?? path.join(cacheDir(), 'zca'), `zca-${key}.safetensors`);
  if (file && fs.existsSync(file)) {
    const device = 'make' in train ? 'cpu' : train.device; // made lazily: on the host
    const hit = readCachedZca(file, train.shape.slice(1).reduce((a, b) => a * b, 1), device);
    if (hit) return { ...hit, cached: true, saved: true };
    // Anything else is refitted and overwritten below.
  }
  const zca = noGrad(() => fitZca(trainTensor(train), eps));
  keep(zca.mean);
  keep(zca.matrix);
  let saved = false;
  if (file) {
    try {
      saveSafetensors(file, { mean: zca.mean, matrix: zca.matrix }, { eps: String(eps), key });
      saved = true;
    } catch (err) {
      // The cache only saves time: the run goes on, and says why the next one will fit again.
      // A full disk is no unwritable folder: room there, or a folder on another disk.
      const full = ['ENOSPC', 'EDQUOT'].includes((err as NodeJS.ErrnoException).code ?? '');
      const where = o.cache === undefined
        ? full ? 'free some space there, or set $ALLCNN_DATA to a folder on another disk,' : 'set $ALLCNN_DATA to a writable folder'
        : full ? 'free some space there, or pass a zcaCache folder on another disk,' : 'pass a writable zcaCache folder';
      process.emitWarning(`ZCA cache not written (${(err as Error).message}); ${where} to keep the fit for the next run`, 'AllcnnCacheWarning');
    }
  }
  return { ...zca, cached: false, saved };
}

/**
 * Resolves once the warnings emitted so far (a ZCA cache not written) have
 * reached their listeners. Node delivers them on a later tick: the data
 * loaders wait for it, so that the header a command prints next (the epoch
 * table's) comes below the warning, not around it.
 */
export const warningsDelivered = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A cache entry read back, or null where the file is not a whole fit of
 * `dim` features: damaged, or written by something else. It is checked, not
 * trusted: a wrong shape would fail every run far from its cause, and a NaN
 * would silently make every image NaN.
 */
function readCachedZca(file: string, dim: number, device: Tensor['device']): Zca | null {
  let tensors: Map<string, Tensor> | undefined;
  try {
    ({ tensors } = loadSafetensors(file));
    const fits = (t: Tensor | undefined, shape: number[]): t is Tensor =>
      t !== undefined && t.dtype === 'float32' && t.shape.join() === shape.join() && Number.isFinite(tidy(() => t.abs().max().item()));
    const mean = tensors.get('mean');
    const matrix = tensors.get('matrix');
    if (!fits(mean, [dim]) || !fits(matrix, [dim, dim])) return null;
    return { mean: keep(mean.to(device)), matrix: keep(matrix.to(device)) };
  } catch {
    return null;
  } finally {
    for (const t of tensors?.values() ?? []) t.dispose();
  }
}

/** A CIFAR image's [C, H, W]. */
export const IMAGE_SHAPE: [number, number, number] = [3, 32, 32];

/** uint8 images (N*C*H*W bytes) to a float32 tensor [N, C, H, W] with values 0..255. */
export function imagesToTensor(images: Uint8Array, count: number, shape: [number, number, number] = IMAGE_SHAPE): Tensor {
  return tidy(() => fromArray(images.subarray(0, count * shape[0] * shape[1] * shape[2]), [count, ...shape], 'uint8').to({ dtype: 'float32' }));
}

export interface Normalization {
  /** Maps float32 images (0..255, GCN'd for 'zca') to the network's input. */
  apply(x: Tensor): Tensor;
  /** Frees the fitted statistics. */
  release(): void;
  zcaCached?: boolean;
  /** Whether the ZCA fit is in the cache now (read from it, or written to it). */
  zcaSaved?: boolean;
}

/** Fits the chosen preprocessing on the training images only. */
export function fitNormalization(prep: 'zca' | 'std' | 'none', train: TrainImages, trainBytes: Uint8Array, cache?: string | false): Normalization {
  if (prep === 'zca') {
    const zca = cachedZca(train, trainBytes, { cache });
    return { apply: (x) => applyZca(x, zca), release: () => (zca.mean.dispose(), zca.matrix.dispose()), zcaCached: zca.cached, zcaSaved: zca.saved };
  }
  if (prep === 'std') {
    const s = channelStats(trainTensor(train));
    const mean = keep(s.mean);
    // A channel of one value (possible in data handed to prepareDataset) has std 0: divided by it, that channel would be NaN in every image.
    const std = keep(tidy(() => s.std.clamp(1e-6)));
    s.std.dispose();
    return { apply: (x) => tidy(() => x.sub(mean).div(std)), release: () => (mean.dispose(), std.dispose()) };
  }
  return { apply: (x) => x.div(255), release: () => undefined };
}
