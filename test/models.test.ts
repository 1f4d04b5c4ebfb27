/**
 * The twelve networks of the paper as data: exact parameter counts, geometry,
 * forward shapes, TypeScript forward == native forward, the declaration
 * language (parseLayer / declareNetwork errors), and a user-declared network
 * with batch normalisation trained by the native step.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportWeights, importWeights, saveCheckpoint } from '../lib/train/checkpoint';
import { noGrad } from '../lib/autograd';
import { ensureDefaultThreads, liveTensors } from '../lib/backend';
import { fromArray, full, manualSeed, randn, zeros } from '../lib/creation';
import { CheckpointError, ModelDeclarationError } from '../lib/errors';
import { saveSafetensors } from '../lib/io/safetensors';
import { countFlops } from '../lib/model/flops';
import { buildNetwork } from '../lib/model/network';
import { countParameters, declareNetwork, formatLayer, inferShapes, LayerSpec, parseLayer } from '../lib/model/spec';
import { native } from '../lib/native';
import { tidy } from '../lib/scope';
import { Tensor, wrap } from '../lib/tensor';
import { SGD } from '../lib/train/optim';
import { createNativeNet } from '../lib/train/train';
import { MODEL_IDS, MODELS } from '../models';

const EVAL_ONLY = { momentum: 0, weightDecay: 0, labelSmoothing: 0, channelsLast: false, precision: 'fp32' as const };

/** Exact weights + biases for 10 classes (the paper's Table 3 rounded them). */
const EXACT: Record<string, [string, number]> = {
  a: ['A', 839_242],
  'strided-cnn-a': ['Strided-CNN-A', 839_242],
  'convpool-cnn-a': ['ConvPool-CNN-A', 1_254_250],
  'all-cnn-a': ['ALL-CNN-A', 1_254_250],
  b: ['B', 885_610],
  'strided-cnn-b': ['Strided-CNN-B', 885_610],
  'convpool-cnn-b': ['ConvPool-CNN-B', 1_300_618],
  'all-cnn-b': ['ALL-CNN-B', 1_300_618],
  c: ['C', 954_730],
  'strided-cnn-c': ['Strided-CNN-C', 954_730],
  'convpool-cnn-c': ['ConvPool-CNN-C', 1_369_738],
  'all-cnn-c': ['ALL-CNN-C', 1_369_738],
};

/** The top's last 1x1 conv has 192*K + K parameters, so 100 classes add 90*193. */
const WITH_100 = (n: number) => n + 90 * 193;

const REFERENCE_CANDIDATES = [
  process.env.ALLCNN_REFERENCE,
  path.resolve(__dirname, '../../../shared/reference/all-cnn-paper.json'),
  path.resolve(__dirname, '../../shared/reference/all-cnn-paper.json'),
].filter((p): p is string => typeof p === 'string');

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return tidy(() => a.sub(b).abs().max().item());
}

beforeAll(() => {
  ensureDefaultThreads();
});

