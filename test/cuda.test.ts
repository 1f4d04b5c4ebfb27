/**
 * CUDA: runs only where LibTorch sees a GPU (backend().cudaAvailable);
 * skipped on CPU builds.
 */
import { backend, configureBackend, emptyCache, liveTensors, memory, synchronize } from '../lib/backend';
import { fromArray, manualSeed, ones, rand, randint, randn, randperm, zeros } from '../lib/creation';
import { conv2d, crossEntropy, dropout, maxPool2d } from '../lib/functional';
import { Generator } from '../lib/generator';
import { dispose, tidy } from '../lib/scope';
import { buildNetwork } from '../lib/model/network';
import { declareNetwork } from '../lib/model/spec';
import { native } from '../lib/native';
import { SGD } from '../lib/train/optim';
import { createNativeNet, trainModel } from '../lib/train/train';
import { loadCifar10 } from '../lib/data/dataset';
import { reconstruct, unitActivations } from '../lib/visualize/guided-backprop';
import { predictImages } from '../lib/train/predict-checkpoint';
import { profile } from '../lib/profile';
import { tempDirs } from './tmp';
import { MODELS } from '../models';

const cuda = backend().cudaAvailable;
const tmp = tempDirs('cuda');
const suite = cuda ? describe : describe.skip;

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

