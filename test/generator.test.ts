/**
 * Random generators of one's own: they draw what the global generator draws
 * after the same seed, global draws do not disturb them, and runs trained at
 * once in one process compute what each computes alone.
 */
import { Dataset, loadCifar10 } from '../lib/data/dataset';
import { applyAugmentation, augmentBatch } from '../lib/data/augment';
import { manualSeed, ones, rand, randint, randn, randperm, zeros } from '../lib/creation';
import * as F from '../lib/functional';
import { Generator } from '../lib/generator';
import { initWeight } from '../lib/init';
import { buildNetwork } from '../lib/model/network';
import { native } from '../lib/native';
import { tidy } from '../lib/scope';
import { Tensor } from '../lib/tensor';
import type { TrainConfig } from '../lib/train/config';
import { trainModel, TrainResult } from '../lib/train/train';
import { MODELS } from '../models';
import { tempDirs } from './tmp';

process.env.ALLCNN_DATA = tempDirs('generator')();

const values = (f: () => Tensor) => tidy(() => f().toArray());

test('a generator seeded with s draws what the global generator draws after manualSeed(s), whatever is drawn from the global one meanwhile', () => {
  const draws = (g?: Generator) => [
    values(() => rand([4], { generator: g })),
    values(() => randn([4], { generator: g })),
    values(() => randint(0, 1000, [4], { generator: g })),
    values(() => randperm(8, { generator: g })),
    values(() => zeros([4]).uniform_(-1, 1, g)),
    values(() => zeros([4]).normal_(0, 2, g)),
    values(() => F.dropout(ones([2, 8]), 0.5, true, g)),
  ];
  manualSeed(11);
  const global = draws();
  const g = new Generator(11);
  manualSeed(99);
  const own = draws(g).map((v) => {
    rand([100]); // a draw from the global generator between two of g's changes nothing
    return v;
  });
  expect(own).toEqual(global);
  expect(values(() => rand([4], { generator: g.manualSeed(11) }))).toEqual(global[0]); // manualSeed restarts it
  expect([new Generator().seed, g.seed, g.manualSeed(2 ** 40).seed]).toEqual([0, 11, 2 ** 40]);
  // randint and randperm take a device alone, or { device, generator }.
  expect(values(() => randint(0, 1000, [4], 'cpu'))).toHaveLength(4);
  manualSeed(3);
  expect(values(() => randperm(8, { device: 'cpu', generator: g.manualSeed(3) }))).toEqual(values(() => randperm(8)));
});

test("buildNetwork draws the initial weights from a generator of their own: the global generator's sequence is left as it was", () => {
  manualSeed(5);
  const expected = values(() => rand([3]));
  manualSeed(5);
  const net = buildNetwork(MODELS['strided-cnn-a'], { seed: 2 });
  const again = buildNetwork(MODELS['strided-cnn-a'], { seed: 2 });
  expect(values(() => rand([3]))).toEqual(expected);
  expect(net.parameters.get('conv1.weight')!.toArray()).toEqual(again.parameters.get('conv1.weight')!.toArray());
  net.dispose();
  again.dispose();
});

test('augmentation draws from the generator it is given', () => {
  const x = tidy(() => rand([6, 3, 8, 8]));
  const o = { flip: true, translate: 2, scale: [0.9, 1.1] as [number, number], colorJitter: { brightness: 0.2, contrast: 0.2, saturation: 0.2 } };
  const g = new Generator(4);
  const first = values(() => applyAugmentation(x, o, g));
  rand([10]);
  expect(values(() => applyAugmentation(x, o, g.manualSeed(4)))).toEqual(first);
  x.dispose();
});

