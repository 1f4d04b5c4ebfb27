/**
 * Library calls with values a user gets wrong, as an exploratory session of
 * the API found them (2026-12-01): each fails with a message naming the
 * field, before the data are read where it can, and frees what it made; the
 * legitimate ones it found refused (an empty validation split with ZCA, an
 * option left undefined) work.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { noGrad, enableGrad } from '../lib/autograd';
import { configureBackend, liveTensors } from '../lib/backend';
import { splitTrainValidation } from '../lib/data/split';
import { importWeights, loadCheckpoint, saveCheckpoint } from '../lib/train/checkpoint';
import { SGD } from '../lib/train/optim';
import { arange, cat, fromArray, ones, rand, randint, zeros } from '../lib/creation';
import * as nn from '../lib/functional';
import { initWeight } from '../lib/init';
import { tidy } from '../lib/scope';
import { loadSafetensors, saveSafetensors } from '../lib/io/safetensors';
import { BUNDLED_SAMPLE, Dataset, loadCifar10, prepareDataset, readCifar } from '../lib/data/dataset';
import { buildNetwork, Network } from '../lib/model/network';
import { countParameters, declareNetwork, NetworkSpec } from '../lib/model/spec';
import { DEFAULTS, resolveConfig } from '../lib/train/config';
import { evaluate, evaluateByClass } from '../lib/train/evaluate';
import { trainModel } from '../lib/train/train';
import { MODELS } from '../models';
import { tempDirs } from './tmp';

const tmp = tempDirs('api-input');
process.env.ALLCNN_DATA = tmp();
const SMALL = { model: 'strided-cnn-a', data: BUNDLED_SAMPLE, epochs: 1, limit: 32, testLimit: 32, batchSize: 16 };
// A path that does not exist: a check that fires first proves it ran before the data were read.
const NO_DATA = { ...SMALL, data: path.join(tmp(), 'missing.tar.gz') };

describe('trainModel options', () => {
  test('an empty validation split works with ZCA as with the other preparations', async () => {
    const r = await trainModel({ ...SMALL, validation: 0 });
    expect(r.validation).toEqual({ loss: NaN, accuracy: NaN, count: 0 });
    expect(r.history[0].valAccuracy).toBeNaN();
    expect(r.test.count).toBe(32);
  });

  test('an option set to undefined takes its default, as its optional type says', () => {
    const c = resolveConfig({ model: 'a', epochs: undefined, lr: undefined, finalRelu: undefined, augment: undefined });
    expect([c.epochs, c.lr, c.finalRelu, c.augment]).toEqual([DEFAULTS.epochs, DEFAULTS.lr, DEFAULTS.finalRelu, false]);
  });

  test('a boolean option given as a string or number is refused, not read as true', () => {
    expect(() => resolveConfig({ model: 'a', finalRelu: 'false' as never })).toThrow('Expected true or false for finalRelu but received "false" of type string');
    expect(() => resolveConfig({ model: 'a', channelsLast: 1 as never })).toThrow('Expected true or false for channelsLast but received 1 of type number');
  });
});

/** Runs fn on 32 sample images prepared with 'std', then checks that it left no tensor behind. */
async function withSample(fn: (dataset: Dataset) => Promise<void>): Promise<void> {
  const dataset = await loadCifar10(BUNDLED_SAMPLE, { prep: 'std', limit: 32, testLimit: 32 });
  try {
    const base = liveTensors();
    await fn(dataset);
    expect(liveTensors()).toBe(base);
  } finally {
    dataset.dispose();
  }
}

