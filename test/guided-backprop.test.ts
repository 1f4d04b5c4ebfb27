/**
 * Guided backpropagation and the paper's two other ways back through a ReLU
 * (figure 2): a network small enough to work out by hand, the plain gradient
 * against LibTorch's autograd on ALL-CNN-C and model C, and the search for
 * each unit's strongest images.
 */
import { liveTensors } from '../lib/backend';
import { fromArray, manualSeed, randn } from '../lib/creation';
import { InvalidArgumentError } from '../lib/errors';
import { buildNetwork, Network } from '../lib/model/network';
import { declareNetwork } from '../lib/model/spec';
import { noGrad } from '../lib/autograd';
import { dispose, tidy } from '../lib/scope';
import { Tensor } from '../lib/tensor';
import { METHODS, reconstruct, unitActivations } from '../lib/visualize/guided-backprop';
import { receptiveField, windowAt } from '../lib/visualize/receptive-field';
import { strongestImages } from '../lib/visualize/strongest';
import { MODELS } from '../models';

function expectClose(a: number[], b: number[], tol = 1e-5): void {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]))));
}

/**
 * Two input channels on a 1x1 image, three hidden ReLU units, two classes:
 *   hidden before the ReLU = W1 x = [1 1; 1 -1; 2 0] [1, 2] = [3, -1, 2]
 *   class 0 = [1 1 -1] . relu(hidden), so the signal at the ReLU is R = [1, 1, -1]
 * and back through it:
 *   backprop  R (f > 0)        = [1, 0, -1]   -> W1' that = [-1, 1]
 *   deconvnet R (R > 0)        = [1, 1, 0]    -> [2, 0]
 *   guided    R (f > 0)(R > 0) = [1, 0, 0]    -> [1, 1]
 */
describe('the three ways back through a ReLU, worked by hand', () => {
  const spec = declareNetwork('by-hand', 'worked example', ['conv 1x1 3 relu', 'conv 1x1 classes', 'gap', 'softmax']);
  let net: Network;
  beforeAll(() => {
    net = buildNetwork(spec, { inputChannels: 2, inputSize: 1, classes: 2 });
    noGrad(() => {
      const set = (name: string, values: number[], shape: number[]) => tidy(() => net.parameters.get(name)!.copy_(fromArray(values, shape)));
      set('conv1.weight', [1, 1, 1, -1, 2, 0], [3, 2, 1, 1]);
      set('conv1.bias', [0, 0, 0], [3]);
      set('conv2.weight', [1, 1, -1, 0, 0, 0], [2, 3, 1, 1]);
      set('conv2.bias', [0, 0], [2]);
    });
  });
  afterAll(() => net.dispose());

  const expected: Record<string, number[]> = { backprop: [-1, 1], deconvnet: [2, 0], guided: [1, 1] };
  it.each(METHODS.map((m) => [m]))('%s', (method) => {
    const r = tidy(() => reconstruct(net, fromArray([1, 2], [1, 2, 1, 1]), { layer: 'gap1', channel: 0, method }).toArray());
    expectClose(r, expected[method]);
  });

  it('starts from the unit\'s activation, which unitActivations reports', () => {
    // class 0 = relu(3) - relu(2) = 1; class 1 = 0
    const a = tidy(() => unitActivations(net, fromArray([1, 2, 1, 2], [2, 2, 1, 1]), { layer: 'gap1', channel: 0 }).toArray());
    expectClose(a, [1, 1]);
  });
});

/** The gradient of one unit per image through the whole network, by autograd on Network.forward. */
function autogradOf(net: Network, x: Tensor, through: number, channel: number): number[] {
  return tidy(() => {
    const leaf = x.detach().requiresGrad_(true);
    const out = net.forward(leaf, false, through);
    const n = out.shape[0];
    const map = out.narrow(1, channel, 1).reshape([n, -1]);
    // The strongest position of each image, as reconstruct() picks it.
    const positions = noGrad(() => map.argmax(1)).reshape([n, 1]);
    map.gather(1, positions).sum().backward();
    const g = leaf.grad!.toArray();
    for (const t of net.parameterList()) t.zeroGrad();
    return g;
  });
}