test('a bad generator argument is refused with a message that says what to pass', () => {
  const g = new Generator(1);
  expect(() => rand([2], { generator: {} as never })).toThrow('Expected a Generator (new Generator(seed, device)) for options.generator');
  // Given the wrong way, it would otherwise draw from the global generator unnoticed.
  expect(() => rand([2], g as never)).toThrow('Expected an options object such as { generator } for options but received Generator of type object');
  expect(() => randn([2], { generater: g } as never)).toThrow('Expected one of dtype, device, generator for options key but received "generater"');
  expect(() => initWeight(zeros([2, 2]), g as never)).toThrow('an options object such as { generator }');
  expect(() => (randint as Function)(0, 9, [2], 'cpu', g)).toThrow('randint takes its device and generator in one options argument, { device, generator }, not as further arguments');
  expect(() => (randperm as Function)(4, 'cpu', g)).toThrow('randperm takes its device and generator in one options argument');
  expect(() => randperm(4, g as never)).toThrow('Expected an options object such as { generator } for options');
  expect(() => randint(0, 9, [2], { generator: g, dtype: 'int32' } as never)).toThrow('Expected one of device, generator for options key but received "dtype"');
  expect(() => randint(0, 9, [2], { device: 'gpu' as never })).toThrow('for options.device');
  expect(() => initWeight(zeros([2, 2]), { generater: g } as never)).toThrow('Expected one of init, std, generator for options key');
  // A forged Generator has no native generator: it is refused, not taken for "none".
  const forgedGenerator = Object.create(Generator.prototype) as Generator;
  expect(() => rand([2], { generator: forgedGenerator })).toThrow('Expected a Generator (new Generator(seed, device)) for options.generator but received Generator of type object');
  // Refused whether or not a draw happens.
  expect(() => augmentBatch(zeros([1, 3, 4, 4]), {}, 'oops' as never)).toThrow('Expected a Generator');
  const net = buildNetwork(MODELS['strided-cnn-a']);
  expect(() => net.forward(zeros([1, 3, 32, 32]), false, undefined, 'oops' as never)).toThrow('Expected a Generator');
  net.dispose();
  expect(() => rand([2], { generator: Generator as never })).toThrow('for options.generator but received Generator of type function');
  expect(() => F.dropout(ones([2]), 0.5, true, 3 as never)).toThrow('Expected a Generator');
  expect(() => new Generator(-1)).toThrow('Expected an integer in [0, 9007199254740991] for seed but received -1');
  expect(() => new Generator(0, 'gpu')).toThrow('Expected a device ("cpu", "cuda" or "cuda:N") for device');
  expect(() => new Generator(1.5)).toThrow('for seed');
  const forged = Object.create(Generator.prototype) as Generator;
  expect(() => forged.manualSeed(1)).toThrow('Expected a Generator made by new Generator(seed, device) for manualSeed but received Generator of type object');
  const network = buildNetwork(MODELS['strided-cnn-a']);
  const options = { momentum: 0.9, weightDecay: 0, nesterov: false, labelSmoothing: 0, channelsLast: false, autocast: null, generator: {} as never };
  expect(() => native().net_create(network.nativeProgram(), network.parameterList().map((p) => p.handle), [], [], options))
    .toThrow('net_create: argument 4 must be options whose generator is a Generator');
  network.dispose();
});

describe('runs trained at once', () => {
  let sample: Dataset;
  beforeAll(async () => {
    sample = await loadCifar10(undefined, { prep: 'std', limit: 96, testLimit: 32, validation: 32 });
  });
  afterAll(() => sample.dispose());

  // Dropout, flips and translations, so that every kind of draw is exercised.
  const run = (model: 'strided-cnn-a' | 'all-cnn-a', seed: number, engine: TrainConfig['engine']) => trainModel(
    { model, epochs: 2, batchSize: 16, lr: 0.05, seed, engine, augment: { flip: true, translate: 2 }, stallEpochs: 0, prep: 'std' },
    { dataset: sample },
  );
  const outcome = (r: TrainResult) => [r.history.map((h) => [h.loss, h.trainAccuracy, h.valLoss]), r.test.loss];

  test('compute bit for bit what each computes alone (native and TypeScript engines)', async () => {
    const a = outcome(await run('strided-cnn-a', 1, 'native'));
    const b = outcome(await run('all-cnn-a', 2, 'native'));
    const c = outcome(await run('strided-cnn-a', 3, 'typescript'));
    const together = await Promise.all([run('strided-cnn-a', 1, 'native'), run('all-cnn-a', 2, 'native'), run('strided-cnn-a', 3, 'typescript')]);
    expect(together.map(outcome)).toEqual([a, b, c]);
  });
});