describe('trainModel hooks and model, checked before the data are read', () => {
  test.each([
    [{ signal: 5 }, 'Expected an AbortSignal (from an AbortController) for hooks.signal but received 5 of type number'],
    [{ stopAfterEpoch: -1 }, 'Expected an integer >= 0 for hooks.stopAfterEpoch but received -1 of type number'],
    [{ onProgress: 5 }, 'Expected a function for hooks.onProgress but received 5 of type number'],
    [{ classes: 1 }, 'Expected an integer in [2, 100000] for hooks.classes but received 1 of type number'],
    [{ resume: 'yes' }, 'Expected true or false for hooks.resume but received "yes" of type string'],
  ])('hooks %j', async (hooks, message) => {
    await expect(trainModel(NO_DATA, hooks as never)).rejects.toThrow(message);
  });

  test('a malformed NetworkSpec is named at once', async () => {
    const spec = { name: 'Odd', description: '', layers: [{ kind: 'foo' }] } as unknown as NetworkSpec;
    await expect(trainModel({ ...NO_DATA, model: spec })).rejects.toThrow('Odd: layer 1 {"kind":"foo"}: unknown kind (conv, maxpool, avgpool, dropout, gap, flatten, fc, softmax)');
  });

  test('what trainModel made is freed when a hook or an option fails after the data are read', async () => {
    const dataset = await loadCifar10(BUNDLED_SAMPLE, { prep: 'std', limit: 32, testLimit: 32 });
    try {
      const base = liveTensors();
      await expect(trainModel({ ...SMALL, prep: 'std' }, { dataset, prepare: () => { throw new Error('prepare failed'); } })).rejects.toThrow('prepare failed');
      expect(liveTensors()).toBe(base);
      await expect(trainModel({ ...SMALL, prep: 'std' }, { dataset, lrScale: (name) => (name === 'conv2.weight' ? NaN : 1), keepModel: true })).rejects.toThrow(
        "Expected a number in [0, 1000000] for hooks.lrScale('conv2.weight') but received NaN of type number",
      );
      expect(liveTensors()).toBe(base);
    } finally {
      dataset.dispose();
    }
  });

  test('a config that contradicts hooks.dataset is refused: the run would record data it did not train on', async () => {
    const dataset = await loadCifar10(BUNDLED_SAMPLE, { prep: 'std', limit: 32, testLimit: 32, validation: 20 });
    try {
      const run = (config: object) => trainModel({ ...SMALL, prep: 'std', limit: undefined, testLimit: undefined, ...config }, { dataset });
      const why = ', so that the result and the checkpoint say what the network was trained on';
      await expect(run({ prep: 'zca' })).rejects.toThrow(`hooks.dataset was prepared with prep 'std' but config.prep is 'zca': set prep: 'std'${why}`);
      await expect(run({ prep: undefined })).rejects.toThrow("config.prep is 'zca'"); // the default
      await expect(run({ limit: 8 })).rejects.toThrow(`hooks.dataset has 32 training images but config.limit is 8: set limit: 32${why}`);
      await expect(run({ testLimit: 8 })).rejects.toThrow('hooks.dataset has 32 test images but config.testLimit is 8: set testLimit: 32');
      await expect(run({ validation: 100 })).rejects.toThrow('hooks.dataset has 20 validation images but config.validation is 100: set validation: 20');
      // What it holds, or more than it holds (a limit caps), is consistent.
      const r = await run({ epochs: 1, limit: 64, validation: 20 });
      expect(r.history).toHaveLength(1);
    } finally {
      dataset.dispose();
    }
  });

  test('an async prepare is awaited before the first step, and its rejection is the run\'s', async () => {
    await withSample(async (dataset) => {
      const events: string[] = [];
      const prepare = async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        events.push('prepared');
      };
      await trainModel({ ...SMALL, prep: 'std' }, { dataset, prepare, onProgress: (p) => { if (p.type !== 'step') events.push(p.type); } });
      expect(events).toEqual(['prepared', 'start', 'epoch']);
      const late = async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error('weights not found');
      };
      await expect(trainModel({ ...SMALL, prep: 'std' }, { dataset, prepare: late })).rejects.toThrow('weights not found');
    });
  });

  test('an async onProgress that rejects fails the run at its next step, not the process', async () => {
    await withSample(async (dataset) => {
      let steps = 0;
      const onProgress = async (p: { type: string }) => {
        if (p.type === 'step') steps++;
        if (p.type === 'step' && steps === 1) throw new Error('progress store unreachable');
      };
      // 32 images in batches of 8: the first step's report rejects, the second step fails the run
      await expect(trainModel({ ...SMALL, prep: 'std', batchSize: 8 }, { dataset, onProgress })).rejects.toThrow('progress store unreachable');
      expect(steps).toBe(1);
      // the last report of the run (its epoch) rejecting fails it too
      const atEnd = async (p: { type: string }) => { if (p.type === 'epoch') throw new Error('epoch not saved'); };
      await expect(trainModel({ ...SMALL, prep: 'std' }, { dataset, onProgress: atEnd })).rejects.toThrow('epoch not saved');
    });
  });

  test('a network with every parameter frozen is refused before the first step, in words', async () => {
    await withSample(async (dataset) => {
      const freezeAll = (n: Network) => { n.freeze(() => true); };
      for (const engine of ['native', 'typescript'] as const) {
        await expect(trainModel({ ...SMALL, prep: 'std', engine }, { dataset, prepare: freezeAll })).rejects.toThrow('every parameter of Strided-CNN-A is frozen (requiresGrad false, set in hooks.prepare): there is nothing to train');
      }
      // one left trainable trains
      const r = await trainModel({ ...SMALL, prep: 'std' }, { dataset, prepare: (n) => { n.freeze((name) => !name.startsWith('conv1')); } });
      expect(r.history).toHaveLength(1);
    });
  });

  test('a data set trainModel loaded itself is freed too', async () => {
    const base = liveTensors();
    await expect(trainModel({ ...SMALL, prep: 'std' }, { prepare: () => { throw new Error('prepare failed'); } })).rejects.toThrow('prepare failed');
    expect(liveTensors()).toBe(base);
  });
});