describe.each([['all-cnn-c'], ['c']])('%s: the plain gradient', (model) => {
  let net: Network;
  let x: Tensor;
  beforeAll(() => {
    net = buildNetwork(MODELS[model], { seed: 3, finalRelu: false });
    manualSeed(5);
    x = randn([3, 3, 32, 32]);
  });
  afterAll(() => {
    net.dispose();
    x.dispose();
  });

  it.each([['gap1', 4], ['conv6', 17], ['conv3', 50]])('method backprop at %s, channel %d, is autograd\'s gradient', (layer, channel) => {
    const index = net.layers.findIndex((l) => l.name === layer);
    const r = tidy(() => reconstruct(net, x, { layer, channel, method: 'backprop' }).toArray());
    expectClose(r, autogradOf(net, x, index, channel), 1e-4);
    expect(r.some((v) => v !== 0)).toBe(true);
  });

  it('guided backpropagation differs from it, only keeps the positive signal, and treats each image on its own', () => {
    const live = liveTensors();
    const [guided, backprop, alone] = tidy(() => [
      reconstruct(net, x, { layer: 'conv6', channel: 17 }).toArray(),
      reconstruct(net, x, { layer: 'conv6', channel: 17, method: 'backprop' }).toArray(),
      reconstruct(net, x.narrow(0, 1, 1), { layer: 'conv6', channel: 17 }).toArray(),
    ]);
    expect(guided.some((v, i) => Math.abs(v - backprop[i]) > 1e-6)).toBe(true);
    const size = 3 * 32 * 32;
    expectClose(guided.slice(size, 2 * size), alone, 1e-5);
    expect(liveTensors()).toBe(live);
    // The weights are left as they were: trainable, with no gradient.
    for (const t of net.parameterList()) {
      expect(t.requiresGrad).toBe(true);
      expect(t.grad).toBeNull();
    }
  });
});

test('without max-pooling, deconvnet reconstructs the same pattern whatever the image; its switches make it image-specific', () => {
  // The paper's figure 4: the deconvnet rule, R (R > 0), does not look at the forward pass, so only
  // max-pooling's switches tie its reconstruction to the image. Stepping back from a class score, the
  // strongest position is the same for every image.
  manualSeed(9);
  const x = randn([2, 3, 32, 32]);
  const per = (model: string, method: 'deconvnet' | 'guided') => {
    const net = buildNetwork(MODELS[model], { seed: 4 });
    const r = tidy(() => reconstruct(net, x, { layer: 'gap1', channel: 2, method }).toArray());
    net.dispose();
    return [r.slice(0, 3072), r.slice(3072)];
  };
  const [a, b] = per('all-cnn-c', 'deconvnet');
  expect(a).toEqual(b);
  expect(a.some((v) => v !== 0)).toBe(true);
  const [c, d] = per('c', 'deconvnet');
  expect(c).not.toEqual(d);
  const [e, f] = per('all-cnn-c', 'guided');
  expect(e).not.toEqual(f);
  x.dispose();
});

describe('receptive fields', () => {
  it('follow the kernels, strides and padding: ALL-CNN-C\'s class maps see 27x27 patches', () => {
    const net = buildNetwork(MODELS['all-cnn-c']);
    const at = (layer: string) => receptiveField(net, layer);
    expect(at('conv1')).toEqual({ size: 3, jump: 1, offset: -1 });
    expect(at('conv3')).toEqual({ size: 7, jump: 2, offset: -3 });
    expect(at('conv6')).toEqual({ size: 19, jump: 4, offset: -9 });
    expect(at('conv9')).toEqual({ size: 27, jump: 4, offset: -9 });
    expect(at('gap1')).toBeNull();
    expect(receptiveField(net, 0)).toEqual(at(net.layers[0].name));
    expect(() => receptiveField(net, 'conv99')).toThrow('Expected a layer of ALL-CNN-C: ');
    expect(() => receptiveField(net, net.layers.length)).toThrow(`Expected an integer in [0, ${net.layers.length - 1}] for layer`);
    expect(() => receptiveField(net, -1)).toThrow('for layer');
    expect(() => receptiveField(net, 1.5)).toThrow('for layer');
    net.dispose();
  });

  it.each([['all-cnn-c', 'conv1'], ['all-cnn-c', 'conv6'], ['c', 'conv2'], ['c', 'maxpool1'], ['c', 'conv5']])(
    '%s %s: the reconstruction lies inside the window of the unit it starts from',
    (model, layer) => {
      const net = buildNetwork(MODELS[model], { seed: 8 });
      manualSeed(1);
      const x = randn([2, 3, 32, 32]);
      const index = net.layers.findIndex((l) => l.name === layer);
      // The channel most active in these images: a unit at zero would reconstruct to nothing.
      const [channel, found] = [...strongestImages(net, x, { layer, top: 2 })].sort((a, b) => b[1][1].activation - a[1][1].activation)[0];
      expect(found[1].activation).toBeGreaterThan(0);
      const r = tidy(() => reconstruct(net, x, { layer, channel, method: 'backprop' }).toArray());
      for (const s of found) {
        const w = windowAt(receptiveField(net, index)!, s.y, s.x);
        const rows: number[] = [];
        const cols: number[] = [];
        for (let i = 0; i < 3 * 32 * 32; i++) {
          if (r[s.index * 3072 + i] === 0) continue;
          rows.push(Math.floor((i % 1024) / 32));
          cols.push(i % 32);
        }
        expect(rows.length).toBeGreaterThan(0);
        expect(Math.min(...rows)).toBeGreaterThanOrEqual(w.top);
        expect(Math.max(...rows)).toBeLessThan(w.top + w.size);
        expect(Math.min(...cols)).toBeGreaterThanOrEqual(w.left);
        expect(Math.max(...cols)).toBeLessThan(w.left + w.size);
        // A 3x3 unit of the first layer sees exactly its window, clipped to the image.
        if (layer === 'conv1') expect(Math.max(...rows) - Math.min(...rows) + 1).toBe(Math.min(w.top + 3, 32) - Math.max(w.top, 0));
      }
      x.dispose();
      net.dispose();
    },
  );
});

