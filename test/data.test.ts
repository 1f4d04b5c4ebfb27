/**
 * Data: the class-balanced train/validation split, global contrast
 * normalisation, ZCA whitening (its three steps and its cache), the prepared
 * data set on the bundled 600-image CIFAR-10 sample, and augmentation.
 * ALLCNN_DATA points at a fresh temporary folder, so the ZCA cache of the
 * user is never read or written.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cudaAvailable, ensureDefaultThreads, liveTensors } from '../lib/backend';
import { arange, eigh, fromArray, manualSeed, ones, rand, randn } from '../lib/creation';
import { BackendError, InvalidArgumentError } from '../lib/errors';
import { loadSafetensors, saveSafetensors } from '../lib/io/safetensors';
import {
  applyZca, cachedZca, cacheDir, channelStats, fitNormalization, fitZca, GCN_SCALE, globalContrastNormalize, imagesToTensor, ZCA_EPS,
  zcaCovariance, zcaMatrix,
} from '../lib/data/preprocess';
import {
  augmentBatch, checkAugment, colorJitter, PAPER_AUGMENTATION, randomFlip, randomScale, randomTranslate, RICH_AUGMENTATION,
} from '../lib/data/augment';
import { Cifar10, CIFAR_IMAGE_BYTES, readCifar10 } from '../lib/data/cifar';
import { BUNDLED_SAMPLE, Dataset, loadCifar10, prepareDataset } from '../lib/data/dataset';
import { splitTrainValidation } from '../lib/data/split';
import { mulberry32, shuffle } from '../lib/random';
import { dispose, tidy } from '../lib/scope';
import { Tensor } from '../lib/tensor';

let dataDir: string;
let savedDataEnv: string | undefined;
let raw: Cifar10;

beforeAll(async () => {
  ensureDefaultThreads();
  savedDataEnv = process.env.ALLCNN_DATA;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'allcnn-data-test-'));
  process.env.ALLCNN_DATA = dataDir;
  raw = await readCifar10(BUNDLED_SAMPLE);
});
afterAll(() => {
  if (savedDataEnv === undefined) delete process.env.ALLCNN_DATA;
  else process.env.ALLCNN_DATA = savedDataEnv;
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const maxAbs = (t: Tensor): number => tidy(() => t.abs().max().item());
const maxAbsDiff = (a: Tensor, b: Tensor): number => tidy(() => a.sub(b).abs().max().item());

function eye(n: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const a = dtype === 'float32' ? new Float32Array(n * n) : new Float64Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = 1;
  return fromArray(a, [n, n]);
}

/** Population covariance of rows [N, D] (float64). */
function covarianceOf(rows: Tensor): Tensor {
  return tidy(() => {
    const r = rows.to({ dtype: 'float64' });
    const c = r.sub(r.mean(0, true));
    return c.transpose(0, 1).matmul(c).div(r.shape[0]);
  });
}

// ---------------------------------------------------------------------------
describe('splitTrainValidation', () => {
  /** 50,000 labels, 5,000 of each of 10 classes, in a shuffled order. */
  const labels = (() => {
    const l = new Uint8Array(50000);
    for (let i = 0; i < l.length; i++) l[i] = i % 10;
    return shuffle(l, mulberry32(99));
  })();

  test('1,000 validation images: 100 per class; disjoint; together they cover every image', () => {
    const { train, validation } = splitTrainValidation(labels);
    expect(validation).toBeInstanceOf(Int32Array);
    expect(train.length).toBe(49000);
    expect(validation.length).toBe(1000);
    const perClass = new Array(10).fill(0);
    for (const i of validation) perClass[labels[i]]++;
    expect(perClass).toEqual(new Array(10).fill(100));
    const seen = new Uint8Array(labels.length);
    for (const i of train) seen[i]++;
    for (const i of validation) seen[i]++;
    expect(seen.every((v) => v === 1)).toBe(true);
    // training classes keep 4,900 each
    const trainPerClass = new Array(10).fill(0);
    for (const i of train) trainPerClass[labels[i]]++;
    expect(trainPerClass).toEqual(new Array(10).fill(4900));
  });

  test('deterministic per seed, different for another seed, shuffled', () => {
    const a = splitTrainValidation(labels, { seed: 1 });
    const b = splitTrainValidation(labels, { seed: 1 });
    const c = splitTrainValidation(labels, { seed: 2 });
    expect(Array.from(a.validation)).toEqual(Array.from(b.validation));
    expect(Array.from(a.train)).toEqual(Array.from(b.train));
    expect(Array.from(a.validation)).not.toEqual(Array.from(c.validation));
    const inA = new Set(a.validation);
    const overlap = Array.from(c.validation).filter((i) => inA.has(i)).length;
    expect(overlap).toBeLessThan(200); // about 1000 * 1000/50000 = 20 expected by chance
    // the default seed is 0
    expect(Array.from(splitTrainValidation(labels).validation)).toEqual(Array.from(splitTrainValidation(labels, { seed: 0 }).validation));
    // the training order is shuffled, not sorted
    const sorted = Array.from(a.train).sort((x, y) => x - y);
    expect(Array.from(a.train)).not.toEqual(sorted);
  });

  test('classes smaller than their share: the others make up the shortfall, so exactly the count asked for is held out', () => {
    // 3 images of class 0, 20 of class 1, 20 of class 2; 30 asked for: 10 each would take all of class 0's and hold out only 23.
    const uneven = Uint8Array.from([...Array(3).fill(0), ...Array(20).fill(1), ...Array(20).fill(2)]);
    const { train, validation } = splitTrainValidation(uneven, { validation: 30, classes: 3 });
    expect(validation.length).toBe(30);
    expect(train.length).toBe(13);
    const held = [0, 1, 2].map((c) => Array.from(validation).filter((i) => uneven[i] === c).length);
    expect(held).toEqual([3, 14, 13]);
    expect(new Set([...train, ...validation]).size).toBe(43);
  });

  test('a remainder goes to the first classes; other sizes and class counts', () => {
    const { validation } = splitTrainValidation(labels, { validation: 1005 });
    const perClass = new Array(10).fill(0);
    for (const i of validation) perClass[labels[i]]++;
    expect(perClass).toEqual([101, 101, 101, 101, 101, 100, 100, 100, 100, 100]);
    const none = splitTrainValidation(labels, { validation: 0 });
    expect(none.validation.length).toBe(0);
    expect(none.train.length).toBe(50000);
    const small = splitTrainValidation(Uint8Array.from([0, 1, 2, 0, 1, 2]), { validation: 3 });
    expect(Array.from(small.validation).map((i) => [0, 1, 2, 0, 1, 2][i]).sort()).toEqual([0, 1, 2]);
  });

  test('bad arguments are refused', () => {
    expect(() => splitTrainValidation(labels, { validation: 50001 })).toThrow(InvalidArgumentError);
    expect(() => splitTrainValidation(labels, { seed: -1 })).toThrow(InvalidArgumentError);
    expect(() => splitTrainValidation(labels, { seed: 2 ** 32 })).toThrow('Expected an integer in [0, 4294967295] for seed'); // was seed 0's split again
    expect(() => splitTrainValidation(Uint8Array.from([0, 5]), { classes: 3 })).toThrow(InvalidArgumentError);
  });
});