suite('CUDA', () => {
  // Exact fp32 on Ampere+, so that the comparisons with the CPU are meaningful:
  // before each test, as trainModel turns cuDNN's benchmark mode and its tf32 on for the process.
  beforeEach(() => configureBackend({ tf32: false, cudnnBenchmark: false }));

  test('backend reports a device', () => {
    const b = backend();
    expect(b.cudaDeviceCount).toBeGreaterThanOrEqual(1);
    expect(b.cudaDevices.length).toBe(b.cudaDeviceCount);
    expect(b.builtWithCuda).toBe(true);
  });

  test('cpu -> cuda -> cpu round trips keep every value and dtype', () => {
    tidy(() => {
      const x = fromArray([1.5, -2, 3.25, 1e-8]);
      const g = x.to('cuda');
      expect(g.device).toBe('cuda:0');
      expect(g.dtype).toBe('float32');
      expect(g.to('cpu').device).toBe('cpu');
      expect(g.to('cpu').toArray()).toEqual(x.toArray());
      // data() reads straight from the device
      expect(Array.from(g.data() as Float32Array)).toEqual(x.toArray());
      const i = fromArray(new BigInt64Array([2n ** 62n, -1n]));
      expect(Array.from(i.to('cuda:0').to('cpu').data() as BigInt64Array)).toEqual([2n ** 62n, -1n]);
      const h = x.to({ device: 'cuda', dtype: 'float16' });
      expect(h.device).toBe('cuda:0');
      expect(h.dtype).toBe('float16');
      expect(h.toArray()).toEqual([1.5, -2, 3.25, 0]); // 1e-8 underflows in half
      const nb = x.to({ device: 'cuda', nonBlocking: true });
      synchronize();
      expect(nb.toArray()).toEqual(x.toArray());
      const z = zeros([2, 3], { device: 'cuda' });
      expect(z.device).toBe('cuda:0');
      expect(z.sum().item()).toBe(0);
      expect(randint(0, 5, [10], 'cuda').device).toBe('cuda:0');
    });
  });

  test('mixing devices in one op throws', () => {
    tidy(() => {
      const a = zeros([2], { device: 'cuda' });
      const b = zeros([2]);
      expect(() => a.add(b)).toThrow(/^tensor_binary: .*(device|cuda)/i);
    });
  });

  test('an index out of range is an error on CUDA too, not a device-side assert: CUDA still computes after it', () => {
    tidy(() => {
      const cudaLongs = (v: number[], shape = [v.length]) => fromArray(v, shape, 'int64').to('cuda');
      const logits = zeros([4, 10], { device: 'cuda' });
      expect(() => crossEntropy(logits, cudaLongs([0, 1, 10, 2]))).toThrow(/^nn_cross_entropy: the target's class index runs from 0 to 10, outside \[0, 10\)/);
      expect(() => crossEntropy(logits, cudaLongs([-1, 1, 2, 3]))).toThrow(/runs from -1 to 3/);
      const x = zeros([3, 5], { device: 'cuda' });
      expect(() => x.indexSelect(0, cudaLongs([0, 3]))).toThrow(/^tensor_index_select: the index runs from 0 to 3, outside \[0, 3\)/);
      expect(() => x.gather(1, cudaLongs([0, 5, 1], [1, 3]))).toThrow(/^tensor_gather: the index runs from 0 to 5, outside \[0, 5\)/);
      // In range, each computes what it does on the CPU, and CUDA works on.
      expect(crossEntropy(logits, cudaLongs([0, 1, 9, 2])).item()).toBeCloseTo(Math.log(10), 5);
      expect(x.indexSelect(1, cudaLongs([4, 0])).shape).toEqual([3, 2]);
      expect(ones([2, 2], { device: 'cuda' }).sum().item()).toBe(4);
    });
  });

  test('conv2d on cuda agrees with cpu within 1e-4 (forward and gradients)', () => {
    tidy(() => {
      manualSeed(0);
      const x = randn([4, 3, 16, 16]);
      const w = randn([8, 3, 3, 3]).mul_(0.2);
      const b = randn([8]);
      const y = fromArray([0, 1, 2, 3], [4], 'int64');
      const run = (device: string) => tidy(() => {
        const xd = x.to(device);
        // detach: to('cpu') of a CPU tensor is that tensor itself, and the leaves must be new ones
        const wd = w.to(device).detach().requiresGrad_();
        const bd = b.to(device).detach().requiresGrad_();
        const out = conv2d(xd, wd, bd, { stride: 1, padding: 1 });
        const logits = maxPool2d(out, 16).reshape([4, 8]);
        const loss = crossEntropy(logits, y.to(device));
        loss.backward();
        return { out: out.toArray(), gw: wd.grad!.toArray(), gb: bd.grad!.toArray() };
      });
      const cpu = run('cpu');
      const gpu = run('cuda');
      expect(maxAbsDiff(gpu.out, cpu.out)).toBeLessThan(1e-4);
      expect(maxAbsDiff(gpu.gw, cpu.gw)).toBeLessThan(1e-4);
      expect(maxAbsDiff(gpu.gb, cpu.gb)).toBeLessThan(1e-4);
      // strided, dilated, grouped
      const w2 = randn([6, 1, 3, 3]);
      const x2 = randn([2, 3, 11, 11]);
      const c = conv2d(x2, w2, null, { stride: 2, dilation: 2, padding: 2, groups: 3 }).toArray();
      const g = conv2d(x2.to('cuda'), w2.to('cuda'), null, { stride: 2, dilation: 2, padding: 2, groups: 3 }).toArray();
      expect(maxAbsDiff(g, c)).toBeLessThan(1e-4);
      // channels-last on the GPU
      const gcl = conv2d(x2.to('cuda').contiguous('channels_last'), w2.to('cuda'), null, { stride: 2, dilation: 2, padding: 2, groups: 3 }).toArray();
      expect(maxAbsDiff(gcl, c)).toBeLessThan(1e-4);
    });
  });

  test('CUDA memory returns after tidy', () => {
    // cuBLAS keeps a workspace per handle and stream from its first matmul on
    // (32 MiB on an H200 with LibTorch 2.11): made before the baseline.
    tidy(() => randn([256, 256], { device: 'cuda' }).matmul(randn([256, 256], { device: 'cuda' })));
    synchronize();
    emptyCache();
    const before = memory();
    const liveBefore = liveTensors();
    const allocBefore = before.cuda![0].allocatedBytes;
    const kept = tidy(() => {
      let t = randn([256, 256], { device: 'cuda' });
      for (let i = 0; i < 50; i++) t = t.matmul(t).mul(1 / 256);
      expect(memory().cuda![0].allocatedBytes).toBeGreaterThan(allocBefore + 40 * 256 * 256 * 4);
      return t.sum();
    });
    synchronize();
    expect(liveTensors()).toBe(liveBefore + 1);
    const live = memory().live['cuda:0'];
    expect(live.tensors).toBe((before.live['cuda:0']?.tensors ?? 0) + 1);
    dispose(kept);
    synchronize();
    const after = memory();
    expect(liveTensors()).toBe(liveBefore);
    expect(after.live['cuda:0']?.tensors ?? 0).toBe(before.live['cuda:0']?.tensors ?? 0);
    expect(after.live['cuda:0']?.bytes ?? 0).toBe(before.live['cuda:0']?.bytes ?? 0);
    expect(after.cuda![0].allocatedBytes).toBe(allocBefore);
    emptyCache();
    expect(memory().cuda![0].reservedBytes).toBeLessThanOrEqual(after.cuda![0].reservedBytes);
  });

  // No dropout: the eager and the graphed runs then see exactly the same numbers.
  const small = declareNetwork('Graph-Test', 'conv, strided conv, 1x1, global average', [
    'conv 3x3 16 relu', 'conv 3x3 32 /2 relu', 'conv 1x1 classes', 'gap', 'softmax',
  ]);

  /**
   * Trains `small` for `steps` steps on batches made fresh for each step (and
   * freed right after it, as trainModel does); returns the weights, per-step
   * losses and graph status. The same seed gives the same batches every time.
   */
  async function trainSmall(o: { cudaGraph?: boolean; cudaStream?: boolean; foreachSgd?: boolean; fuseConvRelu?: boolean; precision?: 'fp32' | 'bf16' }, steps: number, seed = 1) {
    const network = buildNetwork(small, { seed: 0, device: 'cuda', channelsLast: true });
    const sgd = new SGD(network.parameterList(), { momentum: 0.9, weightDecay: 0.001 });
    const net = createNativeNet(network, sgd, { momentum: 0.9, weightDecay: 0.001, labelSmoothing: 0, channelsLast: true, precision: 'fp32', ...o });
    manualSeed(seed);
    const data = randn([steps * 32 + 8, 3, 16, 16], { device: 'cuda' });
    const labels = randint(0, 10, [steps * 32 + 8], 'cuda');
    const losses: number[] = [];
    let graph = '';
    const step = async (start: number, len: number, lr: number) => {
      const x = data.narrow(0, start, len).mul(1.5); // a new tensor, freed while the GPU may still read it
      const y = labels.narrow(0, start, len).contiguous();
      try {
        await native().net_train_step(net, x.handle, y.handle, lr);
      } finally {
        dispose([x, y]);
      }
    };
    try {
      for (let i = 0; i < steps; i++) {
        await step(i * 32, 32, 0.05 * (1 - i / steps));
        if (i === 5) await step(steps * 32, 8, 0.01); // another shape: eager
        const m = native().net_take_metrics(net);
        losses.push(m.loss);
        graph = m.graph ?? '';
      }
      return { weights: network.parameters.get('conv2.weight')!.toArray(), losses, graph };
    } finally {
      native().net_release(net);
      dispose([data, labels]);
      sgd.dispose();
      network.dispose();
    }
  }

  test('a CUDA-graph step trains like the eager step, and steps of another shape still run', async () => {
    const eager = await trainSmall({}, 12);
    const graphed = await trainSmall({ cudaGraph: true }, 12);
    expect(eager.graph).toBe('off');
    expect(graphed.graph).toBe('captured');
    expect(maxAbsDiff(graphed.losses, eager.losses)).toBeLessThan(1e-4);
    expect(maxAbsDiff(graphed.weights, eager.weights)).toBeLessThan(1e-4);
  });

  test('the update as _foreach ops (foreachSgd) trains as the per-parameter one, eager and as a CUDA graph', async () => {
    // With the graph the learning rate comes from a device tensor: LibTorch 2.1's _foreach_mul by a tensor.
    for (const cudaGraph of [false, true]) {
      const loop = await trainSmall({ cudaGraph }, 12);
      const foreach = await trainSmall({ cudaGraph, foreachSgd: true }, 12);
      expect(foreach.graph).toBe(cudaGraph ? 'captured' : 'off');
      // the same arithmetic; fused kernels may round differently in the last bit
      expect(maxAbsDiff(foreach.losses, loop.losses)).toBeLessThan(1e-5);
      expect(maxAbsDiff(foreach.weights, loop.weights)).toBeLessThan(1e-5);
    }
  });

  test("a convolution and its ReLU as one node (fuseConvRelu) train as the two ops, with cuDNN's fused kernel", async () => {
    // small's first convolution has 3 input channels and runs unfused; its second is fused.
    for (const [precision, cudaGraph, tolerance] of [['fp32', false, 1e-3], ['fp32', true, 1e-3], ['bf16', false, 3e-2]] as const) {
      const ops = await trainSmall({ precision, cudaGraph }, 12);
      const fused = await trainSmall({ precision, cudaGraph, fuseConvRelu: true }, 12);
      expect(fused.graph).toBe(cudaGraph ? 'captured' : 'off');
      // another kernel, which may sum in another order
      expect(maxAbsDiff(fused.losses, ops.losses)).toBeLessThan(tolerance);
      expect(maxAbsDiff(fused.weights, ops.weights)).toBeLessThan(tolerance);
    }
    // and the fused kernel is what ran
    const network = buildNetwork(small, { seed: 0, device: 'cuda', channelsLast: true });
    const sgd = new SGD(network.parameterList(), { momentum: 0.9 });
    const net = createNativeNet(network, sgd, { momentum: 0.9, weightDecay: 0, labelSmoothing: 0, channelsLast: true, precision: 'bf16', fuseConvRelu: true });
    const x = randn([32, 3, 16, 16], { device: 'cuda' });
    const y = randint(0, 10, [32], 'cuda');
    try {
      const names = profile(() => native().net_train_step_sync(net, x.handle, y.handle, 0.01), { cuda: true }).events.map((e) => e.name);
      expect(names).toContain('aten::cudnn_convolution_relu');
    } finally {
      native().net_release(net);
      dispose([x, y]);
      sgd.dispose();
      network.dispose();
    }
  });

  test('networks on streams of their own, trained at once, train exactly as each does alone', async () => {
    const alone = [await trainSmall({}, 10, 1), await trainSmall({}, 10, 2)];
    for (const cudaGraph of [false, true]) {
      const together = await Promise.all([trainSmall({ cudaStream: true, cudaGraph }, 10, 1), trainSmall({ cudaStream: true, cudaGraph }, 10, 2)]);
      for (let k = 0; k < 2; k++) {
        expect(maxAbsDiff(together[k].losses, alone[k].losses)).toBeLessThan(1e-4);
        expect(maxAbsDiff(together[k].weights, alone[k].weights)).toBeLessThan(1e-4);
      }
    }
  });

  // Dropout draws random numbers inside the captured step.
  const withDropout = declareNetwork('C-like', 'dropout and a 1x1 classifier', [
    'dropout 0.2', 'conv 3x3 32 relu', 'conv 3x3 32 /2 relu', 'dropout 0.5', 'conv 1x1 classes', 'gap', 'softmax',
  ]);

  test('a CUDA-graph run with dropout and bf16 lowers the loss and frees its memory', async () => {
    synchronize();
    const liveBefore = liveTensors();
    const network = buildNetwork(withDropout, { seed: 0, device: 'cuda', channelsLast: true });
    const sgd = new SGD(network.parameterList(), { momentum: 0.9 });
    const net = createNativeNet(network, sgd, { momentum: 0.9, weightDecay: 0, labelSmoothing: 0, channelsLast: true, precision: 'bf16', cudaGraph: true });
    const x = randn([64, 3, 16, 16], { device: 'cuda' });
    const y = randint(0, 10, [64], 'cuda');
    try {
      await native().net_train_step(net, x.handle, y.handle, 0.05, 4); // 3 warm-up steps and the capture
      const first = native().net_take_metrics(net);
      expect(first.graph).toBe('captured');
      await native().net_train_step(net, x.handle, y.handle, 0.05, 40);
      const later = native().net_take_metrics(net);
      expect(later.seen).toBe(40 * 64);
      expect(later.loss).toBeLessThan(first.loss);
    } finally {
      native().net_release(net);
      dispose([x, y]);
      sgd.dispose();
      network.dispose();
    }
    synchronize();
    expect(liveTensors()).toBe(liveBefore);
  });

  test('networks with dropout captured while others draw random numbers: each step its own call, fresh batches', async () => {
    // As trainModel and `reproduce --concurrency 2` run: each step is an awaited call that lands on
    // any libuv worker thread, and between steps the JS thread draws the next batch. A capture
    // must neither autotune inside itself (cuDNN's plans are per thread) nor meet another
    // thread's random draw (dropout, randn): on LibTorch 2.11 either failed the run.
    configureBackend({ cudnnBenchmark: true });
    const run = async (seed: number) => {
      const network = buildNetwork(withDropout, { seed, device: 'cuda', channelsLast: true });
      const sgd = new SGD(network.parameterList(), { momentum: 0.9 });
      const net = createNativeNet(network, sgd, { momentum: 0.9, weightDecay: 0, labelSmoothing: 0, channelsLast: true, precision: 'bf16', cudaGraph: true });
      try {
        for (let i = 0; i < 12; i++) {
          const x = randn([64, 3, 16, 16], { device: 'cuda' });
          const y = randint(0, 10, [64], 'cuda');
          try {
            await native().net_train_step(net, x.handle, y.handle, 0.01);
          } finally {
            dispose([x, y]);
          }
        }
        const m = native().net_take_metrics(net);
        expect(m.seen).toBe(12 * 64);
        expect(Number.isFinite(m.loss)).toBe(true);
        return m.graph;
      } finally {
        native().net_release(net);
        sgd.dispose();
        network.dispose();
      }
    };
    try {
      expect(await Promise.all([run(0), run(1), run(2)])).toEqual(['captured', 'captured', 'captured']);
    } finally {
      configureBackend({ cudnnBenchmark: false });
    }
  });

  test('trainModel end to end on CUDA with the fast path: GPU-resident data, augmentation, bf16, a CUDA graph', async () => {
    // The bundled sample: 448 training images = 7 full batches of 64 per epoch. On the CPU (fp32 + bf16
    // autocast, seeds 0-3) this configuration lowers the training loss by 0.09 to 0.20 in 8 epochs.
    synchronize();
    const liveBefore = liveTensors();
    const result = await trainModel({
      model: 'strided-cnn-a', epochs: 8, batchSize: 64, lr: 0.05, stallEpochs: 0, prep: 'std', limit: 448, augment: true,
      device: 'cuda', precision: 'bf16', tf32: true, channelsLast: true, cudaGraph: true,
    });
    expect(result.device).toBe('cuda');
    expect(result.cudaGraph).toBe('captured');
    expect(result.history).toHaveLength(8);
    for (const e of result.history) expect(Number.isFinite(e.loss) && Number.isFinite(e.valLoss)).toBe(true);
    expect(result.history[7].loss).toBeLessThan(result.history[0].loss - 0.03);
    expect(result.test.accuracy).toBeGreaterThanOrEqual(0);
    synchronize();
    expect(liveTensors()).toBe(liveBefore);
  });

  test('two trainModel runs at once on one data set, a CUDA stream and a CUDA graph each, as `reproduce --concurrency 2` trains them', async () => {
    // On the CPU (fp32, seeds 0-3) this configuration lowers the training loss by 0.07 to 0.26 in 8 epochs.
    synchronize();
    const liveBefore = liveTensors();
    const dataset = await loadCifar10(undefined, { prep: 'std', limit: 448, device: 'cuda' });
    try {
      const config = {
        model: 'strided-cnn-a', epochs: 8, batchSize: 64, lr: 0.05, stallEpochs: 0, prep: 'std' as const, limit: 448,
        device: 'cuda', tf32: true, channelsLast: true, cudaGraph: true, cudaStream: true,
      };
      const runs = await Promise.all([0, 1].map((seed) => trainModel({ ...config, seed }, { dataset })));
      for (const r of runs) {
        expect(r.cudaGraph).toBe('captured');
        expect(r.history).toHaveLength(8);
        for (const e of r.history) expect(Number.isFinite(e.loss) && Number.isFinite(e.valLoss)).toBe(true);
        expect(r.history[7].loss).toBeLessThan(r.history[0].loss - 0.03);
      }
    } finally {
      dataset.dispose();
    }
    synchronize();
    expect(liveTensors()).toBe(liveBefore);
  });

  test("a CUDA generator draws what CUDA's global generator draws after the same seed, dropout included; a captured step refuses one", () => {
    const draws = (g?: Generator) => tidy(() => [
      rand([64], { device: 'cuda', generator: g }).toArray(),
      randperm(64, { device: 'cuda', generator: g }).toArray(),
      dropout(ones([4, 256], { device: 'cuda' }), 0.5, true, g).toArray(), // _fused_dropout with a generator, LibTorch's kernel without
    ]);
    manualSeed(21);
    const global = draws();
    const g = new Generator(21, 'cuda');
    manualSeed(5);
    expect(draws(g)).toEqual(global);
    expect(() => new Generator(0, `cuda:${backend().cudaDeviceCount}`)).toThrow(/does not exist/);
    expect(() => rand([2], { generator: new Generator(0, 'cpu'), device: 'cuda' })).toThrow(/generator/);
    const network = buildNetwork(withDropout, { seed: 0, device: 'cuda' });
    const sgd = new SGD(network.parameterList(), { momentum: 0.9 });
    const config = { momentum: 0.9, weightDecay: 0, labelSmoothing: 0, channelsLast: false, precision: 'fp32' as const };
    try {
      expect(() => createNativeNet(network, sgd, { ...config, cudaGraph: true }, undefined, g)).toThrow('options with cudaGraph or a generator, not both');
      expect(() => createNativeNet(network, sgd, config, undefined, new Generator(0, 'cpu'))).toThrow("options whose generator is on the network's device (cuda:0)");
    } finally {
      sgd.dispose();
      network.dispose();
    }
  });

  test('two eager trainModel runs at once with dropout and augmentation, a CUDA stream each, train as each does alone', async () => {
    // Each run draws from a generator of its own; cuDNN's autotuned kernels may still differ in the last bits.
    const dataset = await loadCifar10(undefined, { prep: 'std', limit: 448, device: 'cuda' });
    try {
      const config = { model: 'all-cnn-a', epochs: 3, batchSize: 64, lr: 0.05, stallEpochs: 0, prep: 'std' as const, limit: 448, augment: true, device: 'cuda', cudaStream: true };
      const losses = (r: { history: Array<{ loss: number }> }) => r.history.map((e) => e.loss);
      const alone = [losses(await trainModel({ ...config, seed: 1 }, { dataset })), losses(await trainModel({ ...config, seed: 2 }, { dataset }))];
      const together = (await Promise.all([1, 2].map((seed) => trainModel({ ...config, seed }, { dataset })))).map(losses);
      for (let k = 0; k < 2; k++) expect(maxAbsDiff(together[k], alone[k])).toBeLessThan(1e-3);
    } finally {
      dataset.dispose();
    }
  });

  test('guided backpropagation on CUDA agrees with the CPU', () => {
    manualSeed(6);
    const x = randn([2, 3, 32, 32]);
    const cpuNet = buildNetwork(MODELS.c, { seed: 2 });
    // A unit that fires in both images: a silent one reconstructs to all zeros, which agrees with anything.
    const weakest = Array.from({ length: 192 }, (_, channel) => Math.min(...tidy(() => unitActivations(cpuNet, x, { layer: 'conv5', channel }).toArray())));
    const channel = weakest.indexOf(Math.max(...weakest));
    const on = (net: ReturnType<typeof buildNetwork>, device: 'cpu' | 'cuda') => tidy(() => reconstruct(net, x.to(device), { layer: 'conv5', channel }).toArray());
    const cpu = on(cpuNet, 'cpu');
    cpuNet.dispose();
    const cudaNet = buildNetwork(MODELS.c, { seed: 2, device: 'cuda' });
    const gpu = on(cudaNet, 'cuda');
    cudaNet.dispose();
    x.dispose();
    const largest = Math.max(...cpu.map(Math.abs));
    expect(largest).toBeGreaterThan(0);
    // A ReLU input within rounding of 0 may switch its mask between the devices and change the few
    // values behind it (27 of 6,144 for an input perturbed by 3e-6 on the CPU, 1 seed of 15):
    // so 99% of the values within 1e-4 of the largest, and the whole within 1% (an L2 ratio).
    const off = cpu.filter((v, i) => Math.abs(gpu[i] - v) > 1e-4 * largest).length;
    expect(off).toBeLessThan(0.01 * cpu.length);
    const norm = (a: number[]) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));
    expect(norm(gpu.map((v, i) => v - cpu[i])) / norm(cpu)).toBeLessThan(1e-2);
  });

  test('predictImages on CUDA agrees with the CPU', async () => {
    const checkpoint = `${tmp()}/checkpoint.safetensors`;
    await trainModel({ model: 'strided-cnn-a', epochs: 1, limit: 100, batchSize: 50, prep: 'std', stallEpochs: 0 }, { checkpoint });
    // Two raw pictures: a 40x32 gradient (cropped) and a flat grey one.
    const gradient = { width: 40, height: 32, channels: 3 as const, data: Uint8Array.from({ length: 40 * 32 * 3 }, (_, i) => i % 251) };
    const grey = { width: 32, height: 32, channels: 1 as const, data: new Uint8Array(1024).fill(128) };
    const on = async (device: 'cpu' | 'cuda') => (await predictImages(checkpoint, [gradient, grey], { device })).images.flatMap((i) => i.probabilities);
    const cpu = await on('cpu');
    expect(maxAbsDiff(await on('cuda'), cpu)).toBeLessThan(1e-4);
  });

  test('a bad device index is refused, by tensors and at once by trainModel', async () => {
    const n = backend().cudaDeviceCount;
    expect(() => zeros([1], { device: `cuda:${n}` })).toThrow(`tensor_zeros: device "cuda:${n}" does not exist (${n} CUDA devices)`);
    await expect(trainModel({ model: 'strided-cnn-a', epochs: 1, device: `cuda:${n}` })).rejects.toThrow(
      `device "cuda:${n}" does not exist: ${n} CUDA device(s), cuda:0 to cuda:${n - 1}`,
    );
  });
});

describe('CUDA availability', () => {
  test('backend().cudaAvailable agrees with what creating a CUDA tensor does', () => {
    if (cuda) {
      const t = zeros([1], { device: 'cuda' });
      expect(t.device).toBe('cuda:0');
      t.dispose();
    } else {
      expect(() => zeros([1], { device: 'cuda' })).toThrow(/CUDA is not available/);
      expect(backend().cudaDeviceCount).toBe(0);
    }
  });
});
