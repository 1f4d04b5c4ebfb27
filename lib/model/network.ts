/**
 * Builds a trainable network from its declaration (spec.ts): named parameter
 * tensors, a TypeScript forward pass over the functional ops, and the same
 * layer program for the native fused training step (native/net.cc).
 */
import { noGrad } from '../autograd';
import { requireDevice } from '../backend';
import { checkBoolean, checkInteger, checkKeys, checkNumber, checkOneOf, invalid, invalidAs } from '../check';
import { ones, zeros } from '../creation';
import * as F from '../functional';
import { checkGenerator, Generator } from '../generator';
import { InitName, initWeight, INITS } from '../init';
import type { NativeLayer } from '../native';
import { keep, tidy } from '../scope';
import { checkDevice, Device, handleOf, Tensor } from '../tensor';
import { inferShapes, layerNames, LayerSpec, NetworkSpec } from './spec';

export interface BuildOptions {
  /** Number of classes (default 10). */
  classes?: number;
  /** Input channels and side (default 3 and 32: CIFAR). */
  inputChannels?: number;
  inputSize?: number;
  /** Keep the ReLU after the last (classifier) layer, as in the paper (default true). */
  finalRelu?: boolean;
  /** Weight initialisation (default 'xavier-uniform'); biases start at zero. */
  init?: InitName;
  /** Standard deviation for init 'gaussian'. */
  initStd?: number;
  /** Seed for the initial weights (default 0), drawn from a generator of their own: LibTorch's global generator is left as it was. */
  seed?: number;
  /** Default 'cpu'. */
  device?: Device;
  /** Keep weights in channels-last memory order (faster convolutions on GPUs). */
  channelsLast?: boolean;
}

/** Every key of BuildOptions (the type makes this list complete). */
const BUILD_KEYS = Object.keys({ classes: 1, inputChannels: 1, inputSize: 1, finalRelu: 1, init: 1, initStd: 1, seed: 1, device: 1, channelsLast: 1 } satisfies Record<keyof BuildOptions, 1>);

/** A layer as run: its spec plus the names of its tensors. */
export interface BuiltLayer {
  spec: LayerSpec;
  name: string;
}

export class Network {
  readonly spec: NetworkSpec;
  readonly classes: number;
  /** Trainable tensors in a fixed order, named like 'conv1.weight'. */
  readonly parameters = new Map<string, Tensor>();
  /** Non-trainable state (batch-norm running statistics). */
  readonly buffers = new Map<string, Tensor>();
  /** Input shape [C, H, W] of a single image. */
  readonly inputShape: number[];
  /** Output shape after each layer, for a single image. */
  readonly shapes: number[][];
  readonly device: Device;
  readonly layers: BuiltLayer[] = [];

  constructor(spec: NetworkSpec, o: BuildOptions = {}) {
    checkKeys('options', o, BUILD_KEYS);
    this.spec = spec;
    this.classes = checkInteger('classes', o.classes ?? 10, 2, 100000);
    this.device = checkDevice('device', o.device ?? 'cpu');
    const inputChannels = o.inputChannels ?? 3;
    this.inputShape = [inputChannels, o.inputSize ?? 32, o.inputSize ?? 32];
    this.shapes = inferShapes(spec, { classes: this.classes, inputChannels, inputSize: o.inputSize });
    // Checked, not read as truthy: finalRelu 'no' kept the ReLU, channelsLast 'false' turned NHWC on.
    const finalRelu = checkBoolean('finalRelu', o.finalRelu ?? true);
    checkBoolean('channelsLast', o.channelsLast ?? false);
    // The init options before any weight is allocated (initWeight checks them too, one weight at a time).
    checkOneOf('init', o.init ?? 'xavier-uniform', INITS);
    if (o.initStd !== undefined && o.init !== 'gaussian') throw invalid('initStd', "no initStd unless init is 'gaussian' (the other inits take their scale from the layer's fans)", o.initStd);
    checkNumber('initStd', o.initStd ?? 0.01, 0);
    requireDevice(this.device);
    const lastWeighted = spec.layers.map((l) => l.kind === 'conv' || l.kind === 'fc').lastIndexOf(true);
    const generator = new Generator(checkInteger('seed', o.seed ?? 0, 0), this.device);
    try {
      this.allocate(spec, o, finalRelu, lastWeighted, generator);
    } catch (err) {
      this.dispose(); // a weight too large for the device: the ones made before it are freed
      throw err;
    }
  }