describe('the twelve networks', () => {
  test('all twelve are declared, in the order of Table 3', () => {
    expect(MODEL_IDS).toEqual(Object.keys(EXACT));
    for (const id of MODEL_IDS) expect(MODELS[id].name).toBe(EXACT[id][0]);
  });

  test.each(MODEL_IDS)('%s: exact parameter count from countParameters and from a built Network', (id) => {
    const spec = MODELS[id];
    const [, exact] = EXACT[id];
    expect(countParameters(spec, { classes: 10 })).toBe(exact);
    expect(countParameters(spec, { classes: 100 })).toBe(WITH_100(exact));
    const base = liveTensors();
    const net = buildNetwork(spec);
    try {
      expect(net.parameterCount()).toBe(exact);
      expect(net.buffers.size).toBe(0); // no batch norm in the paper's networks
      for (const [name, t] of net.parameters) {
        expect(t.requiresGrad).toBe(true);
        expect(name).toMatch(/^conv\d+\.(weight|bias)$/);
      }
    } finally {
      net.dispose();
    }
    expect(liveTensors()).toBe(base);
  });

  test('the counts equal params_exact in the shared reference, when present', () => {
    const file = REFERENCE_CANDIDATES.find((f) => fs.existsSync(f));
    if (!file) return; // the reference is optional
    const ref = JSON.parse(fs.readFileSync(file, 'utf8')) as { cifar10_no_augmentation: Array<{ model: string; params_exact: number }> };
    const rows = ref.cifar10_no_augmentation;
    expect(rows).toHaveLength(12);
    for (const id of MODEL_IDS) {
      const row = rows.find((r) => r.model === MODELS[id].name);
      expect(row).toBeDefined();
      expect(countParameters(MODELS[id], { classes: 10 })).toBe(row!.params_exact);
      expect(EXACT[id][1]).toBe(row!.params_exact);
    }
  });

  test.each(MODEL_IDS)('%s: geometry 32 -> 16 -> 8 -> 6 -> [classes]', (id) => {
    const spec = MODELS[id];
    for (const classes of [10, 100]) {
      const shapes = inferShapes(spec, { classes });
      expect(shapes).toHaveLength(spec.layers.length);
      const sides: number[] = [];
      for (const s of shapes) if (s.length === 3 && sides[sides.length - 1] !== s[1]) sides.push(s[1]);
      expect(sides).toEqual([32, 16, 8, 6]);
      for (const s of shapes) if (s.length === 3) expect(s[1]).toBe(s[2]);
      expect(shapes[shapes.length - 1]).toEqual([classes]);
      // the top: 3x3 valid conv 192 at 6x6, 1x1 conv 192, 1x1 conv classes, gap, softmax
      const n = shapes.length;
      expect(shapes.slice(n - 5)).toEqual([[192, 6, 6], [192, 6, 6], [classes, 6, 6], [classes], [classes]]);
      // the widths: 96 filters at 32x32, 192 at 8x8 (before the top)
      const convs = shapes.filter((_, i) => spec.layers[i].kind === 'conv');
      for (const s of convs) if (s[1] === 32) expect(s[0]).toBe(96);
      for (const s of convs.slice(0, -3)) if (s[1] === 8) expect(s[0]).toBe(192);
    }
    expect(spec.layers[0]).toEqual({ kind: 'dropout', p: 0.2 });
    expect(spec.layers.filter((l) => l.kind === 'dropout').map((l) => (l as { p: number }).p)).toEqual([0.2, 0.5, 0.5]);
    expect(spec.layers[spec.layers.length - 1]).toEqual({ kind: 'softmax' });
    // ReLU after every convolution, the last one included
    for (const l of spec.layers) if (l.kind === 'conv') expect(l.relu).toBe(true);
  });

  test.each(MODEL_IDS)('%s: forward shapes [2,10] and [2,100] on random input', (id) => {
    const base = liveTensors();
    for (const classes of [10, 100]) {
      const net = buildNetwork(MODELS[id], { classes, seed: 1 });
      try {
        expect(net.classes).toBe(classes);
        const shape = tidy(() => {
          manualSeed(3);
          const out = net.forward(randn([2, 3, 32, 32]), false);
          expect(out.dtype).toBe('float32');
          expect(tidy(() => out.isnan().sum().item())).toBe(0);
          return out.shape;
        });
        expect(shape).toEqual([2, classes]);
      } finally {
        net.dispose();
      }
    }
    expect(liveTensors()).toBe(base);
  });

  test.each(MODEL_IDS)('%s: TypeScript forward equals the native forward (eval mode)', (id) => {
    const base = liveTensors();
    for (const finalRelu of [true, false]) {
      const net = buildNetwork(MODELS[id], { seed: 7, finalRelu });
      const handle = createNativeNet(net, null, EVAL_ONLY);
      try {
        tidy(() => {
          manualSeed(11);
          const x = randn([2, 3, 32, 32]).mul(2);
          const ts = net.forward(x, false);
          const nat = wrap(native().net_forward(handle, x.handle, false));
          expect(nat.shape).toEqual([2, 10]);
          expect(maxAbsDiff(ts, nat)).toBeLessThanOrEqual(1e-5);
          // a meaningful comparison: the scores are not all zero
          expect(tidy(() => ts.abs().max().item())).toBeGreaterThan(1e-4);
        });
      } finally {
        native().net_release(handle);
        net.dispose();
      }
    }
    expect(liveTensors()).toBe(base);
  });

  test('an evaluation-only native net refuses to train', () => {
    const net = buildNetwork(MODELS['all-cnn-c'], { seed: 0 });
    const handle = createNativeNet(net, null, EVAL_ONLY);
    try {
      tidy(() => {
        const x = randn([2, 3, 32, 32]);
        const y = fromArray([1, 2], [2], 'int64');
        expect(() => native().net_train_step_sync(handle, x.handle, y.handle, 0.1)).toThrow('can only evaluate');
      });
    } finally {
      native().net_release(handle);
      net.dispose();
    }
  });

  test('finalRelu: true gives scores >= 0, false lets them be negative', () => {
    const spec = MODELS['all-cnn-c'];
    const withRelu = buildNetwork(spec, { seed: 5 });
    const without = buildNetwork(spec, { seed: 5, finalRelu: false });
    try {
      tidy(() => {
        manualSeed(2);
        const x = randn([8, 3, 32, 32]).mul(3);
        const a = withRelu.forward(x, false);
        const b = without.forward(x, false);
        expect(a.min().item()).toBeGreaterThanOrEqual(0);
        expect(b.min().item()).toBeLessThan(0);
        // Same weights (same seed): a = mean(relu(z)) >= mean(z) = b.
        expect(a.sub(b).min().item()).toBeGreaterThanOrEqual(-1e-6);
      });
      // only the last convolution loses its ReLU
      const progA = withRelu.nativeProgram().filter((l) => l.kind === 'relu').length;
      const progB = without.nativeProgram().filter((l) => l.kind === 'relu').length;
      expect(progB).toBe(progA - 1);
      expect(without.layers.filter((l) => l.spec.kind === 'conv' && !l.spec.relu).map((l) => l.name)).toEqual(['conv9']);
      // the shared declaration is not modified
      expect(spec.layers.filter((l) => l.kind === 'conv').every((l) => (l as { relu: boolean }).relu)).toBe(true);
    } finally {
      withRelu.dispose();
      without.dispose();
    }
  });

  test('the same seed builds the same weights', () => {
    const a = buildNetwork(MODELS['strided-cnn-a'], { seed: 42 });
    const b = buildNetwork(MODELS['strided-cnn-a'], { seed: 42 });
    const c = buildNetwork(MODELS['strided-cnn-a'], { seed: 43 });
    try {
      for (const [name, t] of a.parameters) expect(maxAbsDiff(t, b.parameters.get(name)!)).toBe(0);
      expect(maxAbsDiff(a.parameters.get('conv1.weight')!, c.parameters.get('conv1.weight')!)).toBeGreaterThan(0);
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });
});

describe("countFlops (the benchmark's TFLOP/s): against a count by hand from the paper's tables", () => {
  // A k x k convolution costs 2 * Cout * Cin * k * k * Hout * Wout. Padded
  // convolutions keep their input's size, pooling or a /2 convolution halves
  // it, and the top's unpadded 3x3 takes 8x8 to 6x6, then two 1x1s.
  const conv = (cout: number, cin: number, k: number, size: number) => 2 * cout * cin * k * k * size * size;
  const top = conv(192, 192, 3, 6) + conv(192, 192, 1, 6) + conv(10, 192, 1, 6);

  test('ALL-CNN-C: 541,596,672 per image forward, 3x that to train', () => {
    const forward = conv(96, 3, 3, 32) + conv(96, 96, 3, 32) + conv(96, 96, 3, 16)
      + conv(192, 96, 3, 16) + conv(192, 192, 3, 16) + conv(192, 192, 3, 8) + top;
    expect(forward).toBe(541_596_672);
    expect(countFlops(MODELS['all-cnn-c'], { classes: 10 })).toEqual({ forward, training: 3 * forward });
  });

  test('Model A (pooling costs nothing) and Strided-CNN-A (its 5x5 convolutions at stride 2)', () => {
    expect(countFlops(MODELS.a, { classes: 10 }).forward).toBe(conv(96, 3, 5, 32) + conv(192, 96, 5, 16) + top);
    expect(countFlops(MODELS['strided-cnn-a'], { classes: 10 }).forward).toBe(conv(96, 3, 5, 16) + conv(192, 96, 5, 8) + top);
  });

  test('a fully-connected layer costs 2 * out * in, on what flatten gives it', () => {
    const net = declareNetwork('FC', 'a convolution, then two fully-connected layers', ['conv 3x3 8 /2 relu', 'flatten', 'fc 32 relu', 'fc classes', 'softmax']);
    expect(countFlops(net, { classes: 10 }).forward).toBe(conv(8, 3, 3, 16) + 2 * 32 * (8 * 16 * 16) + 2 * 10 * 32);
  });
});

describe('parseLayer: the vocabulary', () => {
  const cases: Array<[string, LayerSpec]> = [
    ['dropout 0.2', { kind: 'dropout', p: 0.2 }],
    ['dropout 0', { kind: 'dropout', p: 0 }],
    ['conv 5x5 96 relu', { kind: 'conv', kernel: 5, filters: 96, stride: 1, padding: 2, batchNorm: false, relu: true }],
    ['conv 3x3 96 /2 relu', { kind: 'conv', kernel: 3, filters: 96, stride: 2, padding: 1, batchNorm: false, relu: true }],
    ['conv 3x3 192 valid relu', { kind: 'conv', kernel: 3, filters: 192, stride: 1, padding: 0, batchNorm: false, relu: true }],
    ['conv 1x1 classes relu', { kind: 'conv', kernel: 1, filters: 'classes', stride: 1, padding: 0, batchNorm: false, relu: true }],
    ['conv 3x3 96 bn relu', { kind: 'conv', kernel: 3, filters: 96, stride: 1, padding: 1, batchNorm: true, relu: true }],
    ['conv 3x3 8 same', { kind: 'conv', kernel: 3, filters: 8, stride: 1, padding: 1, batchNorm: false, relu: false }],
    ['maxpool 3x3 /2', { kind: 'maxpool', kernel: 3, stride: 2, padding: 1 }],
    ['avgpool 3x3 /2', { kind: 'avgpool', kernel: 3, stride: 2, padding: 1 }],
    ['maxpool 3x3', { kind: 'maxpool', kernel: 3, stride: 3, padding: 1 }],
    ['gap', { kind: 'gap' }],
    ['flatten', { kind: 'flatten' }],
    ['fc 192 relu', { kind: 'fc', units: 192, batchNorm: false, relu: true }],
    ['fc 64 bn relu', { kind: 'fc', units: 64, batchNorm: true, relu: true }],
    ['fc classes', { kind: 'fc', units: 'classes', batchNorm: false, relu: false }],
    ['softmax', { kind: 'softmax' }],
    ['  conv   3x3   96   relu  ', { kind: 'conv', kernel: 3, filters: 96, stride: 1, padding: 1, batchNorm: false, relu: true }],
  ];
  test.each(cases)('%j', (line, expected) => {
    expect(parseLayer(line)).toEqual(expected);
  });

  test.each(cases)('formatLayer writes %j back as a line that parses to the same layer', (_, layer) => {
    expect(parseLayer(formatLayer(layer)!)).toEqual(layer);
  });

  test('formatLayer: every layer of the twelve networks, as the paper writes it; null where no line can say it', () => {
    for (const id of MODEL_IDS) for (const l of MODELS[id].layers) expect(parseLayer(formatLayer(l)!)).toEqual(l);
    expect(MODELS['all-cnn-c'].layers.map((l) => formatLayer(l))).toEqual([
      'dropout 0.2', 'conv 3x3 96 relu', 'conv 3x3 96 relu', 'conv 3x3 96 /2 relu', 'dropout 0.5', 'conv 3x3 192 relu', 'conv 3x3 192 relu',
      'conv 3x3 192 /2 relu', 'dropout 0.5', 'conv 3x3 192 valid relu', 'conv 1x1 192 relu', 'conv 1x1 classes relu', 'gap', 'softmax',
    ]);
    expect(formatLayer({ kind: 'conv', kernel: 5, filters: 8, stride: 1, padding: 1, batchNorm: false, relu: false })).toBeNull();
  });

  test('the twelve declarations use only conv, maxpool, dropout, gap and softmax; Strided and ALL have no pooling', () => {
    for (const id of MODEL_IDS) {
      for (const l of MODELS[id].layers) expect(l.kind).toMatch(/^(conv|maxpool|dropout|gap|softmax)$/);
      const pools = MODELS[id].layers.filter((l) => l.kind === 'maxpool').length;
      expect(pools).toBe(/^(strided|all)-/.test(id) ? 0 : 2);
    }
  });
});

describe('malformed declarations name the network and the layer', () => {
  const TOP = ['gap', 'fc classes'];
  const declare = (layers: string[]) => () => declareNetwork('Net', 'a test network', layers);
  const cases: Array<[string, string[], string]> = [
    ['an unknown layer kind', ['conv 3x3 16 relu', 'pool 2x2', ...TOP],
      'Net: layer 2 "pool 2x2": unknown layer "pool" (conv, maxpool, avgpool, dropout, gap, flatten, fc, softmax)'],
    ['a bad kernel', ['conv 3x 16 relu', ...TOP], 'Net: layer 1 "conv 3x 16 relu": expected a kernel size like 3x3, got "3x"'],
    ['a missing kernel', ['maxpool', ...TOP], 'Net: layer 1 "maxpool": expected a kernel size like 3x3, got ""'],
    ['a non-square kernel', ['conv 3x5 16', ...TOP], 'Net: layer 1 "conv 3x5 16": only square kernels are supported'],
    ['a zero kernel', ['conv 0x0 16', ...TOP], 'Net: layer 1 "conv 0x0 16": kernel size must be at least 1'],
    ['a missing width', ['conv 3x3 relu', ...TOP], 'Net: layer 1 "conv 3x3 relu": expected a number of filters or "classes", got ""'],
    ['a zero width', ['conv 3x3 0', ...TOP], 'Net: layer 1 "conv 3x3 0": expected a number of filters or "classes", got "0"'],
    ['a missing fc width', ['gap', 'fc relu'], 'Net: layer 2 "fc relu": expected a number of units or "classes", got ""'],
    ['a stride /0', ['conv 3x3 16 /0 relu', ...TOP], 'Net: layer 1 "conv 3x3 16 /0 relu": expected a stride like /2, got "/0"'],
    ['a stride without slash', ['maxpool 3x3 2', ...TOP], 'Net: layer 1 "maxpool 3x3 2": expected a stride like /2, got "2"'],
    ['an extra word', ['conv 3x3 16 /2 7', ...TOP], 'Net: layer 1 "conv 3x3 16 /2 7": unexpected "7"'],
    ['a flag that does not apply', ['maxpool 3x3 /2 relu', ...TOP], 'Net: layer 1 "maxpool 3x3 /2 relu": "relu" does not apply to maxpool'],
    ['valid on fc', ['gap', 'fc 10 valid'], 'Net: layer 2 "fc 10 valid": "valid" does not apply to fc'],
    ['a bad dropout', ['dropout 1', ...TOP], 'Net: layer 1 "dropout 1": expected a probability in [0, 1) such as 0.5, got "1"'],
    ['a missing dropout', ['dropout', ...TOP], 'Net: layer 1 "dropout": expected a probability in [0, 1) such as 0.5, got ""'],
    ['gap with an argument', ['conv 3x3 10', 'gap 2'], 'Net: layer 2 "gap 2": unexpected "2"'],
    ['no class scores at the end', ['conv 3x3 16 relu', 'gap'], "Net: the network must end in 10 class scores, but its output is [16]: write 'classes' for the class count ('conv 1x1 classes', 'fc classes'), which buildNetwork's classes option sets"],
    ['a misspelt flag', ['conv 3x3 96 rleu', ...TOP], 'Net: layer 1 "conv 3x3 96 rleu": unknown word "rleu" (conv takes a stride like /2 and the flags relu, bn, valid, same)'],
    ['both paddings', ['conv 3x3 8 valid same', ...TOP], 'Net: layer 1 "conv 3x3 8 valid same": padding is either valid or same, not both'],
    ['a dropout Number() would read as 0', ['dropout 0x0', ...TOP], 'Net: layer 1 "dropout 0x0": expected a probability in [0, 1) such as 0.5, got "0x0"'],
    ['a width no device could hold', ['conv 1x1 99999999999999999999', ...TOP], 'Net: layer 1 "conv 1x1 99999999999999999999": 99999999999999999999 filters is more than 1,000,000'],
    ['softmax before the end', ['softmax', 'conv 1x1 classes', 'gap'], 'Net: layer 1 (softmax): softmax marks the output, so it can only be the last layer'],
    ['spatial output at the end', ['conv 3x3 classes relu'], 'Net: the network must end in 10 class scores, but its output is [10,32,32]'],
    ['a fc without gap/flatten', ['conv 3x3 16 relu', 'fc classes'], "Net: layer 2 (fc): needs a flat input; add 'gap' or 'flatten' before it"],
    ['a conv after gap', ['gap', 'conv 1x1 classes'], 'Net: layer 2 (conv): needs a [C,H,W] input but gets [3] (after gap/flatten)'],
    ['a window that does not fit', ['conv 33x33 16 valid', ...TOP], 'Net: layer 1 (conv): a 33x33 window does not fit a 32x32 input'],
    ['a window that stops fitting', ['conv 3x3 8 /16 valid', 'conv 3x3 8 valid', ...TOP], 'Net: layer 2 (conv): a 3x3 window does not fit a 2x2 input'],
  ];
  test.each(cases)('%s', (_what, layers, message) => {
    const run = declare(layers);
    expect(run).toThrow(ModelDeclarationError);
    let err: unknown;
    try {
      run();
    } catch (e) {
      err = e;
    }
    expect((err as Error).name).toBe('ModelDeclarationError');
    expect((err as Error).message).toBe(message);
  });

  test('an empty network', () => {
    expect(() => declareNetwork('Empty', 'none', [])).toThrow(new ModelDeclarationError('Empty: a network needs at least one layer'));
    expect(() => declareNetwork({ name: 'x', layers: ['conv 3x3 96'] } as never, '', [])).toThrow(
      new ModelDeclarationError('declareNetwork(name, description, layers) takes two strings and a list of layers, got object where a string belongs'),
    );
  });

  test('parseLayer alone names the default network and the given index', () => {
    expect(() => parseLayer('bogus')).toThrow('network: layer 1 "bogus": unknown layer "bogus"');
    expect(() => parseLayer('conv 3x3 16 /x', 'Mine', 4)).toThrow('Mine: layer 5 "conv 3x3 16 /x": expected a stride like /2, got "/x"');
  });

  test('inferShapes checks a smaller input size and other class counts', () => {
    const spec = MODELS['all-cnn-c'];
    expect(() => inferShapes(spec, { classes: 10, inputSize: 4 })).toThrow(ModelDeclarationError);
    expect(() => inferShapes(spec, { classes: 10, inputSize: 4 })).toThrow(/^ALL-CNN-C: layer \d+ \(conv\): a 3x3 window does not fit a 1x1 input$/);
    expect(inferShapes(spec, { classes: 10, inputSize: 64 }).slice(-1)[0]).toEqual([10]);
    expect(() => buildNetwork(spec, { inputSize: 4 })).toThrow(ModelDeclarationError);
  });

  test('shape and build options are checked: a missing class count or a misspelt key used to give NaN, or be ignored', () => {
    const spec = MODELS['all-cnn-c'];
    expect(() => countParameters(spec, {} as never)).toThrow('Expected an integer >= 1 for classes but received undefined of type undefined');
    expect(() => countParameters(spec, { clases: 100 } as never)).toThrow('Expected one of classes, inputChannels, inputSize for options key but received "clases"');
    expect(() => inferShapes(spec, { classes: 10, inputSize: 0 })).toThrow('Expected an integer >= 1 for inputSize but received 0');
    const live = liveTensors();
    expect(() => buildNetwork(spec, { clases: 100 } as never)).toThrow('for options key but received "clases" of type string');
    expect(liveTensors()).toBe(live);
  });

  test('typed layers can be mixed with lines', () => {
    const spec = declareNetwork('Mixed', 'typed', [{ kind: 'conv', kernel: 3, filters: 8, stride: 2, padding: 1, batchNorm: false, relu: true }, 'gap', 'fc classes']);
    expect(inferShapes(spec, { classes: 10 })).toEqual([[8, 16, 16], [8], [10]]);
    expect(countParameters(spec, { classes: 10 })).toBe(8 * 3 * 9 + 8 + 10 * 8 + 10);
  });
});

describe('declarations and builds that used to fail late or not at all', () => {
  test('pooling padded by more than half its window is refused at declaration, not at the first forward', () => {
    expect(() => declareNetwork('P', 'd', [{ kind: 'maxpool', kernel: 3, stride: 1, padding: 5 }, 'conv 1x1 classes', 'gap'])).toThrow('padding must be at most half the kernel (1)');
  });

  test('a network with a fixed output or input size is declared with what to check it for', () => {
    const hundred = declareNetwork('H', 'd', ['conv 1x1 100', 'gap'], { classes: 100 });
    const big = declareNetwork('Big', 'd', [...Array(20).fill('conv 3x3 8 valid relu'), 'conv 1x1 classes', 'gap'], { inputSize: 64 });
    const live = liveTensors();
    buildNetwork(hundred, { classes: 100 }).dispose();
    buildNetwork(big, { inputSize: 64 }).dispose();
    expect(liveTensors()).toBe(live);
  });

  test('build options are checked before any weight is made; a failed build frees what it made', () => {
    const live = liveTensors();
    const spec = MODELS['strided-cnn-a'];
    expect(() => buildNetwork(spec, { finalRelu: 'no' } as never)).toThrow('Expected true or false for finalRelu but received "no"');
    expect(() => buildNetwork(spec, { channelsLast: 'false' } as never)).toThrow('for channelsLast');
    expect(() => buildNetwork(spec, { init: 'he' } as never)).toThrow('for init but received "he"');
    expect(() => buildNetwork(spec, { initStd: 0.1 })).toThrow("Expected no initStd unless init is 'gaussian'");
    expect(() => buildNetwork(spec, { init: 'gaussian', initStd: -1 })).toThrow('for initStd');
    // Allocation fails at the third layer: the first two layers' weights are freed.
    const huge = declareNetwork('Huge', 'd', ['conv 3x3 16 relu', 'conv 3x3 16 bn relu', 'conv 1x1 1000000', 'conv 1x1 1000000', 'conv 1x1 classes', 'gap']);
    expect(() => buildNetwork(huge)).toThrow();
    expect(liveTensors()).toBe(live);
  });

  test('forward refuses what is not a batch of the network\'s images, in words', () => {
    const live = liveTensors();
    const net = buildNetwork(MODELS['strided-cnn-a']);
    const one = randn([3, 32, 32]);
    const doubles = tidy(() => randn([2, 3, 32, 32]).to({ dtype: 'float64' }));
    try {
      expect(() => net.forward(one, false)).toThrow("Expected float32 images [N, 3, 32, 32] (the network's input) for x but received a float32 tensor of shape [3, 32, 32]");
      expect(() => net.forward(doubles, false)).toThrow('but received a float64 tensor of shape [2, 3, 32, 32]');
      tidy(() => {
        expect(() => net.forward(doubles.to({ dtype: 'float32' }).permute([0, 2, 3, 1]), false)).toThrow('of shape [2, 32, 32, 3]');
        expect(() => (net.forward as (x: Tensor) => Tensor)(one.unsqueeze(0))).toThrow('Expected true (dropout on, batch statistics) or false for training');
      });
    } finally {
      for (const t of [one, doubles]) t.dispose();
      net.dispose();
    }
    expect(liveTensors()).toBe(live);
  });

  test('importWeights: missing and unexpected tensors, a wrong shape, an integer tensor; a refused file changes no weight', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allcnn-weights-'));
    const live = liveTensors();
    const net = buildNetwork(MODELS['strided-cnn-a']);
    const file = path.join(dir, 'w.safetensors');
    /** Writes the network's tensor names filled with `value`, as `edit` changes them (no network name: another tool's file). */
    const save = (value: number, edit: (entries: Record<string, Tensor>) => void) => tidy(() => {
      const entries = Object.fromEntries([...net.parameters].map(([k, t]) => [k, full(t.shape, value)]));
      edit(entries);
      saveSafetensors(file, entries);
    });
    const sums = () => tidy(() => [...net.parameters.values()].map((t) => t.sum().item()));
    try {
      save(0, (e) => {
        delete e['conv5.weight'];
        delete e['conv5.bias'];
        e['head.weight'] = zeros([10, 192]);
      });
      let before = sums();
      expect(() => importWeights(file, net)).toThrow(CheckpointError);
      expect(() => importWeights(file, net)).toThrow(`${file}: does not match Strided-CNN-A (missing: conv5.weight, conv5.bias; unexpected: head.weight)`);
      expect(sums()).toEqual(before);
      // strict: false loads what matches by name and says what it left out.
      const some = importWeights(file, net, { strict: false });
      expect([some.loaded.length, some.missing, some.unexpected]).toEqual([8, ['conv5.weight', 'conv5.bias'], ['head.weight']]);
      expect(sums()).toEqual([0, 0, 0, 0, 0, 0, 0, 0, ...before.slice(8)]);

      // A wrong shape or an integer tensor is found before any weight is copied, even when it comes last.
      before = sums();
      save(0.25, (e) => { e['conv5.bias'] = zeros([11]); });
      expect(() => importWeights(file, net, { strict: false })).toThrow(`${file}: conv5.bias has shape [11] but Strided-CNN-A needs [10] (weights of another architecture?)`);
      save(0.25, (e) => { e['conv5.bias'] = zeros([10], { dtype: 'int64' }); });
      expect(() => importWeights(file, net)).toThrow(`${file}: conv5.bias is int64, not a floating-point tensor (weights are float32, float64, float16 or bfloat16)`);
      expect(sums()).toEqual(before);
    } finally {
      net.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(liveTensors()).toBe(live);
  });

  test('importWeights refuses another network whose tensors have the same names and shapes (A and Strided-CNN-A)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allcnn-weights-'));
    const strided = buildNetwork(MODELS['strided-cnn-a']);
    const a = buildNetwork(MODELS.a);
    try {
      const file = path.join(dir, 'w.safetensors');
      exportWeights(file, strided);
      expect(() => importWeights(file, a)).toThrow(`${file} holds the weights of Strided-CNN-A, not of A: build Strided-CNN-A to load them (or pass { strict: false } to load them by tensor name anyway)`);
      expect(importWeights(file, a, { strict: false }).loaded).toHaveLength(a.parameters.size);
      expect(importWeights(file, strided).loaded).toHaveLength(strided.parameters.size);
      // Skipped tensors are asked for: not missing, so strict loads the rest, and they keep their values.
      noGrad(() => strided.parameters.get('conv1.weight')!.fill_(0.5));
      const some = importWeights(file, strided, { skip: (k) => k.startsWith('conv1') });
      expect([some.skipped, some.missing, some.unexpected]).toEqual([['conv1.weight', 'conv1.bias'], [], []]);
      expect(some.loaded).toHaveLength(strided.parameters.size - 2);
      expect(new Set(strided.parameters.get('conv1.weight')!.data() as Float32Array)).toEqual(new Set([0.5]));
      // A training checkpoint (param.* names, momentum): said so, not listed as missing and unexpected tensors.
      const checkpoint = path.join(dir, 'checkpoint.safetensors');
      saveCheckpoint(checkpoint, strided, null, { epoch: 0, history: [], config: {} });
      for (const o of [{}, { strict: false }]) {
        expect(() => importWeights(checkpoint, strided, o)).toThrow(`${checkpoint}: a training checkpoint, not a weights file: load it with loadCheckpoint(), or pass the weights.safetensors written beside it`);
      }
      // Options and the network are checked, not used as they come.
      expect(() => importWeights(file, strided, { strict: 'no' as never })).toThrow('for strict but received "no"');
      expect(() => importWeights(file, strided, { skip: 5 as never })).toThrow('a function of a tensor name');
      expect(() => importWeights(file, null as never)).toThrow('Expected a Network (from buildNetwork) for net but received null');
      expect(() => exportWeights(file, strided, { datset: 'x' } as never)).toThrow('Expected one of dataset for options key but received "datset"');
    } finally {
      strided.dispose();
      a.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an empty batch goes through flatten', () => {
    const net = buildNetwork(declareNetwork('F', 'd', ['conv 3x3 4 /2 relu', 'flatten', 'fc classes']));
    tidy(() => expect(net.forward(randn([0, 3, 32, 32]), false).shape).toEqual([0, 10]));
    net.dispose();
  });

  test('batch norm after gap refuses a training batch of one (its running variance became NaN)', () => {
    const net = buildNetwork(declareNetwork('BN', 'd', ['conv 3x3 8 bn relu', 'gap', 'fc 32 bn relu', 'fc classes']));
    tidy(() => {
      expect(() => net.forward(randn([1, 3, 32, 32]), true)).toThrow('batch norm in training needs more than one value per channel, but its input is [1, 32]: a batch of 1 after gap or flatten (train with batches of 2 or more)');
      expect(net.forward(randn([1, 3, 32, 32]), false).shape).toEqual([1, 10]); // scoring one image is fine
      expect(net.buffers.get('fc1.bn.runningVar')!.isnan().sum().item()).toBe(0);
    });
    net.dispose();
  });
});