// ---------------------------------------------------------------------------
describe('globalContrastNormalize', () => {
  test('each image gets mean 0 and L2 norm 55; shape and dtype kept', () => {
    tidy(() => {
      manualSeed(0);
      const x = rand([6, 3, 8, 8]).mul(255);
      const g = globalContrastNormalize(x);
      expect(g.shape).toEqual([6, 3, 8, 8]);
      expect(g.dtype).toBe('float32');
      const rows = g.reshape([6, -1]).to({ dtype: 'float64' });
      for (const m of rows.mean(1).toArray()) expect(Math.abs(m)).toBeLessThan(1e-5);
      for (const n of rows.square().sum(1).sqrt().toArray()) expect(n).toBeCloseTo(GCN_SCALE, 3);
      expect(GCN_SCALE).toBe(55);
      // a contrast-scaled and shifted copy of an image normalises to the same result
      const g2 = globalContrastNormalize(x.mul(0.25).add(10));
      expect(maxAbsDiff(g, g2)).toBeLessThan(1e-3);
      // another scale
      const s = globalContrastNormalize(x, 1).reshape([6, -1]);
      for (const n of s.square().sum(1).sqrt().toArray()) expect(n).toBeCloseTo(1, 5);
    });
  });

  test('a flat image stays flat (centred to 0, no division by 0)', () => {
    tidy(() => {
      const x = ones([2, 3, 4, 4]).mul(128);
      const g = globalContrastNormalize(x);
      expect(g.isnan().sum().item()).toBe(0);
      expect(maxAbs(g)).toBe(0);
    });
  });

  test('a scale or epsilon that would make every image Inf or NaN is refused; std prep survives a constant channel', () => {
    tidy(() => {
      const x = ones([4, 3, 2, 2]);
      for (const bad of [0, -1, NaN, Infinity]) expect(() => globalContrastNormalize(x, bad)).toThrow(`Expected a positive number for scale but received ${bad}`);
      for (const bad of [-1, NaN, Infinity]) expect(() => fitZca(x, bad)).toThrow(`for eps but received ${bad}`);
      // 'std' on channels of one value (std 0): centred to 0, not 0 / 0.
      const std = fitNormalization('std', x, new Uint8Array(0));
      expect(maxAbs(std.apply(x))).toBe(0);
      std.release();
    });
  });

  test('on the bundled sample, from uint8 pixels', () => {
    tidy(() => {
      const x = imagesToTensor(raw.train.images, 20);
      expect(x.shape).toEqual([20, 3, 32, 32]);
      expect(x.dtype).toBe('float32');
      expect(x.max().item()).toBeLessThanOrEqual(255);
      expect(x.reshape([-1]).narrow(0, 0, 5).toArray()).toEqual(Array.from(raw.train.images.subarray(0, 5)));
      const rows = globalContrastNormalize(x).reshape([20, -1]);
      for (const n of rows.square().sum(1).sqrt().toArray()) expect(n).toBeCloseTo(55, 2);
    });
  });
});