  private allocate(spec: NetworkSpec, o: BuildOptions, finalRelu: boolean, lastWeighted: number, generator: Generator): void {
    const names = layerNames(spec);
    const inputChannels = this.inputShape[0];
    let inShape = [inputChannels];
    spec.layers.forEach((layer, i) => {
      let l = layer;
      if (i === lastWeighted && !finalRelu && (l.kind === 'conv' || l.kind === 'fc')) l = { ...l, relu: false };
      const name = names[i];
      const cin = inShape[0];
      const cout = this.shapes[i][0];
      if (l.kind === 'conv' || l.kind === 'fc') {
        const wShape = l.kind === 'conv' ? [cout, cin, l.kernel, l.kernel] : [cout, cin];
        const w = this.param(`${name}.weight`, zeros(wShape, { device: this.device }));
        initWeight(w, { init: o.init, std: o.initStd, generator });
        if (l.batchNorm) {
          this.param(`${name}.bn.weight`, ones([cout], { device: this.device }));
          this.param(`${name}.bn.bias`, zeros([cout], { device: this.device }));
          this.buffer(`${name}.bn.runningMean`, zeros([cout], { device: this.device }));
          this.buffer(`${name}.bn.runningVar`, ones([cout], { device: this.device }));
        } else {
          this.param(`${name}.bias`, zeros([cout], { device: this.device }));
        }
      }
      this.layers.push({ spec: l, name });
      inShape = this.shapes[i];
    });
    if (o.channelsLast) {
      for (const [k, t] of this.parameters) {
        if (t.rank === 4) {
          // Without grad mode the copy is a leaf of its own, so it can collect gradients.
          const cl = keep(noGrad(() => t.contiguous('channels_last')).requiresGrad_(true));
          t.dispose();
          this.parameters.set(k, cl);
        }
      }
    }
  }

  private param(name: string, t: Tensor): Tensor {
    keep(t).requiresGrad_(true);
    this.parameters.set(name, t);
    return t;
  }
  private buffer(name: string, t: Tensor): Tensor {
    this.buffers.set(name, keep(t));
    return t;
  }
  private p(name: string): Tensor | null {
    return this.parameters.get(name) ?? null;
  }

  /** Trainable weights + biases. */
  parameterCount(): number {
    let n = 0;
    for (const t of this.parameters.values()) n += t.numel;
    return n;
  }

  /** An InvalidArgumentError naming `name` unless x is a batch of this network's input images. */
  checkImages(name: string, x: Tensor): void {
    handleOf(name, x);
    // Checked here, not met in a native op: a single image [3, 32, 32] failed only at the global average,
    // and 16x16 images were scored (the global average takes any size).
    if (x.rank !== 4 || x.shape.slice(1).join() !== this.inputShape.join() || x.dtype !== 'float32') {
      throw invalidAs(name, `float32 images [N, ${this.inputShape.join(', ')}] (the network's input)`, `a ${x.dtype} tensor of shape [${x.shape.join(', ')}]`);
    }
  }

  /**
   * Class scores [N, classes] for images x [N, C, H, W], run op by op from
   * TypeScript; or, given `through`, the output of that layer (its index).
   * When training, dropout draws from `generator` if given.
   */
  forward(x: Tensor, training: boolean, through = this.layers.length - 1, generator?: Generator): Tensor {
    this.checkImages('x', x);
    if (typeof training !== 'boolean') throw invalid('training', 'true (dropout on, batch statistics) or false', training);
    checkInteger('through', through, 0, this.layers.length - 1);
    checkGenerator('generator', generator);
    return tidy(() => {
      let h = x;
      for (let i = 0; i <= through; i++) {
        h = this.layerBeforeRelu(i, h, training, generator);
        if (this.endsInRelu(i)) h = F.relu(h);
      }
      return h;
    });
  }