describe('a user-declared network with batch normalisation', () => {
  const spec = declareNetwork('Tiny-BN', 'conv + bn, pool, gap, fc', ['conv 3x3 16 bn relu', 'maxpool 2x2', 'gap', 'fc classes']);
  // conv: 16*3*9 weights, no bias, bn scale + shift; fc: 16*10 + 10
  const COUNT = 16 * 3 * 9 + 2 * 16 + 16 * 10 + 10;

  /** A learnable batch: each class has its own colour, plus noise. */
  function batchOf(n: number): { x: Tensor; y: Tensor } {
    return tidy(() => {
      manualSeed(123);
      const labels = Array.from({ length: n }, (_, i) => i % 10);
      const y = fromArray(labels, [n], 'int64');
      const colours = randn([10, 3, 1, 1]).mul(2);
      const x = colours.indexSelect(0, y).add(randn([n, 3, 32, 32]).mul(0.5));
      return { x, y };
    });
  }

  test('builds with BN parameters and buffers, and the counts agree', () => {
    const net = buildNetwork(spec, { seed: 0 });
    try {
      expect(countParameters(spec, { classes: 10 })).toBe(COUNT);
      expect(net.parameterCount()).toBe(COUNT);
      expect([...net.parameters.keys()]).toEqual(['conv1.weight', 'conv1.bn.weight', 'conv1.bn.bias', 'fc1.weight', 'fc1.bias']);
      expect([...net.buffers.keys()]).toEqual(['conv1.bn.runningMean', 'conv1.bn.runningVar']);
      expect(net.parameters.get('conv1.bn.weight')!.toArray()).toEqual(new Array(16).fill(1));
      expect(net.parameters.get('conv1.bn.bias')!.toArray()).toEqual(new Array(16).fill(0));
      expect(net.buffers.get('conv1.bn.runningMean')!.toArray()).toEqual(new Array(16).fill(0));
      expect(net.buffers.get('conv1.bn.runningVar')!.toArray()).toEqual(new Array(16).fill(1));
      const kinds = net.nativeProgram().map((l) => l.kind);
      expect(kinds).toEqual(['conv', 'batchnorm', 'relu', 'maxpool', 'gap', 'linear']);
      // a 16-filter conv with bn and no bias
      expect(net.nativeProgram()[0].bias).toBe(-1);
      tidy(() => {
        const out = net.forward(randn([4, 3, 32, 32]), false);
        expect(out.shape).toEqual([4, 10]);
      });
      // TS and native forward agree in eval mode (running statistics)
      const handle = createNativeNet(net, null, EVAL_ONLY);
      try {
        tidy(() => {
          const x = randn([4, 3, 32, 32]);
          expect(maxAbsDiff(net.forward(x, false), wrap(native().net_forward(handle, x.handle, false)))).toBeLessThanOrEqual(1e-5);
        });
      } finally {
        native().net_release(handle);
      }
    } finally {
      net.dispose();
    }
  });

  test('trains with the native step: the loss falls and the running statistics move', async () => {
    const base = liveTensors();
    const net = buildNetwork(spec, { seed: 0 });
    const sgd = new SGD(net.parameterList(), { momentum: 0.9, weightDecay: 0.0005 });
    const handle = createNativeNet(net, sgd, { momentum: 0.9, weightDecay: 0.0005, labelSmoothing: 0, channelsLast: false, precision: 'fp32' });
    const { x, y } = batchOf(40);
    try {
      const losses: number[] = [];
      for (let step = 0; step < 25; step++) {
        await native().net_train_step(handle, x.handle, y.handle, 0.05);
        const m = native().net_take_metrics(handle);
        expect(m.seen).toBe(40);
        losses.push(m.loss);
      }
      expect(losses.every(Number.isFinite)).toBe(true);
      const first = (losses[0] + losses[1] + losses[2]) / 3;
      const last = (losses[22] + losses[23] + losses[24]) / 3;
      expect(last).toBeLessThan(first * 0.7);
      // running statistics were updated by the training-mode batch norm
      const rm = net.buffers.get('conv1.bn.runningMean')!.toArray();
      const rv = net.buffers.get('conv1.bn.runningVar')!.toArray();
      expect(rm.some((v) => Math.abs(v) > 1e-4)).toBe(true);
      expect(rv.some((v) => Math.abs(v - 1) > 1e-4)).toBe(true);
      // momentum buffers hold the velocity
      expect(tidy(() => sgd.momentumBuffers[0].abs().sum().item())).toBeGreaterThan(0);
    } finally {
      native().net_release(handle);
      sgd.dispose();
      net.dispose();
      x.dispose();
      y.dispose();
    }
    expect(liveTensors()).toBe(base);
  });

  test('freeze() stops updates of the matching parameters, with weight decay and momentum on', async () => {
    const net = buildNetwork(spec, { seed: 1 });
    const opts = { momentum: 0.9, weightDecay: 0.01, labelSmoothing: 0, channelsLast: false, precision: 'fp32' as const };
    const sgd = new SGD(net.parameterList(), { momentum: opts.momentum, weightDecay: opts.weightDecay });
    const handle = createNativeNet(net, sgd, opts);
    const { x, y } = batchOf(20);
    const snapshot = () => new Map([...net.parameters].map(([k, t]) => [k, t.toArray()]));
    try {
      // one unfrozen step first, so the frozen tensors have a gradient and a velocity from before
      await native().net_train_step(handle, x.handle, y.handle, 0.05);
      const frozen = net.freeze((name) => name.startsWith('conv1.'));
      expect(frozen).toEqual(['conv1.weight', 'conv1.bn.weight', 'conv1.bn.bias']);
      for (const name of frozen) expect(net.parameters.get(name)!.requiresGrad).toBe(false);
      expect(net.parameters.get('fc1.weight')!.requiresGrad).toBe(true);
      const before = snapshot();
      for (let i = 0; i < 3; i++) await native().net_train_step(handle, x.handle, y.handle, 0.05);
      const after = snapshot();
      for (const name of frozen) expect(after.get(name)).toEqual(before.get(name));
      for (const name of ['fc1.weight', 'fc1.bias']) expect(after.get(name)).not.toEqual(before.get(name));
      native().net_take_metrics(handle);
    } finally {
      native().net_release(handle);
      sgd.dispose();
      net.dispose();
      x.dispose();
      y.dispose();
    }
  });
});

test('maxpool 2x2 halves a 32x32 input (16x16, not 17x17)', () => {
  const spec = declareNetwork('Pool2', 'pool 2x2', ['conv 3x3 16 relu', 'maxpool 2x2', 'gap', 'fc classes']);
  expect(inferShapes(spec, { classes: 10 })[1]).toEqual([16, 16, 16]);
});