describe('declareNetwork with layer objects', () => {
  test.each([
    [{ kind: 'foo' }, 'T: layer 1 {"kind":"foo"}: unknown kind (conv, maxpool, avgpool, dropout, gap, flatten, fc, softmax)'],
    [{ kind: 'conv', kernel: 3, filters: 8, stride: 0, padding: 1, batchNorm: false, relu: true }, 'stride must be an integer >= 1'],
    [{ kind: 'conv', kernel: -3, filters: 8, stride: 1, padding: 1, batchNorm: false, relu: true }, 'kernel must be an integer >= 1'],
    [{ kind: 'conv', kernel: 3, filters: 8, stride: 1, padding: 1, relu: true }, 'batchNorm must be true or false'],
    [{ kind: 'dropout', p: 1.5 }, 'p must be a probability in [0, 1)'],
    [{ kind: 'gap', units: 3 }, '"units" does not apply to gap (it has no fields)'],
    [42, "T: layer 1 42: expected a line like 'conv 3x3 96 relu' or a layer object like { kind: 'gap' }"],
    [null, 'T: layer 1 null: expected a line'],
  ])('%j', (layer, message) => {
    expect(() => declareNetwork('T', 'd', [layer as never, 'gap', 'fc classes'])).toThrow(message);
  });

  test('a correct layer object declares as its line does', () => {
    const fromObject = declareNetwork('T', 'd', [{ kind: 'conv', kernel: 3, filters: 'classes', stride: 1, padding: 1, batchNorm: false, relu: true }, 'gap']);
    expect(fromObject.layers).toEqual(declareNetwork('T', 'd', ['conv 3x3 classes relu', 'gap']).layers);
  });
});