// ---------------------------------------------------------------------------
describe('ZCA whitening', () => {
  const N = 4000;
  const D = 48;
  /** Correlated gaussian samples [N, 3, 4, 4]: noise times a random (well-conditioned) mixing matrix, plus an offset. */
  function correlated(seed: number, n = N): Tensor {
    return tidy(() => {
      manualSeed(seed);
      // I + small noise (well conditioned), then each output dimension scaled by 0.3 .. 3
      const scales = arange(0, D).mul(2.7 / (D - 1)).add(0.3).reshape([1, D]);
      const mix = randn([D, D]).mul(0.1).add(eye(D)).mul(scales);
      const offset = randn([1, D]).mul(3);
      return randn([n, D]).matmul(mix).add(offset).reshape([n, 3, 4, 4]);
    });
  }

  test('the whitened sample has (nearly) identity covariance and zero mean', () => {
    tidy(() => {
      const both = correlated(1, 2 * N);
      const x = both.narrow(0, 0, N);
      const heldOut = both.narrow(0, N, N);
      const rows = x.reshape([N, D]);
      // the raw sample is strongly correlated and not centred
      const before = covarianceOf(rows);
      expect(maxAbsDiff(before, eye(D, 'float64'))).toBeGreaterThan(0.5);
      expect(tidy(() => eigh(before).values.min().item())).toBeGreaterThan(1e-3); // so eps 1e-5 hardly matters
      const zca = fitZca(x, 1e-5);
      expect(zca.mean.shape).toEqual([D]);
      expect(zca.matrix.shape).toEqual([D, D]);
      expect(zca.mean.dtype).toBe('float32');
      expect(zca.matrix.dtype).toBe('float32');
      const y = applyZca(x, zca);
      expect(y.shape).toEqual([N, 3, 4, 4]);
      const yRows = y.reshape([N, D]);
      expect(maxAbs(yRows.mean(0))).toBeLessThan(1e-3);
      expect(maxAbsDiff(covarianceOf(yRows), eye(D, 'float64'))).toBeLessThan(0.01);
      // ZCA's matrix is the symmetric one
      expect(maxAbsDiff(zca.matrix, zca.matrix.transpose(0, 1))).toBeLessThan(1e-5);
      // applied to other samples from the same distribution it whitens them too (roughly)
      const other = applyZca(heldOut, zca).reshape([N, D]);
      expect(maxAbsDiff(covarianceOf(other), eye(D, 'float64'))).toBeLessThan(0.2);
    });
  });

  test('eps shrinks the small directions: covariance after whitening is I - eps W^2', () => {
    tidy(() => {
      const x = correlated(3);
      const eps = 2;
      const zca = fitZca(x, eps);
      const white = covarianceOf(applyZca(x, zca).reshape([N, D]));
      const w = zca.matrix.to({ dtype: 'float64' });
      const expected = eye(D, 'float64').sub(w.matmul(w).mul(eps));
      expect(maxAbsDiff(white, expected)).toBeLessThan(1e-3);
    });
  });

  test('step 1, zcaCovariance: mean and population covariance in float64', () => {
    tidy(() => {
      const rows = correlated(4).reshape([N, D]);
      const { mean, covariance } = zcaCovariance(rows);
      expect(mean.dtype).toBe('float64');
      expect(covariance.dtype).toBe('float64');
      expect(mean.shape).toEqual([D]);
      expect(covariance.shape).toEqual([D, D]);
      expect(maxAbsDiff(mean, rows.to({ dtype: 'float64' }).mean(0))).toBeLessThan(1e-9);
      const expected = covarianceOf(rows);
      expect(maxAbsDiff(covariance, expected) / maxAbs(expected)).toBeLessThan(1e-5);
      expect(maxAbsDiff(covariance, covariance.transpose(0, 1))).toBeLessThan(1e-9);
    });
  });

  test('step 2, zcaMatrix: W = (C + eps I)^(-1/2), symmetric positive definite', () => {
    tidy(() => {
      const { covariance } = zcaCovariance(correlated(5).reshape([N, D]));
      for (const eps of [1e-5, ZCA_EPS, 1]) {
        const w = zcaMatrix(covariance, eps);
        expect(w.dtype).toBe('float64');
        expect(maxAbsDiff(w, w.transpose(0, 1))).toBeLessThan(1e-9);
        const regularised = covariance.add(eye(D, 'float64').mul(eps));
        expect(maxAbsDiff(w.matmul(regularised).matmul(w), eye(D, 'float64'))).toBeLessThan(1e-8);
        expect(eigh(w).values.min().item()).toBeGreaterThan(0);
      }
      expect(ZCA_EPS).toBe(0.1);
      // a tiny hand-made case: diag(4, 0.25) with eps 0 -> diag(1/2, 2)
      const w = zcaMatrix(fromArray(new Float64Array([4, 0, 0, 0.25]), [2, 2]), 0);
      const v = w.toArray();
      expect(v[0]).toBeCloseTo(0.5, 10);
      expect(v[3]).toBeCloseTo(2, 10);
      expect(Math.abs(v[1])).toBeLessThan(1e-12);
    });
  });

  test('cachedZca writes a cache file; a second call returns cached:true with identical matrices', () => {
    const base = liveTensors();
    const cache = path.join(dataDir, 'zca-explicit');
    const x = correlated(6);
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const first = cachedZca(x, bytes, { cache, eps: 1e-3 });
    expect(first.cached).toBe(false);
    const files = fs.readdirSync(cache);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^zca-[0-9a-f]{24}\.safetensors$/);
    const second = cachedZca(x, bytes, { cache, eps: 1e-3 });
    expect(second.cached).toBe(true);
    expect(maxAbsDiff(first.matrix, second.matrix)).toBe(0);
    expect(maxAbsDiff(first.mean, second.mean)).toBe(0);
    // the file holds the mean and the matrix, with eps in the metadata
    const stored = loadSafetensors(path.join(cache, files[0]));
    expect([...stored.tensors.keys()].sort()).toEqual(['matrix', 'mean']);
    expect(stored.metadata.eps).toBe('0.001');
    dispose([...stored.tensors.values()]);
    // other bytes or another eps: another key
    const third = cachedZca(x, new Uint8Array([9]), { cache, eps: 1e-3 });
    const fourth = cachedZca(x, bytes, { cache, eps: 1e-2 });
    expect(third.cached).toBe(false);
    expect(fourth.cached).toBe(false);
    expect(fs.readdirSync(cache)).toHaveLength(3);
    // no temporary files left behind
    expect(fs.readdirSync(cache).every((f) => f.endsWith('.safetensors'))).toBe(true);
    dispose([first.mean, first.matrix, second.mean, second.matrix, third.mean, third.matrix, fourth.mean, fourth.matrix]);
    x.dispose();
    expect(liveTensors()).toBe(base);
  });

  test('cachedZca: a cache folder that cannot be made costs the cache, not the fit, and says so', () => {
    const file = path.join(dataDir, 'not-a-folder');
    fs.writeFileSync(file, '');
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const x = correlated(8);
      const zca = cachedZca(x, new Uint8Array([8]), { cache: path.join(file, 'zca'), eps: 1e-3 });
      const fresh = fitZca(x, 1e-3);
      expect(zca.cached).toBe(false);
      expect(maxAbsDiff(zca.matrix, fresh.matrix)).toBe(0);
      dispose([x, zca.mean, zca.matrix, fresh.mean, fresh.matrix]);
      expect(warn.mock.calls).toEqual([[
        `ZCA cache not written (cannot make the folder ${path.join(file, 'zca')}: ${file} is a file, not a folder); pass a writable zcaCache folder to keep the fit for the next run`, 'AllcnnCacheWarning',
      ]]);
    } finally {
      warn.mockRestore();
    }
  });

  test('cachedZca: a full disk costs the cache, not the fit, and the warning says to make room, not to find a writable folder', () => {
    const cache = path.join(dataDir, 'full');
    const nodeFs = require('node:fs') as typeof fs;
    const realRename = nodeFs.renameSync;
    const rename = jest.spyOn(nodeFs, 'renameSync').mockImplementation((from: fs.PathLike, to: fs.PathLike) => {
      if (!String(to).startsWith(cache)) return realRename(from, to);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const x = correlated(8);
      const zca = cachedZca(x, new Uint8Array([9]), { cache, eps: 1e-3 });
      expect([zca.cached, zca.saved]).toEqual([false, false]);
      dispose([x, zca.mean, zca.matrix]);
      expect(warn.mock.calls).toEqual([[expect.stringMatching(/^ZCA cache not written \(.*\.safetensors: cannot write \(the disk is full\)\); free some space there, or pass a zcaCache folder on another disk, to keep the fit for the next run$/), 'AllcnnCacheWarning']]);
      expect(fs.readdirSync(cache)).toEqual([]); // no temporary file left
    } finally {
      rename.mockRestore();
      warn.mockRestore();
    }
  });

  test('cachedZca: cache false writes nothing; the default folder is $ALLCNN_DATA/zca; a corrupt entry is refitted', () => {
    expect(cacheDir()).toBe(dataDir);
    const x = correlated(7);
    const bytes = new Uint8Array([7, 7, 7]);
    const before = fs.readdirSync(dataDir).slice().sort();
    const none = cachedZca(x, bytes, { cache: false, eps: 1e-3 });
    expect(none.cached).toBe(false);
    expect(fs.readdirSync(dataDir).sort()).toEqual(before);

    const a = cachedZca(x, bytes, { eps: 1e-3 });
    const folder = path.join(dataDir, 'zca');
    const files = fs.readdirSync(folder);
    expect(files).toHaveLength(1);
    fs.writeFileSync(path.join(folder, files[0]), 'garbage');
    const b = cachedZca(x, bytes, { eps: 1e-3 });
    expect(b.cached).toBe(false);
    expect(maxAbsDiff(a.matrix, b.matrix)).toBeLessThan(1e-6);
    const c = cachedZca(x, bytes, { eps: 1e-3 });
    expect(c.cached).toBe(true);
    fs.rmSync(folder, { recursive: true, force: true });
    dispose([x, none.mean, none.matrix, a.mean, a.matrix, b.mean, b.matrix, c.mean, c.matrix]);
  });

  test('cachedZca: a well-formed entry of the wrong shape, dtype or values is refitted, not trusted', () => {
    const base = liveTensors();
    const cache = path.join(dataDir, 'zca-wrong');
    const x = correlated(11);
    const bytes = new Uint8Array([11]);
    const first = cachedZca(x, bytes, { cache, eps: 1e-3 });
    const [file] = fs.readdirSync(cache).map((f) => path.join(cache, f));
    const d = first.mean.shape[0];
    const nan = fromArray(new Float32Array(d).fill(NaN), [d]);
    const entries: Array<Record<string, Tensor>> = [
      { mean: fromArray(new Float32Array(10), [10]), matrix: fromArray(new Float32Array(100), [10, 10]) }, // another fit's shape: failed every run
      { mean: first.mean.to({ dtype: 'float64' }), matrix: first.matrix },
      { mean: nan, matrix: first.matrix }, // made every image NaN, silently
      { matrix: first.matrix }, // no mean: the matrix was left alive
    ];
    for (const entry of entries) {
      saveSafetensors(file, entry);
      const again = cachedZca(x, bytes, { cache, eps: 1e-3 });
      expect(again.cached).toBe(false);
      expect(maxAbsDiff(again.matrix, first.matrix)).toBe(0);
      const hit = cachedZca(x, bytes, { cache, eps: 1e-3 });
      expect(hit.cached).toBe(true); // rewritten whole
      dispose([again.mean, again.matrix, hit.mean, hit.matrix]);
    }
    fs.rmSync(cache, { recursive: true, force: true });
    dispose([x, first.mean, first.matrix, nan, entries[0].mean, entries[0].matrix, entries[1].mean]);
    expect(liveTensors()).toBe(base);
  });

  test('cachedZca makes lazily given training images only when the cache does not have the fit', () => {
    const base = liveTensors();
    const cache = path.join(dataDir, 'zca-lazy');
    const x = correlated(9);
    const bytes = new Uint8Array([5, 6]);
    const make = jest.fn(() => x);
    const fitted = cachedZca({ shape: x.shape, make }, bytes, { cache, eps: 1e-3 });
    expect([fitted.cached, make.mock.calls.length]).toEqual([false, 1]);
    // The key is the same as for the tensor itself: a hit, without making the images.
    const hit = cachedZca({ shape: x.shape, make }, bytes, { cache, eps: 1e-3 });
    const fromTensor = cachedZca(x, bytes, { cache, eps: 1e-3 });
    expect([hit.cached, fromTensor.cached, make.mock.calls.length]).toEqual([true, true, 1]);
    expect(maxAbsDiff(fitted.matrix, hit.matrix)).toBe(0);
    dispose([x, fitted.mean, fitted.matrix, hit.mean, hit.matrix, fromTensor.mean, fromTensor.matrix]);
    expect(liveTensors()).toBe(base);
  });

  test('fitNormalization: std and none', () => {
    tidy(() => {
      manualSeed(8);
      const train = rand([50, 3, 8, 8]).mul(255);
      const std = fitNormalization('std', train, new Uint8Array(0), false);
      const y = std.apply(train);
      expect(maxAbs(y.mean([0, 2, 3]))).toBeLessThan(1e-4);
      for (const s of y.std([0, 2, 3]).toArray()) expect(s).toBeCloseTo(1, 4);
      const stats = channelStats(train);
      expect(stats.mean.shape).toEqual([1, 3, 1, 1]);
      std.release();
      const none = fitNormalization('none', train, new Uint8Array(0), false);
      expect(maxAbsDiff(none.apply(train), train.div(255))).toBe(0);
      none.release();
    });
  });
});

