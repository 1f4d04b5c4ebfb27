/**
 * trainModel end to end on CPU: learning on real data, checkpoint/resume,
 * stall detection, engine parity, aborts and bad configs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { CheckpointError, InvalidArgumentError } from '../lib/errors';
import { BUNDLED_SAMPLE, Dataset, loadCifar, loadCifar10 } from '../lib/data/dataset';
import { liveTensors } from '../lib/backend';
import { noGrad } from '../lib/autograd';
import { evaluateCheckpoint } from '../lib/train/evaluate-checkpoint';
import { predictImages } from '../lib/train/predict-checkpoint';
import { AbortError, EpochRecord, hasDiverged, trainModel } from '../lib/train/train';
import { checkpointDifferences } from '../lib/train/checkpoint';
import { resolveConfig } from '../lib/train/config';
import { visualizeCheckpoint } from '../lib/visualize/visualize';
import { isStalled, scoreSpread, stalledFor } from '../lib/train/stall';
import { buildNetwork } from '../lib/model/network';
import { declareNetwork } from '../lib/model/spec';
import { MODELS } from '../models';
import { tempDirs } from './tmp';

const SHARED = process.env.ALLCNN_SHARED_DATASETS ?? path.resolve(__dirname, '../../../shared/datasets');
const CIFAR10 = path.join(SHARED, 'cifar-10-binary.tar.gz');
const tmp = tempDirs('train');
process.env.ALLCNN_DATA = tmp();

let sample: Dataset;
beforeAll(async () => {
  sample = await loadCifar10(undefined, { prep: 'std', limit: 192 });
});
afterAll(() => sample.dispose());

// A small, fast configuration on the bundled sample.
const SMALL = { model: 'strided-cnn-a', epochs: 2, batchSize: 64, lr: 0.05, stallEpochs: 0, prep: 'std' as const };

(fs.existsSync(CIFAR10) ? test : test.skip)('a real 2,000-image slice trains clearly above chance (>= 35% validation accuracy)', async () => {
  // Strided-CNN-A is the fastest of the family on CPU (about 500 images/s on 2 cores).
  const result = await trainModel({
    model: 'strided-cnn-a', data: CIFAR10, limit: 2000, testLimit: 1000, prep: 'std', batchSize: 32, lr: 0.05, epochs: 14,
    finalRelu: false, stallEpochs: 0,
  });
  expect(result.validation.count).toBe(1000);
  expect(result.history).toHaveLength(14);
  expect(result.history[13].loss).toBeLessThan(result.history[0].loss - 0.4);
  expect(result.validation.accuracy).toBeGreaterThanOrEqual(0.35);
  expect(result.test.accuracy).toBeGreaterThanOrEqual(0.3);
});

test('training reduces the loss and frees everything it made', async () => {
  const before = liveTensors();
  const r = await trainModel({ ...SMALL, epochs: 3 }, { dataset: sample });
  expect(r.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
  expect(r.history[2].loss).toBeLessThan(r.history[0].loss);
  expect(r.parameters).toBe(839242);
  expect(liveTensors()).toBe(before);
});

test('a checkpoint resumed after a crash gives the same next epoch as an uninterrupted run', async () => {
  const dir = tmp();
  const straight = await trainModel(SMALL, { dataset: sample });
  const file = path.join(dir, 'checkpoint.safetensors');
  // "Crash" right after epoch 1 was checkpointed.
  const controller = new AbortController();
  await expect(
    trainModel(SMALL, {
      dataset: sample, checkpoint: file, signal: controller.signal,
      onProgress: (p) => p.type === 'checkpoint' && controller.abort(),
    }),
  ).rejects.toThrow(`training aborted in epoch 2; resume from ${file} (1 epoch done)`);
  expect(fs.readdirSync(dir)).toEqual(['checkpoint.safetensors']); // atomic: no temporary file left
  const resumed = await trainModel(SMALL, { dataset: sample, checkpoint: file, resume: true });
  expect(resumed.resumedFrom).toBe(1);
  expect(resumed.history).toHaveLength(2);
  expect(resumed.history[0].loss).toBe(straight.history[0].loss);
  expect(resumed.history[1].loss).toBeCloseTo(straight.history[1].loss, 6);
  expect(resumed.test.accuracy).toBeCloseTo(straight.test.accuracy, 6);
});

test('a checkpoint from another configuration or a corrupt one is refused clearly', async () => {
  const dir = tmp();
  const file = path.join(dir, 'checkpoint.safetensors');
  await trainModel({ ...SMALL, epochs: 1 }, { dataset: sample, checkpoint: file });
  await expect(trainModel({ ...SMALL, epochs: 1, lr: 0.1 }, { dataset: sample, checkpoint: file, resume: true })).rejects.toThrow(
    `${file}: written by a different configuration (differs in: lr; the checkpoint's: lr 0.05).`,
  );
  // Found in the checkpoint's header before the data are read (the real CIFAR-10's took 29 s): these would not even load.
  await expect(trainModel({ ...SMALL, epochs: 1, lr: 0.1, data: path.join(dir, 'missing.tar.gz') }, { checkpoint: file, resume: true })).rejects.toThrow(
    "differs in: lr; the checkpoint's: lr 0.05",
  );
  fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 1000));
  await expect(trainModel({ ...SMALL, epochs: 1 }, { dataset: sample, checkpoint: file, resume: true })).rejects.toThrow(CheckpointError);
});

test('a run stuck at chance (dead final ReLU) is reported as stalled and stopped', async () => {
  // The paper's ReLU after the last 1x1 convolution: with every class score
  // pushed below zero it outputs zeros, the loss is exactly ln(10) and no
  // gradient flows: the failure mode seen for some seeds and learning rates.
  const r = await trainModel({ ...SMALL, epochs: 6, stallEpochs: 2, finalRelu: true }, {
    dataset: sample,
    prepare: (net) => noGrad(() => net.parameters.get('conv5.bias')!.fill_(-100)),
  });
  expect(r.stalled).toBe(true);
  expect(r.history).toHaveLength(2);
  for (const h of r.history) expect(Math.abs(h.loss - Math.log(10))).toBeLessThan(1e-4);
});

test('a run whose loss becomes NaN (too high a learning rate) stops there as diverged, and stays stopped when resumed', async () => {
  const checkpoint = path.join(tmp(), 'blown.safetensors');
  const live = liveTensors();
  const r = await trainModel({ ...SMALL, epochs: 6, lr: 100 }, { dataset: sample, checkpoint });
  expect(r.diverged).toBe(true);
  expect(r.stalled).toBe(false);
  expect(r.history.length).toBeLessThan(6); // not six epochs of NaN
  expect(Number.isFinite(r.history[r.history.length - 1].loss)).toBe(false);
  expect(r.history.slice(0, -1).every((h) => Number.isFinite(h.loss))).toBe(true); // stopped at the first
  const again = await trainModel({ ...SMALL, epochs: 6, lr: 100 }, { dataset: sample, checkpoint, resume: true });
  expect([again.diverged, again.history.length, again.resumedFrom]).toEqual([true, r.history.length, r.history.length]);
  expect(again.history[again.history.length - 1].loss).toBeNaN(); // as the run had it, not JSON's null
  expect(again.imagesPerSecond).toBeNaN(); // nothing was trained
  // The commands that need a working network refuse it; evaluate scores it and says so.
  const why = `${checkpoint}: this run diverged in epoch ${r.history.length} (its training or validation loss became NaN or infinite), so its weights are not numbers`;
  await expect(predictImages(checkpoint, [{ width: 1, height: 1, channels: 3, data: new Uint8Array(3) }])).rejects.toThrow(why);
  await expect(visualizeCheckpoint(checkpoint)).rejects.toThrow(why);
  expect((await evaluateCheckpoint(checkpoint)).diverged).toBe(true);
  expect(liveTensors()).toBe(live);
  // A healthy run is not flagged.
  expect((await trainModel(SMALL, { dataset: sample })).diverged).toBe(false);
});

test('a NaN validation loss is divergence too, where there are validation images: huge weights overflow the scores first', () => {
  const blown = [{ loss: 2.2e32, valLoss: NaN }];
  expect(hasDiverged(blown, { validated: true })).toBe(true);
  expect(hasDiverged(blown, { validated: false })).toBe(false); // no validation images: valLoss is NaN in every epoch
  expect(hasDiverged([{ loss: 2.2, valLoss: 2.3 }], { validated: true })).toBe(false);
  expect(hasDiverged([{ loss: null }])).toBe(true); // NaN read back from a checkpoint
});

test('a resume that names the split sizes the first run took by default continues it; other sizes are other data', async () => {
  const file = path.join(tmp(), 'checkpoint.safetensors');
  const config = { ...SMALL, model: 'strided-cnn-a', limit: 100, testLimit: 50 };
  const first = await trainModel(config, { checkpoint: file, stopAfterEpoch: 1 });
  const validation = first.validation.count; // a tenth of the sample's training images, held out by default
  expect(validation).toBeGreaterThan(0);
  const resumed = await trainModel({ ...config, validation }, { checkpoint: file, resume: true });
  expect([resumed.resumedFrom, resumed.history.length, resumed.validation.count]).toEqual([1, 2, validation]);
  await expect(trainModel({ ...config, validation: validation + 1 }, { checkpoint: file, resume: true }))
    .rejects.toThrow(`${file}: trained on other data (its data recipe differs in: validation)`);
});

test('a moved, copied or repacked archive resumes; other images are other data, named, even at the same path and size', async () => {
  const dir = tmp();
  // Stored (gzip level 0): an archive with one pixel changed is then of the very same size.
  const tar = zlib.gunzipSync(fs.readFileSync(BUNDLED_SAMPLE));
  const first = path.join(dir, 'cifar.tar.gz');
  fs.writeFileSync(first, zlib.gzipSync(tar, { level: 0 }));
  const config = { ...SMALL, limit: 64, testLimit: 32, data: first };
  const file = path.join(dir, 'checkpoint.safetensors');
  await trainModel(config, { checkpoint: file, stopAfterEpoch: 1 });
  // Each resume that succeeds goes on from a copy of the one-epoch checkpoint.
  const resumeFrom = async (data: string) => {
    const copy = path.join(tmp(), 'checkpoint.safetensors');
    fs.copyFileSync(file, copy);
    return trainModel({ ...config, data }, { checkpoint: copy, resume: true });
  };
  const other = path.join(dir, 'other.tar.gz');
  const changed = Buffer.from(tar);
  changed[100000] ^= 0xff; // a pixel of data_batch_1.bin
  fs.writeFileSync(other, zlib.gzipSync(changed, { level: 0 }));
  expect(fs.statSync(other).size).toBe(fs.statSync(first).size);
  const refused = (data: string) => `${file}: trained on other data (its data recipe differs in: data (${data} holds other images than ${first})); resume on the same data, or start afresh in another checkpoint file (\`allcnn train\`: another --out)`;
  await expect(trainModel({ ...config, data: other }, { checkpoint: file, resume: true })).rejects.toThrow(refused(other));
  // The same images packed at another compression level: another file, the same data.
  const repacked = path.join(dir, 'repacked.tar.gz');
  fs.writeFileSync(repacked, zlib.gzipSync(tar, { level: 1 }));
  expect((await resumeFrom(repacked)).resumedFrom).toBe(1);
  // checkpointDifferences reads no data: it goes by the archive's size (and bytes, where the old one is there to compare).
  const copy = path.join(dir, 'copy.tar.gz');
  fs.copyFileSync(first, copy);
  expect(checkpointDifferences(file, resolveConfig({ ...config, data: copy }))).toEqual([]);
  expect(checkpointDifferences(file, resolveConfig({ ...config, data: other }))).toEqual(['data']);
  // Moved: the old path gone. The same images resume; other images of the same size do not (the size alone took them).
  const moved = path.join(dir, 'moved.tar.gz');
  fs.renameSync(first, moved);
  await expect(trainModel({ ...config, data: other }, { checkpoint: file, resume: true })).rejects.toThrow(refused(other));
  const resumed = await resumeFrom(moved);
  expect([resumed.resumedFrom, resumed.history.length]).toEqual([1, 2]);
  // Other images at the very path the run was trained on.
  fs.renameSync(moved, first);
  fs.copyFileSync(other, first);
  await expect(trainModel(config, { checkpoint: file, resume: true })).rejects.toThrow(`${file}: trained on other data (its data recipe differs in: data (${first} holds other images than it did))`);
});

test('a recipe given back to loadCifar makes the same data set, and refuses other images', async () => {
  const dir = tmp();
  const tar = zlib.gunzipSync(fs.readFileSync(BUNDLED_SAMPLE));
  const changed = Buffer.from(tar);
  changed[100000] ^= 0xff;
  const other = path.join(dir, 'other.tar.gz');
  fs.writeFileSync(other, zlib.gzipSync(changed));
  const set = await loadCifar10(undefined, { prep: 'std', limit: 64 });
  try {
    const { dataset, data, ...options } = set.recipe!;
    expect(options.digest).toMatch(/^[0-9a-f]{24}$/);
    const again = await loadCifar(dataset, data, options);
    expect(again.recipe).toEqual(set.recipe);
    again.dispose();
    await expect(loadCifar(dataset, other, options)).rejects.toThrow(`${other} holds other images than the recipe's`);
    await expect(loadCifar(dataset, data, { ...options, digest: 'abc' })).rejects.toThrow('digest');
  } finally {
    set.dispose();
  }
});

test('resuming refuses another network of the same name and other data, and allows another evalBatchSize', async () => {
  const file = path.join(tmp(), 'checkpoint.safetensors');
  const tiny = (act: string) => declareNetwork('Tiny', 'd', ['dropout 0.2', `conv 3x3 16 /2 ${act}`, 'conv 1x1 classes', 'gap', 'softmax']);
  const config = { ...SMALL, epochs: 2, model: tiny('relu') };
  await trainModel(config, { dataset: sample, checkpoint: file, stopAfterEpoch: 1 });
  // config.model records the name only: the layers are compared from the checkpoint.
  await expect(trainModel({ ...config, model: tiny('') }, { dataset: sample, checkpoint: file, resume: true })).rejects.toThrow('differs in: the layers of Tiny');
  const other = await loadCifar10(undefined, { prep: 'std', limit: 128, seed: 9 });
  try {
    await expect(trainModel({ ...config, seed: 0 }, { dataset: other, checkpoint: file, resume: true })).rejects.toThrow(`${file}: trained on other data (its data recipe differs in: seed, limit)`);
  } finally {
    other.dispose();
  }
  // How a run is watched is not what it computes: evalBatchSize and stallEpochs may change.
  const resumed = await trainModel({ ...config, evalBatchSize: 7, stallEpochs: 5 }, { dataset: sample, checkpoint: file, resume: true });
  expect([resumed.resumedFrom, resumed.history.length]).toEqual([1, 2]);
});

test('a batch norm after gap with a last batch of one image is refused before the first epoch', async () => {
  const model = declareNetwork('BN', 'd', ['conv 3x3 8 /4 bn relu', 'gap', 'fc 16 bn relu', 'fc classes']);
  const live = liveTensors();
  // The sample's 192 training images in batches of 191: the last holds 1.
  await expect(trainModel({ ...SMALL, model, batchSize: 191 }, { dataset: sample })).rejects.toThrow(
    'BN: the batch norm of fc1 needs batches of 2 or more images, but the last batch of each epoch holds 1 image (192 training images, batch 191): pick another batchSize (or limit)',
  );
  expect(liveTensors()).toBe(live);
});

test('stalledFor: within 0.02 of ln(K) for the last N epochs', () => {
  const rec = (loss: number) => ({ loss } as EpochRecord);
  const ln10 = Math.log(10);
  expect(stalledFor([rec(ln10), rec(ln10 - 0.01)], ln10, 2)).toBe(true);
  expect(stalledFor([rec(ln10), rec(ln10 - 0.03)], ln10, 2)).toBe(false);
  expect(stalledFor([rec(ln10)], ln10, 2)).toBe(false);
  expect(stalledFor([rec(ln10), rec(ln10)], ln10, 0)).toBe(false);
});

test('a network that gives every image the same scores has spread 0; only then is a run at chance stalled', () => {
  const net = buildNetwork(MODELS['all-cnn-c'], { seed: 0 });
  try {
    // Fresh, the scores depend on the image.
    expect(scoreSpread(net, sample.validation)).toBeGreaterThan(1e-4);
    // The losses ALL-CNN-C had in its first three epochs on 1,000 real images
    // at lr 0.25 (8 steps each): at chance by the loss alone, but learning.
    const slowStart = [2.3027, 2.3009, 2.2958].map((loss) => ({ loss }));
    expect(stalledFor(slowStart, Math.log(10), 3)).toBe(true);
    expect(isStalled(slowStart, Math.log(10), 3, net, sample.validation)).toBe(false);
    // The final ReLU dead for every image: all scores 0, for good.
    noGrad(() => net.parameters.get('conv9.bias')!.fill_(-100));
    expect(scoreSpread(net, sample.validation)).toBe(0);
    expect(isStalled(slowStart, Math.log(10), 3, net, sample.validation)).toBe(true);
    expect(isStalled(slowStart, Math.log(10), 4, net, sample.validation)).toBe(false); // not yet 4 epochs
  } finally {
    net.dispose();
  }
});

test('a run that stays near chance while it can still learn is not stopped', async () => {
  // A learning rate so small that the loss hardly moves from its start at
  // about ln 10; the network is alive, so the run goes on to its end.
  const r = await trainModel({ ...SMALL, epochs: 3, stallEpochs: 2, lr: 1e-9, finalRelu: true }, { dataset: sample });
  for (const h of r.history) expect(Math.abs(h.loss - Math.log(10))).toBeLessThan(0.02);
  expect(r.history).toHaveLength(3);
  expect(r.stalled).toBe(false);
});

test("the TypeScript engine (op by op) computes the same training as the native fused step", async () => {
  const a = await trainModel({ ...SMALL, epochs: 1 }, { dataset: sample });
  const b = await trainModel({ ...SMALL, epochs: 1, engine: 'typescript' }, { dataset: sample });
  expect(b.history[0].loss).toBeCloseTo(a.history[0].loss, 4);
  expect(b.validation.loss).toBeCloseTo(a.validation.loss, 3);
});

test('augmentation and the paper schedule run; a near-zero learning rate changes nothing', async () => {
  const r = await trainModel({ ...SMALL, epochs: 1, augment: true, lr: 1e-12 }, { dataset: sample, keepModel: true });
  const again = await trainModel({ ...SMALL, epochs: 1, lr: 0 }, { dataset: sample, keepModel: true });
  noGrad(() => {
    const w1 = r.network!.parameters.get('conv1.weight')!.toArray();
    const w2 = again.network!.parameters.get('conv1.weight')!.toArray();
    expect(w1.every((v, i) => Math.abs(v - w2[i]) < 1e-6)).toBe(true);
  });
  r.network!.dispose();
  again.network!.dispose();
});

test('bad configurations are rejected with messages that name the field', async () => {
  await expect(trainModel({ model: 'all-cnn-z' })).rejects.toThrow(/^Expected one of a, strided-cnn-a, .* for model but received "all-cnn-z" of type string$/);
  await expect(trainModel({ ...SMALL, epochs: 0 })).rejects.toThrow('Expected an integer >= 1 for epochs but received 0 of type number');
  await expect(trainModel({ ...SMALL, lr: -1 })).rejects.toThrow(InvalidArgumentError);
  await expect(trainModel({ ...SMALL, bogus: 1 } as never)).rejects.toThrow(/for config key but received "bogus"/);
  // A misspelt hook is not ignored: `checkpiont` would have meant a run that saves nothing.
  await expect(trainModel(SMALL, { checkpiont: 'run.safetensors' } as never)).rejects.toThrow(/^Expected one of onProgress, signal, checkpoint, .* for hooks key but received "checkpiont" of type string$/);
  await expect(trainModel(SMALL, { resume: true })).rejects.toThrow(new InvalidArgumentError('hooks.resume needs hooks.checkpoint (the file to resume from)')); // was a fresh run
  await expect(trainModel({ ...SMALL, device: 'tpu' })).rejects.toThrow('Expected a device ("cpu", "cuda" or "cuda:N") for device');
  await expect(trainModel({ ...SMALL, cudaGraph: true })).rejects.toThrow('cudaGraph needs a CUDA device (device "cuda" or "cuda:N"), but device is "cpu"');
  await expect(trainModel({ ...SMALL, tf32: true })).rejects.toThrow('tf32 needs a CUDA device'); // not recorded as if it had been used
  await expect(trainModel({ ...SMALL, device: 'cuda', cudaStream: true, engine: 'typescript' })).rejects.toThrow("cudaStream needs engine 'native': the TypeScript engine runs op by op");
  await expect(trainModel({ ...SMALL, data: '/no/such/file.tar.gz' })).rejects.toThrow(/no such file or folder: \/no\/such\/file\.tar\.gz/);
});

test('an aborted run stops promptly and frees its tensors', async () => {
  const before = liveTensors();
  const controller = new AbortController();
  controller.abort();
  await expect(trainModel(SMALL, { dataset: sample, signal: controller.signal })).rejects.toThrow('training aborted before it started');
  const midway = new AbortController();
  await expect(trainModel(SMALL, { dataset: sample, signal: midway.signal, onProgress: (p) => p.type === 'step' && midway.abort() }))
    .rejects.toThrow('training aborted in epoch 1; no checkpoint was kept');
  // Aborted while the data were read: before the first step, so nothing to resume.
  const reading = new AbortController();
  const run = trainModel({ ...SMALL, limit: 64 }, { signal: reading.signal });
  reading.abort();
  const err = await run.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AbortError);
  expect([(err as AbortError).beforeStart, (err as Error).message]).toEqual([true, 'training aborted before it started (while the data were read)']);
  expect(liveTensors()).toBe(before);
  // More classes than the network's: LibTorch said "Target 6 is out of bounds" at the first step.
  await expect(trainModel(SMALL, { dataset: sample, classes: 5 })).rejects.toThrow("Expected at least the data set's 10 classes (its labels go up to 9) for hooks.classes but received 5");
});

test('an abort before the first checkpoint says that the run starts afresh, and writes nothing', async () => {
  const dir = tmp();
  const controller = new AbortController();
  await expect(trainModel(SMALL, {
    dataset: sample, checkpoint: path.join(dir, 'checkpoint.safetensors'), signal: controller.signal,
    onProgress: (p) => p.type === 'step' && controller.abort(),
  })).rejects.toThrow('training aborted in epoch 1; it had no checkpoint yet (one is written after each epoch) and starts afresh next time');
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('channels-last on the CPU computes the same training as NCHW, up to float rounding', async () => {
  const nchw = await trainModel({ ...SMALL, epochs: 1 }, { dataset: sample, keepModel: true });
  const nhwc = await trainModel({ ...SMALL, epochs: 1, channelsLast: true }, { dataset: sample, keepModel: true });
  for (const name of ['conv1.weight', 'conv2.weight']) {
    const a = nchw.network!.parameters.get(name)!.toArray();
    const b = nhwc.network!.parameters.get(name)!.toArray();
    expect(a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0)).toBeLessThan(1e-5);
  }
  expect(nhwc.history[0].loss).toBeCloseTo(nchw.history[0].loss, 5);
  expect(nhwc.test.accuracy).toBe(nchw.test.accuracy);
  nchw.network!.dispose();
  nhwc.network!.dispose();
});

test('channels-last weights and bf16 autocast train like the fp32 default', async () => {
  const fp32 = await trainModel({ ...SMALL, epochs: 1 }, { dataset: sample, keepModel: true });
  const variant = await trainModel({ ...SMALL, epochs: 1, channelsLast: true, precision: 'bf16' }, { dataset: sample, keepModel: true });
  const net = variant.network!;
  expect(net.parameters.get('conv1.weight')!.isContiguous('channels_last')).toBe(true);
  expect(net.parameters.get('conv1.weight')!.requiresGrad).toBe(true);
  // The same seed and data: the weights moved the same way, up to bf16 rounding.
  const a = fp32.network!.parameters.get('conv2.weight')!.toArray();
  const b = net.parameters.get('conv2.weight')!.toArray();
  const diff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  expect(diff).toBeGreaterThan(0);
  expect(diff).toBeLessThan(1e-2);
  expect(variant.history[0].loss).toBeCloseTo(fp32.history[0].loss, 2);
  fp32.network!.dispose();
  net.dispose();
});