  /**
   * Layer i applied to h, up to its ReLU but not through it. Split from the
   * ReLU so that guided backpropagation (lib/visualize) can step back through
   * each part by its own rule.
   */
  layerBeforeRelu(i: number, h: Tensor, training: boolean, generator?: Generator): Tensor {
    checkGenerator('generator', generator);
    const { spec: l, name } = this.layers[i];
    switch (l.kind) {
      case 'conv':
        h = F.conv2d(h, this.p(`${name}.weight`)!, this.p(`${name}.bias`), { stride: l.stride, padding: l.padding });
        break;
      case 'fc':
        h = F.linear(h, this.p(`${name}.weight`)!, this.p(`${name}.bias`));
        break;
      case 'maxpool':
        h = F.maxPool2d(h, l.kernel, { stride: l.stride, padding: l.padding });
        break;
      case 'avgpool':
        h = F.avgPool2d(h, l.kernel, { stride: l.stride, padding: l.padding });
        break;
      case 'dropout':
        h = F.dropout(h, l.p, training, generator);
        break;
      case 'gap':
        h = F.globalAvgPool(h);
        break;
      case 'flatten':
        h = h.reshape([h.shape[0], h.shape.slice(1).reduce((a, b) => a * b, 1)]); // -1 cannot be inferred for an empty batch
        break;
      case 'softmax':
        break;
    }
    if ((l.kind === 'conv' || l.kind === 'fc') && l.batchNorm) {
      h = F.batchNorm(h, {
        weight: this.p(`${name}.bn.weight`), bias: this.p(`${name}.bn.bias`),
        runningMean: this.buffers.get(`${name}.bn.runningMean`), runningVar: this.buffers.get(`${name}.bn.runningVar`), training,
      });
    }
    return h;
  }

  /** Whether layer i ends in a ReLU. */
  endsInRelu(i: number): boolean {
    const l = this.layers[i].spec;
    return (l.kind === 'conv' || l.kind === 'fc') && l.relu;
  }

  /** The layer program for the native training step, indexing into parameterList()/bufferList(). */
  nativeProgram(): NativeLayer[] {
    const pIndex = new Map([...this.parameters.keys()].map((k, i) => [k, i]));
    const bIndex = new Map([...this.buffers.keys()].map((k, i) => [k, i]));
    const out: NativeLayer[] = [];
    this.layers.forEach(({ spec: l, name }, i) => {
      switch (l.kind) {
        case 'conv':
          out.push({ kind: 'conv', weight: pIndex.get(`${name}.weight`), bias: pIndex.get(`${name}.bias`) ?? -1, stride: l.stride, padding: l.padding });
          break;
        case 'fc':
          out.push({ kind: 'linear', weight: pIndex.get(`${name}.weight`), bias: pIndex.get(`${name}.bias`) ?? -1 });
          break;
        case 'maxpool':
        case 'avgpool':
          out.push({ kind: l.kind, kernel: l.kernel, stride: l.stride, padding: l.padding });
          break;
        case 'dropout':
          out.push({ kind: 'dropout', p: l.p });
          break;
        case 'gap':
        case 'flatten':
          out.push({ kind: l.kind });
          break;
        case 'softmax':
          break;
      }
      if ((l.kind === 'conv' || l.kind === 'fc') && l.batchNorm) {
        out.push({
          kind: 'batchnorm', weight: pIndex.get(`${name}.bn.weight`), bias: pIndex.get(`${name}.bn.bias`),
          runningMean: bIndex.get(`${name}.bn.runningMean`), runningVar: bIndex.get(`${name}.bn.runningVar`), momentum: 0.1, eps: 1e-5,
        });
      }
      if (this.endsInRelu(i)) out.push({ kind: 'relu' });
    });
    return out;
  }

  parameterList(): Tensor[] {
    return [...this.parameters.values()];
  }
  bufferList(): Tensor[] {
    return [...this.buffers.values()];
  }

  /** Stops gradients for every parameter whose name matches (transfer learning). */
  freeze(match: (name: string) => boolean): string[] {
    const frozen: string[] = [];
    for (const [name, t] of this.parameters) {
      if (match(name)) {
        t.requiresGrad_(false);
        frozen.push(name);
      }
    }
    return frozen;
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const t of this.parameters.values()) t.dispose();
    for (const t of this.buffers.values()) t.dispose();
  }
}

/** Builds a network from a spec; see BuildOptions. */
export function buildNetwork(spec: NetworkSpec, o: BuildOptions = {}): Network {
  if (!spec || !Array.isArray(spec.layers)) throw invalid('spec', 'a NetworkSpec (from declareNetwork or MODELS)', spec);
  return new Network(spec, o);
}
