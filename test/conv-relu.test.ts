/**
 * The native step's option fuseConvRelu: each convolution followed by a ReLU
 * runs as one autograd node (native/conv_relu.cc), on CUDA with cuDNN's fused
 * kernel. On the CPU the node runs the same two ops and its backward pass is
 * the one autograd runs for them, so training must match the unfused step bit
 * for bit: that checks the hand-written backward (ReLU's mask, the
 * convolution's three gradients, stride and padding, frozen weights, the
 * casts under autocast). test/cuda.test.ts checks the cuDNN kernel.
 */
import { liveTensors } from '../lib/backend';
import { manualSeed, randint, randn } from '../lib/creation';
import { buildNetwork } from '../lib/model/network';
import { declareNetwork } from '../lib/model/spec';
import { native } from '../lib/native';
import { dispose } from '../lib/scope';
import { wrap } from '../lib/tensor';
import { SGD } from '../lib/train/optim';
import { createNativeNet } from '../lib/train/train';

// ALL-CNN's pattern in small: padded, strided and unpadded convolutions with ReLUs,
// dropout between them, a 1x1 classifier with the paper's final ReLU, and one
// convolution without a ReLU after it (which stays a plain convolution).
const spec = declareNetwork('Fusion', 'ALL-CNN in small', [
  'dropout 0.2', 'conv 3x3 8 relu', 'conv 3x3 8 /2 relu', 'dropout 0.5', 'conv 3x3 16 valid', 'conv 1x1 classes relu', 'gap', 'softmax',
]);

interface Options { fuseConvRelu: boolean; channelsLast: boolean; precision: 'fp32' | 'bf16'; freeze: boolean }

/** Four native steps; the losses, accuracies, weights and velocities after them, and the evaluated logits. */
function train(o: Options): { metrics: number[]; tensors: number[][]; logits: number[] } {
  const network = buildNetwork(spec, { seed: 3, channelsLast: o.channelsLast });
  if (o.freeze) network.freeze((name) => name.startsWith('conv2.'));
  const names = [...network.parameters.keys()];
  const sgd = new SGD(network.parameterList(), { momentum: 0.9, weightDecay: 0.001 });
  const net = createNativeNet(network, sgd, { momentum: 0.9, weightDecay: 0.001, labelSmoothing: 0, channelsLast: o.channelsLast, precision: o.precision, fuseConvRelu: o.fuseConvRelu });
  manualSeed(5);
  const x = randn([6, 3, 12, 12]);
  const y = randint(0, 10, [6]);
  try {
    const metrics: number[] = [];
    for (let i = 0; i < 4; i++) {
      native().net_train_step_sync(net, x.handle, y.handle, 0.05 * (i + 1));
      const m = native().net_take_metrics(net);
      metrics.push(m.loss, m.correct);
    }
    const logits = wrap(native().net_forward(net, x.handle, false));
    try {
      return {
        metrics,
        tensors: [...names.map((n) => network.parameters.get(n)!.toArray()), ...sgd.momentumBuffers.map((b) => b.toArray())],
        logits: logits.toArray() as number[],
      };
    } finally {
      logits.dispose();
    }
  } finally {
    native().net_release(net);
    dispose([x, y]);
    sgd.dispose();
    network.dispose();
  }
}

describe("fuseConvRelu: a convolution and its ReLU as one node", () => {
  const cases: Omit<Options, 'fuseConvRelu'>[] = [
    { channelsLast: false, precision: 'fp32', freeze: false },
    { channelsLast: true, precision: 'fp32', freeze: true },
    { channelsLast: true, precision: 'bf16', freeze: false },
  ];
  test.each(cases)('trains bit for bit as the two ops on the CPU: %o', (o) => {
    const base = liveTensors();
    const ops = train({ ...o, fuseConvRelu: false });
    const fused = train({ ...o, fuseConvRelu: true });
    expect(fused).toEqual(ops);
    // and the steps did train: every weight moved but the frozen layer's
    const start = buildNetwork(spec, { seed: 3 });
    try {
      [...start.parameters.entries()].forEach(([name, p], k) => {
        if (o.freeze && name.startsWith('conv2.')) expect(ops.tensors[k]).toEqual(p.toArray());
        else expect(ops.tensors[k]).not.toEqual(p.toArray());
      });
    } finally {
      start.dispose();
    }
    expect(liveTensors()).toBe(base);
  });
});