// ---------------------------------------------------------------------------
describe('prepareDataset / loadCifar10 on the bundled sample', () => {
  let zca: Dataset;
  let none: Dataset;
  let std: Dataset;
  beforeAll(async () => {
    zca = await loadCifar10(undefined, { prep: 'zca' });
    none = await loadCifar10(undefined, { prep: 'none' });
    std = prepareDataset(raw, { prep: 'std' });
  }, 120000);
  afterAll(() => {
    zca?.dispose();
    none?.dispose();
    std?.dispose();
  });

  test('counts, shapes and dtypes for every prep', () => {
    expect(raw.train.count).toBe(500);
    expect(raw.test.count).toBe(100);
    for (const [d, prep] of [[zca, 'zca'], [none, 'none'], [std, 'std']] as const) {
      expect(d.prep).toBe(prep);
      expect(d.classes).toBe(10);
      expect(d.classNames).toHaveLength(10);
      expect(d.device).toBe('cpu');
      expect(d.train.count + d.validation.count).toBe(500);
      expect(d.validation.count).toBe(50); // a tenth for sets under 10,000
      expect(d.test.count).toBe(100);
      for (const s of [d.train, d.validation, d.test]) {
        expect(s.x.shape).toEqual([s.count, 3, 32, 32]);
        expect(s.x.dtype).toBe('float32');
        expect(s.y.shape).toEqual([s.count]);
        expect(s.y.dtype).toBe('int64');
        const labels = s.y.toArray();
        expect(labels.every((l) => Number.isInteger(l) && l >= 0 && l < 10)).toBe(true);
      }
    }
    expect(zca.zcaCached).toBe(false);
    expect(zca.source).toBe(BUNDLED_SAMPLE);
    // the class-balanced validation split: 5 per class
    const perClass = new Array(10).fill(0);
    for (const l of zca.validation.y.toArray()) perClass[l]++;
    expect(perClass).toEqual(new Array(10).fill(5));
  });

  test("'none': pixels / 255 of the split's images, with their own labels", () => {
    const split = splitTrainValidation(raw.train.labels, { validation: 50, seed: 0, classes: 10 });
    const x = none.train.x;
    expect(tidy(() => x.min().item())).toBeGreaterThanOrEqual(0);
    expect(tidy(() => x.max().item())).toBeLessThanOrEqual(1);
    const labels = none.train.y.toArray();
    for (const i of [0, 1, 17, 449]) {
      const src = split.train[i];
      const expected = Array.from(raw.train.images.subarray(src * CIFAR_IMAGE_BYTES, (src + 1) * CIFAR_IMAGE_BYTES), (v) => v / 255);
      const got = tidy(() => x.narrow(0, i, 1).reshape([-1]).toArray());
      expect(Math.max(...got.map((g, k) => Math.abs(g - expected[k])))).toBeLessThan(1e-6);
      expect(labels[i]).toBe(raw.train.labels[src]);
    }
    const vLabels = none.validation.y.toArray();
    expect(vLabels).toEqual(Array.from(split.validation, (i) => raw.train.labels[i]));
    expect(none.test.y.toArray()).toEqual(Array.from(raw.test.labels));
    // test images in file order
    const t0 = tidy(() => none.test.x.narrow(0, 3, 1).reshape([-1]).mul(255).round().toArray());
    expect(t0).toEqual(Array.from(raw.test.images.subarray(3 * CIFAR_IMAGE_BYTES, 4 * CIFAR_IMAGE_BYTES)));
  });

  test("'std': per-channel mean 0 and std 1 on the training split (not on the others)", () => {
    tidy(() => {
      const x = std.train.x;
      expect(maxAbs(x.mean([0, 2, 3]))).toBeLessThan(1e-4);
      for (const s of x.std([0, 2, 3]).toArray()) expect(s).toBeCloseTo(1, 4);
      // validation and test use the training statistics: they come out near, not exactly at, 0 and 1
      const vm = std.validation.x.mean([0, 2, 3]).toArray();
      expect(vm.some((m) => Math.abs(m) > 1e-3)).toBe(true);
      expect(vm.every((m) => Math.abs(m) < 0.5)).toBe(true);
      // and match (none * 255 - mean) / std with the train statistics
      const stats = channelStats(none.train.x.mul(255));
      const expected = none.test.x.mul(255).sub(stats.mean).div(stats.std);
      expect(maxAbsDiff(std.test.x, expected)).toBeLessThan(1e-3);
    });
  });

  test('validation and test images are never used for the statistics', () => {
    const alteredTest = { ...raw, test: { ...raw.test, images: raw.test.images.map((v) => 255 - v) } };
    const split = splitTrainValidation(raw.train.labels, { validation: 50, seed: 0, classes: 10 });
    const trainImages = raw.train.images.slice();
    for (const i of split.validation) trainImages.fill(0, i * CIFAR_IMAGE_BYTES, (i + 1) * CIFAR_IMAGE_BYTES);
    const alteredValidation = { ...raw, train: { ...raw.train, images: trainImages } };
    for (const altered of [alteredTest, alteredValidation]) {
      const d = prepareDataset(altered, { prep: 'std' });
      try {
        expect(maxAbsDiff(d.train.x, std.train.x)).toBe(0);
      } finally {
        d.dispose();
      }
    }
    // the altered splits do change
    const d = prepareDataset(alteredTest, { prep: 'std' });
    try {
      expect(maxAbsDiff(d.test.x, std.test.x)).toBeGreaterThan(0.1);
    } finally {
      d.dispose();
    }
  });

  test("'zca': GCN then ZCA fitted on the training split alone (covariance I - eps W^2, mean 0)", () => {
    const folder = path.join(dataDir, 'zca');
    const files = fs.readdirSync(folder);
    expect(files).toHaveLength(1);
    const stored = loadSafetensors(path.join(folder, files[0]));
    expect(stored.metadata.eps).toBe(String(ZCA_EPS));
    try {
      tidy(() => {
        const mean = stored.tensors.get('mean')!;
        const w = stored.tensors.get('matrix')!;
        expect(w.shape).toEqual([3072, 3072]);
        const n = zca.train.count;
        // the ZCA mean is the mean of the GCN'd training images only
        const gcnTrain = globalContrastNormalize(none.train.x.mul(255)).reshape([n, 3072]);
        expect(maxAbsDiff(mean, gcnTrain.mean(0))).toBeLessThan(1e-4);
        // the prepared images are (GCN(x) - mean) W
        const rows = zca.train.x.reshape([n, 3072]);
        expect(maxAbsDiff(rows, gcnTrain.sub(mean).matmul(w))).toBeLessThan(2e-3);
        expect(maxAbs(rows.mean(0))).toBeLessThan(1e-3);
        // covariance of the whitened training images: I - eps W^2 (checked on 64 columns)
        const cols = arange(0, 3072, 48, { dtype: 'int64' });
        const cov = rows.transpose(0, 1).matmul(rows.indexSelect(1, cols)).div(n);
        const expected = eye(3072).indexSelect(1, cols).sub(w.matmul(w.indexSelect(1, cols)).mul(ZCA_EPS));
        expect(maxAbsDiff(cov, expected)).toBeLessThan(2e-3);
        // the test split goes through the same transform
        const gcnTest = globalContrastNormalize(none.test.x.mul(255)).reshape([100, 3072]);
        expect(maxAbsDiff(zca.test.x.reshape([100, 3072]), gcnTest.sub(mean).matmul(w))).toBeLessThan(2e-3);
      });
    } finally {
      dispose([...stored.tensors.values()]);
    }
  });

  test('a second load uses the ZCA cache and gives the same tensors; changed test images still hit it', async () => {
    const again = await loadCifar10(undefined, { prep: 'zca' });
    try {
      expect(again.zcaCached).toBe(true);
      expect(maxAbsDiff(again.train.x, zca.train.x)).toBe(0);
      expect(maxAbsDiff(again.test.x, zca.test.x)).toBe(0);
    } finally {
      again.dispose();
    }
    const alteredTest = { ...raw, test: { ...raw.test, images: raw.test.images.map((v) => 255 - v) } };
    const altered = prepareDataset(alteredTest, { prep: 'zca' });
    try {
      expect(altered.zcaCached).toBe(true);
      expect(maxAbsDiff(altered.train.x, zca.train.x)).toBe(0);
      expect(maxAbsDiff(altered.validation.x, zca.validation.x)).toBe(0);
    } finally {
      altered.dispose();
    }
  });

  test('limit, testLimit, validation and seed', async () => {
    const base = liveTensors();
    const d = prepareDataset(raw, { prep: 'none', limit: 100, testLimit: 20 });
    try {
      expect(d.train.count).toBe(100);
      expect(d.train.x.shape).toEqual([100, 3, 32, 32]);
      expect(d.train.y.shape).toEqual([100]);
      expect(d.validation.count).toBe(50);
      expect(d.test.count).toBe(20);
      expect(d.test.x.shape).toEqual([20, 3, 32, 32]);
      // the first images of the full split
      expect(tidy(() => maxAbsDiff(d.train.x, none.train.x.narrow(0, 0, 100)))).toBe(0);
      expect(tidy(() => maxAbsDiff(d.test.x, none.test.x.narrow(0, 0, 20)))).toBe(0);
    } finally {
      d.dispose();
    }
    const big = prepareDataset(raw, { prep: 'none', limit: 10000, testLimit: 10000, validation: 100 });
    try {
      expect(big.train.count).toBe(400);
      expect(big.validation.count).toBe(100);
      expect(big.test.count).toBe(100);
    } finally {
      big.dispose();
    }
    const other = prepareDataset(raw, { prep: 'none', seed: 1 });
    try {
      expect(other.validation.y.toArray()).not.toEqual(none.validation.y.toArray());
    } finally {
      other.dispose();
    }
    expect(() => prepareDataset(raw, { prep: 'pca' as never })).toThrow(InvalidArgumentError);
    expect(() => prepareDataset(raw, { limit: 0 })).toThrow(InvalidArgumentError);
    expect(() => prepareDataset(raw, { testLimit: 0 })).toThrow(InvalidArgumentError);
    expect(() => prepareDataset(raw, { validation: 500 })).toThrow(InvalidArgumentError);
    // A misspelt key used to be ignored: { prp: 'std' } meant GCN + ZCA.
    expect(() => prepareDataset(raw, { prp: 'std' } as never)).toThrow('Expected one of validation, limit, testLimit, prep, seed, device, zcaCache, digest for options key but received "prp"');
    await expect(loadCifar10(undefined, { prp: 'std' } as never)).rejects.toThrow('for options key but received "prp"');
    // zcaCache '' wrote the fit into the working folder; a number failed after the split.
    for (const zcaCache of ['', 123, true]) {
      expect(() => prepareDataset(raw, { zcaCache } as never)).toThrow('Expected a folder for the ZCA cache, or false for none for zcaCache');
      await expect(loadCifar10(undefined, { zcaCache } as never)).rejects.toThrow('for zcaCache');
    }
    if (!cudaAvailable()) {
      // Refused before the split is made, not in its move to the device with the images left to the GC.
      expect(() => prepareDataset(raw, { prep: 'none', device: 'cuda:0' })).toThrow(BackendError);
    }
    expect(liveTensors()).toBe(base);
  });

  test('a recipe\'s null data is the bundled sample, as it says', async () => {
    const set = await loadCifar10(null, { prep: 'none', limit: 8, testLimit: 8 });
    try {
      expect(set.recipe).toMatchObject({ dataset: 'cifar10', data: null, limit: 8, testLimit: 8 });
      expect(set.source).toBe(BUNDLED_SAMPLE);
    } finally {
      set.dispose();
    }
  });
});