describe('other calls', () => {
  test('noGrad and enableGrad refuse an async function: their mode would not last past its first await', async () => {
    const w = ones([2]).requiresGrad_(true);
    const run = () => noGrad(async () => { await null; return w.mul(2); });
    expect(run).toThrow("noGrad() takes a synchronous function, but this one returned a Promise: code after its first await runs in the caller's gradient mode");
    expect(() => enableGrad(async () => null)).toThrow('enableGrad() takes a synchronous function');
    await new Promise((r) => setImmediate(r));
    w.dispose();
  });

  test('prepareDataset checks data given to it by hand', async () => {
    const raw = await readCifar('cifar10', BUNDLED_SAMPLE);
    const short = { ...raw, train: { ...raw.train, images: raw.train.images.subarray(0, 3072 * 10) } };
    expect(() => prepareDataset(short)).toThrow(`Expected ${raw.train.count} images of 3072 bytes (${raw.train.count * 3072} bytes) for data.train.images but received 30720 bytes`);
    const labels = Uint8Array.from(raw.test.labels);
    labels[7] = 12;
    expect(() => prepareDataset({ ...raw, test: { ...raw.test, labels } })).toThrow('Expected a label below 10 (the number of classNames) for data.test.labels[7] but received 12 of type number');
    expect(() => prepareDataset({ ...raw, train: { ...raw.train, images: [1, 2, 3] as never } })).toThrow('Expected a Uint8Array (or Buffer) of 3x32x32 images, channel by channel for data.train.images');
  });

  test('fromArray names an element that is not a number, instead of storing NaN', () => {
    expect(() => fromArray(['a', 'b'] as never)).toThrow('Expected a number (a number[] is one flat list: pass the shape separately) for data[0] but received "a" of type string');
    expect(() => fromArray([[1, 2], [3, 4]] as never, [2, 2])).toThrow('for data[0] but received [1, 2] of type array');
    expect(() => fromArray([1, NaN], [2], 'int64')).toThrow('Expected an integer in [-2^63, 2^63) for dtype int64 for data[1] but received NaN of type number');
    // BigInt64Array would wrap them: 2^63 to -2^63, 1e20 to 7766279631452241920
    expect(() => fromArray([2 ** 63], [1], 'int64')).toThrow('Expected an integer in [-2^63, 2^63) for dtype int64 for data[0] but received 9223372036854776000');
    expect(() => fromArray([0, 1e20], [2], 'int64')).toThrow('for data[1] but received 100000000000000000000');
    const lowest = fromArray([-(2 ** 63)], [1], 'int64');
    expect(lowest.data()).toEqual(BigInt64Array.from([-(2n ** 63n)]));
    lowest.dispose();
    expect(() => fromArray([256], [1], 'uint8')).toThrow('Expected an integer in [0, 255] for dtype uint8 for data[0] but received 256');
    expect(() => fromArray([2 ** 31], [1], 'int32')).toThrow('Expected an integer in [-2147483648, 2147483647] for dtype int32');
    expect(() => rand([2], { dtype: 'int64' })).toThrow('Expected a floating dtype (float32, float64, float16, bfloat16); for integers use randint for options.dtype but received "int64"');
    expect(() => arange(0, 5, 0.5, { dtype: 'int64' })).toThrow('Expected an integer for dtype int64 for step but received 0.5');
    const t = fromArray([1, 2, 3], [3], 'int64');
    expect(t.toArray()).toEqual([1, 2, 3]);
    t.dispose();
  });

  test('saveSafetensors keeps to the format: no tensor named __metadata__, metadata values are strings', () => {
    const t = ones([2]);
    const file = path.join(tmp(), 'x.safetensors');
    try {
      expect(() => saveSafetensors(file, { __metadata__: t })).toThrow('Expected any name but __metadata__');
      expect(() => saveSafetensors(file, { a: [1, 2] } as never)).toThrow('Expected a Tensor for tensor a but received [1, 2] of type array');
      expect(() => saveSafetensors(file, null as never)).toThrow('Expected a Map or an object of named tensors for tensors but received null');
      expect(() => saveSafetensors(file, { t }, { n: 5 } as never)).toThrow('Expected a string (safetensors metadata maps strings to strings: JSON.stringify other values) for metadata.n but received 5 of type number');
    } finally {
      t.dispose();
    }
  });

  test('resuming from a checkpoint with corrupt metadata is a CheckpointError, as evaluating it is', async () => {
    const dir = tmp();
    const checkpoint = path.join(dir, 'checkpoint.safetensors');
    const config = { ...SMALL, prep: 'std' as const, epochs: 2 };
    await trainModel(config, { checkpoint, stopAfterEpoch: 1 });
    const { tensors, metadata } = loadSafetensors(checkpoint);
    const rewrite = (changes: Record<string, string>) => saveSafetensors(checkpoint, tensors, { ...metadata, ...changes });
    try {
      rewrite({ history: '[{"epoch": 1,' });
      await expect(trainModel(config, { checkpoint, resume: true })).rejects.toThrow(`${checkpoint}: metadata "history" is not valid JSON (a corrupt checkpoint?)`);
      rewrite({ epoch: 'abc' });
      await expect(trainModel(config, { checkpoint, resume: true })).rejects.toThrow(`${checkpoint}: metadata "epoch" is "abc", not a count of epochs (a corrupt checkpoint?)`);
      // An epoch count the history does not bear out would number the resumed epochs wrongly (it resumed "after epoch 99").
      rewrite({ epoch: '99' });
      await expect(trainModel(config, { checkpoint, resume: true })).rejects.toThrow(`${checkpoint}: metadata "history" holds 1 epoch records but "epoch" is 99 (a corrupt checkpoint?)`);
      rewrite({ history: '{"a": 1}' });
      await expect(trainModel(config, { checkpoint, resume: true })).rejects.toThrow(`${checkpoint}: metadata "history" holds no list but "epoch" is 1`);
      // Records that are no objects: null failed with a TypeError, a number resumed as a diverged epoch.
      rewrite({ history: '[null]' });
      await expect(trainModel(config, { checkpoint, resume: true })).rejects.toThrow(`${checkpoint}: metadata "history" holds null as the record of epoch 1, not an object (a corrupt checkpoint?)`);
      rewrite({ history: '[1]' });
      await expect(trainModel(config, { checkpoint, resume: true })).rejects.toThrow(`${checkpoint}: metadata "history" holds 1 as the record of epoch 1, not an object`);
      // An epoch count its history bears out, but past the run's epochs.
      const record = JSON.parse(metadata.history)[0];
      rewrite({ epoch: '3', history: JSON.stringify([record, record, record]) });
      await expect(trainModel(config, { checkpoint, resume: true })).rejects.toThrow(`${checkpoint}: metadata "epoch" is 3, past the run's 2 epochs (a corrupt checkpoint?)`);
      // Integer bytes where weights belong would be converted into weights silently.
      const weight = tensors.get('param.conv1.weight')!;
      const asInt = new Map([...tensors].map(([k, t]) => [k, k === 'param.conv1.weight' ? weight.to({ dtype: 'int32' }) : t]));
      saveSafetensors(checkpoint, asInt, metadata);
      asInt.get('param.conv1.weight')!.dispose();
      await expect(trainModel(config, { checkpoint, resume: true })).rejects.toThrow(`${checkpoint}: param.conv1.weight is int32, not a floating-point tensor (a corrupt checkpoint?)`);
      // Cut short: what to do about it is said.
      fs.truncateSync(checkpoint, 100000);
      await expect(trainModel(config, { checkpoint, resume: true })).rejects.toThrow(/: not a valid safetensors file \(.*truncated\); it cannot be resumed: delete it to train the run again from its first epoch$/);
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  });

  test('options objects name a misspelt key; SGD takes each tensor once', async () => {
    const t = ones([2]);
    const network = buildNetwork(MODELS['strided-cnn-a']);
    try {
      expect(() => configureBackend({ benchmark: true } as never)).toThrow('Expected one of cudnnBenchmark, tf32 for options key but received "benchmark"');
      expect(() => t.to({ type: 'float64' } as never)).toThrow('Expected one of device, dtype, nonBlocking for target key but received "type"');
      expect(() => splitTrainValidation(Uint8Array.from([0, 1]), { validate: 1 } as never)).toThrow('Expected one of validation, seed, classes for options key but received "validate"');
      await expect(evaluate(network, { x: t, y: t }, { batch: 5 } as never)).rejects.toThrow('Expected one of batchSize for options key but received "batch"');
      expect(() => importWeights('missing.safetensors', network, { strict: true, only: [] } as never)).toThrow('Expected one of strict, skip for options key but received "only"');
      expect(() => new SGD([t, t])).toThrow('Expected each tensor once for params but received tensor 1 again (also at 0)');
    } finally {
      t.dispose();
      network.dispose();
    }
  });

  test('evaluateByClass wants the network\'s class count', async () => {
    const network = buildNetwork(MODELS['strided-cnn-a']);
    const x = ones([2, 3, 32, 32]);
    const y = ones([2], { dtype: 'int64' });
    try {
      await expect(evaluateByClass(network, { x, y }, 5)).rejects.toThrow("Expected the network's number of classes (10) for classes but received 5 of type number");
    } finally {
      network.dispose();
      x.dispose();
      y.dispose();
    }
  });

  test('a second exploratory session (2026-12-01): wrong shapes and values that were counted, wrapped or crashed are named', () => {
    const base = liveTensors();
    tidy(() => {
      const logits = fromArray([5, 0, 0, 0, 5, 0, 0, 0, 5, 5, 0, 0], [4, 3]);
      const y = fromArray([0, 1, 2, 1], [4], 'int64');
      expect(nn.accuracy(logits, y)).toBe(0.75);
      // A [4, 1] target broadcast against the [4] argmax counted 5 hits of 4 (an accuracy of 1.25).
      expect(() => nn.accuracy(logits, y.reshape([4, 1]))).toThrow('Expected logits [N, K] and a target [N] of class indices with the same N for logits and target but received logits [4, 3] and target [4, 1]');
      expect(() => nn.correctCount(logits, fromArray([0], [1], 'int64'))).toThrow('but received logits [4, 3] and target [1]');
      expect(() => nn.relu(null as never)).toThrow('Expected a Tensor for x but received null of type null');
      expect(() => cat(logits as never)).toThrow('Expected an array of Tensors for tensors but received Tensor of type object');
      expect(() => cat([logits, null as never])).toThrow('Expected a Tensor for tensors[1] but received null of type null');
      // A typed array would wrap or truncate them.
      expect(() => fromArray([300, -1], [2], 'uint8')).toThrow('Expected an integer in [0, 255] for dtype uint8 for data[0] but received 300 of type number');
      expect(() => fromArray([2 ** 31], [1], 'int32')).toThrow('for dtype int32 for data[0]');
      expect(fromArray([0, 2, -1], [3], 'bool').toArray()).toEqual([0, 1, 1]);
      expect(() => randint(0, 2 ** 60, [3])).toThrow('Expected an integer in [1, 9007199254740991] for high but received 1152921504606847000');
      expect(() => randint(5, 5, [3])).toThrow('Expected an integer in [6, 9007199254740991] for high');
      expect(() => ones(['3'] as never)).toThrow('received ["3"] of type array');
      expect(() => initWeight(zeros([5]))).toThrow('Expected a weight of shape [out, in, ...kernel] for xavier-uniform');
      expect(() => initWeight(zeros([5]), { init: 'gaussian', std: -1 })).toThrow('for options.std');
      expect(() => new SGD([zeros([2], { dtype: 'int32' })])).toThrow('Expected a floating-point tensor (float32, float64, float16 or bfloat16) for params[0] but received a tensor of dtype int32');
      const sgd = new SGD([zeros([2])]); // its momentum buffers are kept beyond tidy(): disposed below
      expect(() => sgd.step(-1)).toThrow('Expected a number in [0, Infinity] for lr but received -1');
      sgd.dispose();
      const w = ones([2]).requiresGrad_();
      const loss = w.mul(w).sum();
      loss.backward();
      expect(() => loss.backward()).toThrow('backward(): this graph was already back-propagated through, which freed it; run the forward pass again');
      expect(() => countParameters(MODELS['typo'], { classes: 10 })).toThrow("Expected a network spec, such as MODELS['all-cnn-c'] or declareNetwork(...) for spec but received undefined");
    });
    expect(liveTensors()).toBe(base);
  });

  test('a third exploratory session (2026-12-02): labels, leaves, options and sizes that were taken silently are refused', async () => {
    const base = liveTensors();
    const network = buildNetwork(MODELS['strided-cnn-a']);
    const file = path.join(tmp(), 'third.safetensors');
    try {
      // -100 was LibTorch's ignore_index: left out of the loss, but counted by evaluate.
      const [x, small, ignored, ten, y, three, floats] = [zeros([2, 3, 32, 32]), zeros([2, 3, 16, 16]), fromArray([-100, 0], [2], 'int64'), fromArray([10, 10], [2], 'int64'), zeros([2], { dtype: 'int64' }), zeros([3], { dtype: 'int64' }), zeros([2])];
      try {
        await expect(evaluate(network, { x, y: ignored })).rejects.toThrow("Expected class indices in [0, 9] (the network's 10 classes) for data.y but received labels from -100 to 0");
        await expect(evaluateByClass(network, { x, y: ten }, 10)).rejects.toThrow('but received labels from 10 to 10');
        // 16x16 images were scored: the global average takes any size.
        await expect(evaluate(network, { x: small, y })).rejects.toThrow(
          "Expected float32 images [N, 3, 32, 32] (the network's input) for data.x but received a float32 tensor of shape [2, 3, 16, 16]",
        );
        await expect(evaluate(network, { x, y: three })).rejects.toThrow('Expected int64 labels [2], one per image of data.x for data.y but received a int64 tensor of shape [3]');
        await expect(evaluateByClass(network, { x, y: floats }, 10)).rejects.toThrow('for data.y but received a float32 tensor of shape [2]');
        await expect(evaluate(network, null as never)).rejects.toThrow('Expected an object { x, y } of images and labels');
        // Checked before the archive is read (a missing one here): a mistake cost the 10 s of reading it.
        await expect(loadCifar10(NO_DATA.data, { limit: 0 })).rejects.toThrow('Expected an integer >= 1 for limit but received 0');
        await expect(loadCifar10(NO_DATA.data, { seed: -1 })).rejects.toThrow('for seed but received -1');
        await expect(loadCifar10(NO_DATA.data, { testLimit: 2.5 })).rejects.toThrow('for testLimit but received 2.5');
      } finally {
        for (const t of [x, small, ignored, ten, y, three, floats]) t.dispose();
      }
      tidy(() => {
        const logits = fromArray([1, 2, 3, 1, 1, 1], [2, 3]);
        expect(() => nn.crossEntropy(logits, fromArray([-100, 0], [2], 'int64'))).toThrow("the target's class index runs from -100 to 0, outside [0, 3)");
        // The result of an op keeps no .grad: SGD would never move it.
        const leaf = ones([1]).requiresGrad_();
        const derived = leaf.mul(2);
        expect([leaf.isLeaf, derived.isLeaf]).toEqual([true, false]);
        expect(() => new SGD([derived])).toThrow('Expected a leaf tensor (a network parameter, or a tensor made with requiresGrad_()) for params[0] but received the result of an op');
        expect(() => new SGD([leaf], { momentum: 0, nesterov: true })).toThrow('Expected false with momentum 0 (Nesterov momentum needs a momentum) for nesterov');
        expect(() => new SGD([leaf], { weightDecay: Infinity })).toThrow('Expected a finite number >= 0 for weightDecay but received Infinity');
        const sgd = new SGD([leaf]);
        expect(() => sgd.step(Infinity)).toThrow('Expected a finite number >= 0 for lr but received Infinity');
        sgd.dispose();
        // Misspelt options changed the result without a word.
        const img = ones([1, 1, 4, 4]);
        expect(() => nn.crossEntropy(logits, fromArray([0, 1], [2], 'int64'), { label_smoothing: 0.1 } as never)).toThrow('Expected one of labelSmoothing for options key but received "label_smoothing"');
        expect(() => fromArray([1, 3]).std(undefined, { unbaised: false } as never)).toThrow('Expected one of unbiased, keepdim for options key but received "unbaised"');
        expect(() => nn.conv2d(img, ones([1, 1, 2, 2]), null, { strides: 2 } as never)).toThrow('Expected one of stride, padding, dilation, groups for options key but received "strides"');
        expect(() => nn.maxPool2d(img, 2, { strde: 1 } as never)).toThrow('Expected one of stride, padding, ceilMode for options key');
        expect(() => nn.conv2d(img, ones([1, 1, 2, 2]), null, null as never)).toThrow('Expected an options object for options but received null');
        expect(() => nn.batchNorm(img, undefined as never)).toThrow('Expected an options object for options but received undefined');
        expect(() => nn.batchNorm(img, { training: true, epsilon: 1 } as never)).toThrow('received "epsilon"');
        expect(() => nn.batchNorm(img, {} as never)).toThrow('Expected true or false for options.training but received undefined');
        expect(() => nn.gridSample(img, zeros([1, 4, 4, 2]), { pading: 'border' } as never)).toThrow('received "pading"');
        expect(() => img.contiguous('channels-last' as never)).toThrow('Expected one of contiguous, channels_last for format but received "channels-last"');
        expect(() => img.isContiguous('foo' as never)).toThrow('for format but received "foo"');
        // as torch: argmax over all values keeps a dim of 1 for each
        expect(fromArray([1, 5, 2, 0], [2, 2]).argmax(undefined, true).shape).toEqual([1, 1]);
        expect(fromArray([1, 5, 2, 0], [2, 2]).argmax(undefined, true).toArray()).toEqual([1]);
        expect(fromArray([1, 2], [1, 2]).pad([1, 0], 'constant', NaN).toArray()).toEqual([NaN, 1, 2]);
        expect(() => fromArray([1, 2]).pad([1, 0], 'constant', '0' as never)).toThrow('Expected a number (NaN and infinities included) for value');
        // Sizes whose byte count overflowed were reported as needing 0 or 2^64 - 4 bytes.
        expect(() => fromArray(new Uint8Array(4), [2 ** 40, 2 ** 40], 'uint8')).toThrow('shape has more elements than a tensor can hold (more than 2^63 bytes)');
        expect(() => fromArray(new Uint8Array(4), [2 ** 32 + 1, 2 ** 32 - 1, 4], 'uint8')).toThrow('shape has more elements than a tensor can hold');
        // initWeight: a tensor, of floats; nothing to draw in an empty one (as PyTorch)
        expect(() => initWeight([1, 2] as never)).toThrow('Expected a Tensor for weight but received [1, 2] of type array');
        expect(() => initWeight(zeros([4, 3], { dtype: 'int64' }))).toThrow('Expected a floating-point tensor (float32, float64, float16 or bfloat16) for weight but received a tensor of dtype int64');
        const empty = zeros([4, 0, 3, 3]);
        initWeight(empty, { init: 'kaiming-uniform' });
        expect(empty.shape).toEqual([4, 0, 3, 3]);
      });
      // saveCheckpoint wrote files loadCheckpoint then refused as corrupt; its arguments gave TypeErrors.
      const sgd = new SGD(network.parameterList());
      const other = new SGD([ones([1]).requiresGrad_()]);
      try {
        expect(() => saveCheckpoint(file, network, sgd, { epoch: 3, history: [], config: {} })).toThrow('Expected a list of 3 epoch records, one per epoch completed for state.history but received [] of type array');
        expect(() => saveCheckpoint(file, network, sgd, { epoch: 1.5, history: [], config: {} })).toThrow('Expected an integer in [0, 9007199254740991] for state.epoch but received 1.5');
        expect(() => saveCheckpoint(file, network, sgd, undefined as never)).toThrow('Expected an object { epoch, history, config } for state but received undefined');
        expect(() => saveCheckpoint(file, {} as never, sgd, { epoch: 0, history: [], config: {} })).toThrow('Expected a Network (from buildNetwork) for net');
        expect(() => saveCheckpoint(file, network, other, { epoch: 0, history: [], config: {} })).toThrow(
          `Expected the SGD of this network's parameters (new SGD(net.parameterList()), ${network.parameters.size} tensors) for sgd but received an SGD of 1 other tensors`,
        );
        saveCheckpoint(file, network, sgd, { epoch: 0, history: [], config: {} });
        expect(() => loadCheckpoint(file, network, sgd, undefined as never)).toThrow('Expected the config to resume with (compared with the one saved) for config but received undefined');
        expect(() => loadCheckpoint(file, {} as never, sgd, {})).toThrow('Expected a Network (from buildNetwork) for net');
        expect(loadCheckpoint(file, network, sgd, {}).epoch).toBe(0);
      } finally {
        sgd.dispose();
        other.params[0].dispose();
        other.dispose();
      }
    } finally {
      network.dispose();
    }
    // At most: across the awaits the GC may free a tensor an earlier test file let go of (the count is the process's).
    expect(liveTensors()).toBeLessThanOrEqual(base);
  });

  test('a fourth exploratory session (2026-12-02): sizes LibTorch truncated, and positional arguments named', () => {
    const base = liveTensors();
    tidy(() => {
      const img = arange(0, 16).reshape([1, 1, 4, 4]);
      // LibTorch 1.13 keeps these in 32 bits: a kernel of 2^32 + 2 pooled as 2 and gave the whole input's mean.
      expect(() => nn.avgPool2d(img, 2 ** 32 + 2)).toThrow('Expected a positive integer up to 2^31 - 1, or a pair of them for kernel but received 4294967298');
      expect(() => nn.conv2d(img, ones([1, 1, 2, 2]), null, { dilation: 2 ** 32 + 1 })).toThrow('for dilation but received 4294967297');
      expect(() => nn.maxPool2d(img, 2, { padding: [0, 2 ** 40] })).toThrow('for padding but received [0, 1099511627776]');
      // The addon's "argument 2 must be ..." counted the tensor itself, and a null Tensor was a TypeError about .handle.
      const m = fromArray([1, 2, 3, 4], [2, 2]);
      expect(() => m.transpose(0, undefined as never)).toThrow('Expected an integer for dim1 but received undefined');
      expect(() => m.sum(true as never)).toThrow('Expected a dim or a list of dims (integers) for dims but received true');
      expect(() => m.argmax(0, 'yes' as never)).toThrow('Expected true or false for keepdim but received "yes"');
      expect(() => m.narrow(0, 0.5, 1)).toThrow('Expected an integer for start but received 0.5');
      expect(() => m.indexSelect(0, null as never)).toThrow('Expected a Tensor for index but received null');
      expect(() => m.gather(1, [0, 1] as never)).toThrow('Expected a Tensor for index but received [0, 1]');
      expect(() => m.matmul([1, 2] as never)).toThrow('Expected a Tensor for other but received [1, 2]');
      expect(() => m.requiresGrad_('yes' as never)).toThrow('Expected true or false for on');
      expect(() => nn.dropout(m, 0.5, undefined as never)).toThrow('Expected true or false for training but received undefined');
      expect(() => nn.logSoftmax(m, '0' as never)).toThrow('Expected an integer for dim but received "0"');
      expect(() => tidy(5 as never)).toThrow('Expected a function whose tensors tidy frees (tidy(() => ...)) for fn but received 5');
      const leaf = ones([2]).requiresGrad_();
      leaf.mul(3).sum().backward(null); // PyTorch's backward(None)
      expect(leaf.grad!.toArray()).toEqual([3, 3]);
      const probabilities = nn.softmax(fromArray([1, 2, 3])).toArray();
      const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
      [1, 2, 3].forEach((v, k) => expect(probabilities[k]).toBeCloseTo(Math.exp(v) / z, 6));
      const sgd = new SGD([leaf]);
      sgd.dispose();
      expect(() => sgd.step(0.1)).toThrow('SGD.step: this optimiser was disposed (its momentum buffers are freed); make a new SGD');
      // and the right ones still work
      expect(m.transpose(0, 1).toArray()).toEqual([1, 3, 2, 4]);
      expect(m.sum([0, 1]).item()).toBe(10);
    });
    expect(liveTensors()).toBe(base);
  });
});