describe('strongestImages', () => {
  let net: Network;
  let x: Tensor;
  beforeAll(() => {
    net = buildNetwork(MODELS['strided-cnn-a'], { seed: 1 });
    manualSeed(2);
    x = randn([23, 3, 32, 32]);
  });
  afterAll(() => {
    net.dispose();
    x.dispose();
  });

  it('ranks the images by the feature map\'s maximum, whatever the batch size', () => {
    const activations = tidy(() => unitActivations(net, x, { layer: 'conv2', channel: 7 }).toArray());
    const ranked = activations.map((activation, index) => ({ index, activation })).sort((a, b) => b.activation - a.activation).slice(0, 5);
    const small = strongestImages(net, x, { layer: 'conv2', channels: [7, 0], top: 5, batchSize: 4 });
    const large = strongestImages(net, x, { layer: 'conv2', top: 5 });
    expect(small.get(7)!.map((s) => s.index)).toEqual(ranked.map((s) => s.index));
    expectClose(small.get(7)!.map((s) => s.activation), ranked.map((s) => s.activation));
    expect(large.get(7)).toEqual(small.get(7));
    expect(large.get(0)).toEqual(small.get(0));
    expect(large.size).toBe(192);
    // Where the maximum is: the layer's output there is the activation.
    const best = small.get(7)![0];
    const there = tidy(() => net.forward(x.narrow(0, best.index, 1), false, net.layers.findIndex((l) => l.name === 'conv2')).narrow(1, 7, 1).reshape([-1]).toArray()[best.y * 8 + best.x]);
    expect(there).toBe(best.activation);
  });
});

describe('bad input', () => {
  let net: Network;
  beforeAll(() => {
    net = buildNetwork(MODELS['all-cnn-c']);
  });
  afterAll(() => net.dispose());

  it('names the layers, the channel range, the image shape and the methods', () => {
    // Both inputs are freed: one left to the GC once made another file's
    // liveTensors() count drop mid-test in CI (the count is process-wide).
    const x = randn([1, 3, 32, 32]);
    const small = randn([1, 3, 28, 28]);
    try {
      expect(() => reconstruct(net, x, { layer: 'conv10', channel: 0 })).toThrow(/layer.*conv1, conv2, .*conv9, gap1/);
      expect(() => reconstruct(net, x, { layer: 'dropout1', channel: 0 })).toThrow(InvalidArgumentError);
      expect(() => reconstruct(net, x, { layer: 'conv9', channel: 10 })).toThrow(/\[0, 9\] for channel/);
      expect(() => reconstruct(net, x, { layer: 'conv9', channel: 0, method: 'saliency' as never })).toThrow(/guided.*deconvnet.*backprop/);
      expect(() => reconstruct(net, small, { layer: 'conv9', channel: 0 })).toThrow(/\[N, 3, 32, 32\].*\[1, 3, 28, 28\]/);
      expect(() => strongestImages(net, x, { layer: 'conv9', top: 0 })).toThrow(/top/);
      expect(() => net.forward(x, false, 99)).toThrow(/through/);
    } finally {
      dispose([x, small]);
    }
  });
});