// ---------------------------------------------------------------------------
describe('augmentation', () => {
  /** n images [n, 3, 32, 32]: channel 0 one bright pixel at (16, 16), channel 1 ones, channel 2 the values 1..1024. */
  function probes(n: number): Tensor {
    return tidy(() => {
      const data = new Float32Array(3 * 1024);
      data[16 * 32 + 16] = 1;
      for (let i = 0; i < 1024; i++) {
        data[1024 + i] = 1;
        data[2048 + i] = i + 1;
      }
      return fromArray(data, [1, 3, 32, 32]).expand([n, 3, 32, 32]).contiguous();
    });
  }

  test('randomFlip: each image is itself or its exact mirror; both happen; shape kept', () => {
    tidy(() => {
      manualSeed(0);
      const n = 64;
      const x = randn([n, 3, 32, 32]);
      const y = randomFlip(x);
      expect(y.shape).toEqual([n, 3, 32, 32]);
      const mirror = x.flip(3);
      let flipped = 0;
      for (let i = 0; i < n; i++) {
        const yi = y.narrow(0, i, 1);
        const same = maxAbsDiff(yi, x.narrow(0, i, 1)) === 0;
        const mirrored = maxAbsDiff(yi, mirror.narrow(0, i, 1)) === 0;
        expect(same || mirrored).toBe(true);
        if (mirrored) flipped++;
      }
      expect(flipped).toBeGreaterThan(10);
      expect(flipped).toBeLessThan(54);
      // the input is untouched
      const copy = x.clone();
      randomFlip(x);
      expect(maxAbsDiff(x, copy)).toBe(0);
    });
  });

  test('randomTranslate: content moves by at most t, whole images shift together, zeros fill in', () => {
    const t = 5;
    const n = 48;
    tidy(() => {
      manualSeed(1);
      const x = probes(n);
      const y = randomTranslate(x, t);
      expect(y.shape).toEqual([n, 3, 32, 32]);
      const data = y.toArray();
      const shifts = new Set<string>();
      for (let b = 0; b < n; b++) {
        const img = data.slice(b * 3072, (b + 1) * 3072);
        // channel 0: the single bright pixel, moved by at most t
        const hits = [];
        for (let k = 0; k < 1024; k++) if (img[k] !== 0) hits.push(k);
        expect(hits).toHaveLength(1);
        expect(img[hits[0]]).toBe(1);
        const sr = Math.floor(hits[0] / 32) - 16;
        const sc = (hits[0] % 32) - 16;
        expect(Math.abs(sr)).toBeLessThanOrEqual(t);
        expect(Math.abs(sc)).toBeLessThanOrEqual(t);
        shifts.add(`${sr},${sc}`);
        // channels 1 and 2: the same shift, with zero padding where the content left
        for (let i = 0; i < 32; i++) {
          for (let j = 0; j < 32; j++) {
            const si = i - sr;
            const sj = j - sc;
            const inside = si >= 0 && si < 32 && sj >= 0 && sj < 32;
            expect(img[1024 + i * 32 + j]).toBe(inside ? 1 : 0);
            expect(img[2048 + i * 32 + j]).toBe(inside ? si * 32 + sj + 1 : 0);
          }
        }
      }
      // many different shifts, in both directions
      expect(shifts.size).toBeGreaterThan(20);
      const rows = [...shifts].map((s) => Number(s.split(',')[0]));
      expect(Math.min(...rows)).toBeLessThan(0);
      expect(Math.max(...rows)).toBeGreaterThan(0);
      // t = 0 copies
      const same = randomTranslate(x, 0);
      expect(same).not.toBe(x);
      expect(maxAbsDiff(same, x)).toBe(0);
    });
  });

  test('randomScale: [1, 1] is the identity; zooming out pads with zeros', () => {
    tidy(() => {
      manualSeed(2);
      const x = randn([4, 3, 32, 32]);
      const same = randomScale(x, [1, 1]);
      expect(same.shape).toEqual([4, 3, 32, 32]);
      expect(maxAbsDiff(same, x)).toBeLessThan(1e-5);
      const out = randomScale(ones([2, 3, 32, 32]), [0.5, 0.5]).toArray();
      // corners are zero (outside the shrunken image), the centre is one
      expect(out[0]).toBe(0);
      expect(out[31]).toBe(0);
      expect(out[16 * 32 + 16]).toBeCloseTo(1, 6);
      const zoomIn = randomScale(x, [1.2, 1.2]);
      expect(zoomIn.shape).toEqual([4, 3, 32, 32]);
      expect(maxAbsDiff(zoomIn, x)).toBeGreaterThan(0.1);
    });
  });

  test('colorJitter: brightness scales each image by one factor in [1-v, 1+v]; contrast keeps the image mean; saturation keeps grey', () => {
    tidy(() => {
      manualSeed(3);
      const x = rand([16, 3, 8, 8]).add(0.5);
      const b = colorJitter(x, { brightness: 0.2 });
      expect(b.shape).toEqual([16, 3, 8, 8]);
      const ratio = b.div(x);
      const lo = ratio.min([1, 2, 3]).toArray();
      const hi = ratio.max([1, 2, 3]).toArray();
      for (let i = 0; i < 16; i++) {
        expect(hi[i] - lo[i]).toBeLessThan(1e-5);
        expect(lo[i]).toBeGreaterThanOrEqual(0.8 - 1e-6);
        expect(hi[i]).toBeLessThanOrEqual(1.2 + 1e-6);
      }
      const c = colorJitter(x, { contrast: 0.5 });
      expect(maxAbsDiff(c.mean([1, 2, 3]), x.mean([1, 2, 3]))).toBeLessThan(1e-5);
      expect(maxAbsDiff(c, x)).toBeGreaterThan(1e-3);
      const s = colorJitter(x, { saturation: 0.5 });
      expect(maxAbsDiff(s.mean(1), x.mean(1))).toBeLessThan(1e-5);
      const grey = x.mean(1, true).expand([16, 3, 8, 8]);
      expect(maxAbsDiff(colorJitter(grey, { saturation: 0.5 }), grey)).toBeLessThan(1e-6);
    });
  });

  test('colorJitter on raw pixels: GCN would undo its brightness and contrast factors (why it runs after preprocessing)', () => {
    tidy(() => {
      manualSeed(4);
      const x = rand([8, 3, 8, 8]).mul(255);
      const gcn = globalContrastNormalize(x);
      for (const o of [{ brightness: 0.5 }, { contrast: 0.5 }, { brightness: 0.5, contrast: 0.5 }]) {
        expect(maxAbsDiff(globalContrastNormalize(colorJitter(x, o)), gcn)).toBeLessThan(1e-3);
      }
      expect(maxAbsDiff(globalContrastNormalize(colorJitter(x, { saturation: 0.5 })), gcn)).toBeGreaterThan(0.1);
    });
  });

  /** Same seed, same result; a new tensor of the same shape. */
  function checkReproducible(o: Parameters<typeof augmentBatch>[1]): void {
    tidy(() => {
      manualSeed(4);
      const x = randn([8, 3, 32, 32]);
      manualSeed(10);
      const a = augmentBatch(x, o);
      manualSeed(10);
      const b = augmentBatch(x, o);
      expect(a).not.toBe(x);
      expect(a.shape).toEqual([8, 3, 32, 32]);
      expect(a.dtype).toBe('float32');
      expect(maxAbsDiff(a, b)).toBe(0);
      if (Object.keys(o).length === 0) expect(maxAbsDiff(a, x)).toBe(0);
      else {
        manualSeed(11);
        expect(maxAbsDiff(augmentBatch(x, o), a)).toBeGreaterThan(0);
      }
    });
  }

  test('augmentBatch without translations: shapes kept, a new tensor, reproducible with manualSeed, different for another seed', () => {
    const base = liveTensors();
    for (const o of [{ flip: true }, { scale: [0.9, 1.1] as [number, number] }, { colorJitter: { brightness: 0.2, contrast: 0.2, saturation: 0.2 } },
      { flip: true, scale: [0.9, 1.1] as [number, number], colorJitter: { brightness: 0.2 } }, {}]) {
      checkReproducible(o);
    }
    expect(liveTensors()).toBe(base);
    expect(PAPER_AUGMENTATION).toEqual({ flip: true, translate: 5 });
  });

  test('augmentBatch with translations (the paper set and the rich set) is reproducible and keeps shapes', () => {
    for (const o of [PAPER_AUGMENTATION, RICH_AUGMENTATION, { translate: 2 }]) checkReproducible(o);
  });

  test('augmentBatch with flips keeps images in place, so labels still match (bundled sample)', () => {
    tidy(() => {
      const n = 32;
      const x = imagesToTensor(raw.train.images, n);
      manualSeed(5);
      const y = augmentBatch(x, { flip: true });
      expect(y.shape).toEqual([n, 3, 32, 32]);
      const mirror = x.flip(3);
      for (let i = 0; i < n; i++) {
        const yi = y.narrow(0, i, 1);
        expect(maxAbsDiff(yi, x.narrow(0, i, 1)) === 0 || maxAbsDiff(yi, mirror.narrow(0, i, 1)) === 0).toBe(true);
      }
    });
  });

  test('augmentBatch with the paper set never mixes images: each pixel sum is kept or lowered by the zero padding', () => {
    tidy(() => {
      const n = 32;
      const x = imagesToTensor(raw.train.images, n);
      manualSeed(6);
      const z = augmentBatch(x, PAPER_AUGMENTATION);
      expect(z.shape).toEqual([n, 3, 32, 32]);
      const before = x.sum([1, 2, 3]).toArray();
      const after = z.sum([1, 2, 3]).toArray();
      for (let i = 0; i < n; i++) expect(after[i]).toBeLessThanOrEqual(before[i] + 1e-2);
    });
  });

  test('checkAugment rejects unknown keys and non-objects', () => {
    expect(checkAugment({ flip: true, translate: 3 })).toEqual({ flip: true, translate: 3 });
    expect(checkAugment(RICH_AUGMENTATION)).toBe(RICH_AUGMENTATION);
    expect(() => checkAugment({ flip: true, rotate: 10 })).toThrow(InvalidArgumentError);
    expect(() => checkAugment({ flip: true, rotate: 10 })).toThrow(
      'Expected known augmentation keys (flip, translate, scale, colorJitter) for augment but received "rotate" of type string',
    );
    expect(() => checkAugment(null)).toThrow(InvalidArgumentError);
    expect(() => checkAugment('flip')).toThrow('Expected an object of augmentation options for augment but received "flip" of type string');
  });

  test('checkAugment rejects bad values, naming the field, rather than failing in LibTorch or doing nothing', () => {
    expect(checkAugment({ translate: 0, scale: [1, 1], colorJitter: { brightness: 1 } })).toEqual({ translate: 0, scale: [1, 1], colorJitter: { brightness: 1 } });
    const cases: Array<[unknown, string]> = [
      [{ translate: -3 }, 'Expected an integer in [0, 31] for augment.translate but received -3 of type number'],
      [{ translate: 1.5 }, 'for augment.translate but received 1.5'],
      [{ translate: 40 }, 'for augment.translate but received 40'],
      [{ flip: 'yes' }, 'Expected true or false for augment.flip but received "yes" of type string'],
      [{ scale: [2, 0.5] }, 'Expected a zoom range [lo, hi] with 0 < lo <= hi, e.g. [0.9, 1.1] for augment.scale but received [2, 0.5] of type array'],
      [{ scale: 1.1 }, 'for augment.scale but received 1.1 of type number'],
      [{ scale: [0, 1] }, 'for augment.scale but received [0, 1]'],
      [{ colorJitter: { brightness: -1 } }, 'Expected a number in [0, 1] for augment.colorJitter.brightness but received -1 of type number'],
      [{ colorJitter: { hue: 0.1 } }, 'Expected known keys (brightness, contrast, saturation) for augment.colorJitter but received "hue" of type string'],
      [{ colorJitter: 5 }, 'for augment.colorJitter but received 5 of type number'],
    ];
    for (const [o, message] of cases) expect(() => checkAugment(o)).toThrow(message);
    // augmentBatch, public, checks too (trainModel checks once, in its config, and skips it per step).
    const live = liveTensors();
    const x = ones([2, 3, 32, 32]);
    expect(() => augmentBatch(x, { translate: -1 })).toThrow('Expected an integer in [0, 31] for augment.translate but received -1');
    // The batch itself: a 3-d image failed in a flip, integers in scale's grid sampling.
    const image = ones([3, 32, 32]);
    const bytes = ones([2, 3, 32, 32], { dtype: 'uint8' });
    expect(() => augmentBatch(image, PAPER_AUGMENTATION)).toThrow('Expected a floating-point batch of images [N, C, H, W] for x but received a float32 tensor of shape [3, 32, 32]');
    expect(() => augmentBatch(bytes, PAPER_AUGMENTATION)).toThrow('but received a uint8 tensor of shape [2, 3, 32, 32]');
    expect(() => augmentBatch([1, 2] as never, PAPER_AUGMENTATION)).toThrow('Expected a Tensor for x');
    // An empty batch (reshape [0, 3, -1] failed) is returned as it is.
    const empty = ones([0, 3, 32, 32]);
    const none = augmentBatch(empty, { ...PAPER_AUGMENTATION, scale: [0.9, 1.1] });
    expect(none.shape).toEqual([0, 3, 32, 32]);
    dispose([image, bytes, empty, none]);
    x.dispose();
    expect(liveTensors()).toBe(live);
  });

  test('augmentBatch keeps the dtype of floating-point images other than float32', () => {
    const live = liveTensors();
    tidy(() => {
      const x = randn([2, 3, 8, 8]);
      // Scaling float64 images failed in grid_sample ("expected scalar type Double but found Float").
      for (const dtype of ['float64'] as const) expect(augmentBatch(x.to({ dtype }), RICH_AUGMENTATION).dtype).toBe(dtype);
      // Colour jitter returned float32 for half-precision images (LibTorch's CPU grid_sample has no half kernels, so no scale here).
      for (const dtype of ['float64', 'float16', 'bfloat16'] as const) {
        expect(augmentBatch(x.to({ dtype }), { ...PAPER_AUGMENTATION, colorJitter: RICH_AUGMENTATION.colorJitter }).dtype).toBe(dtype);
      }
      // float32 images are augmented as before: the same draws give the same images.
      manualSeed(3);
      const a = augmentBatch(x, RICH_AUGMENTATION);
      manualSeed(3);
      expect(maxAbsDiff(augmentBatch(x, RICH_AUGMENTATION), a)).toBe(0);
    });
    expect(liveTensors()).toBe(live);
  });
});
