/**
 * Guided backpropagation (Springenberg et al. 2015, section 3.4, figure 2):
 * what in an image drives one unit of a trained network, found by starting
 * from that unit alone and stepping back to the image layer by layer. The
 * paper's three ways back through a ReLU whose input was f, given the signal
 * R from the layer above:
 *
 *   backprop   R * (f > 0)              the plain gradient
 *   deconvnet  R * (R > 0)              Zeiler and Fergus (2014)
 *   guided     R * (f > 0) * (R > 0)    guided backpropagation
 *
 * Through everything else (convolutions, pooling with its switches, the
 * global average, dropout off) all three take the plain gradient, computed
 * by LibTorch's autograd one layer at a time.
 */
import { enableGrad, noGrad } from '../autograd';
import { checkInteger, checkOneOf, invalid } from '../check';
import { InvalidArgumentError } from '../errors';
import { arange } from '../creation';
import * as F from '../functional';
import type { Network } from '../model/network';
import { layerNames, type NetworkSpec } from '../model/spec';
import { tidy } from '../scope';
import type { Tensor } from '../tensor';

export const METHODS = ['guided', 'deconvnet', 'backprop'] as const;
export type Method = (typeof METHODS)[number];

/** One unit: a channel (feature map, or class score) of a layer, as named by the network ('conv6', 'gap1'). */
export interface Unit {
  layer: string;
  channel: number;
}

/** The layers whose channels can be visualised: those with weights and the pooling layers. */
const VISIBLE = new Set(['conv', 'fc', 'maxpool', 'avgpool', 'gap']);

/** The index of a layer by name, with an error that lists the names when it is not one. */
export function findLayer(net: Network, layer: string): number {
  return findSpecLayer(net.spec, layer);
}

/** findLayer before a network is built: the index of `layer` in `spec`'s layers (a Network's layers are its spec's, in order). */
export function findSpecLayer(spec: NetworkSpec, layer: string): number {
  const names = layerNames(spec);
  const i = names.indexOf(layer);
  if (i < 0 || !VISIBLE.has(spec.layers[i].kind)) {
    throw invalid('layer', `a layer of ${spec.name}: ${names.filter((_, k) => VISIBLE.has(spec.layers[k].kind)).join(', ')}`, layer);
  }
  return i;
}

/** The layer's number of channels (feature maps, or units of a flat layer). */
export function channelsOf(net: Network, layer: string): number {
  return net.shapes[findLayer(net, layer)][0];
}

function checkUnit(net: Network, unit: Unit): { index: number; channel: number } {
  const index = findLayer(net, unit.layer);
  const channel = checkInteger('channel', unit.channel, 0, net.shapes[index][0] - 1);
  return { index, channel };
}

function checkImages(net: Network, x: Tensor): void {
  const expected = net.inputShape;
  if (x.rank !== 4 || x.shape.slice(1).some((d, k) => d !== expected[k])) {
    throw new InvalidArgumentError(`Expected a [N, ${expected.join(', ')}] tensor of images (preprocessed as for training) but received one of shape [${x.shape.join(', ')}]`);
  }
}

/** Each layer's input and its output before the ReLU, from the image up to layer `last`, in evaluation mode. */
function forwardTo(net: Network, x: Tensor, last: number): { inputs: Tensor[]; beforeRelu: Tensor[]; output: Tensor } {
  return noGrad(() => {
    const inputs: Tensor[] = [];
    const beforeRelu: Tensor[] = [];
    let h = x;
    for (let i = 0; i <= last; i++) {
      inputs.push(h);
      const b = net.layerBeforeRelu(i, h, false);
      beforeRelu.push(b);
      h = net.endsInRelu(i) ? F.relu(b) : b;
    }
    return { inputs, beforeRelu, output: h };
  });
}

/**
 * Each channel's activation in each image, the largest value of its feature
 * map (after the layer's ReLU), and where it is (flattened over H x W, the
 * first among equals; 0 for a flat layer): [N, C] each. The search for the
 * strongest images and the reconstruction's starting point both use it.
 */
export function maxima(output: Tensor): { values: Tensor; positions: Tensor } {
  const [n, c] = output.shape;
  const maps = output.reshape([n, c, -1]);
  return { values: maps.max(2), positions: maps.argmax(2) };
}

/** The unit's activation in each image (see maxima): [N], in evaluation mode. */
export function unitActivations(net: Network, x: Tensor, unit: Unit): Tensor {
  const { index, channel } = checkUnit(net, unit);
  checkImages(net, x);
  return tidy(() => noGrad(() => maxima(net.forward(x, false, index)).values.narrow(1, channel, 1).reshape([-1])));
}

/** One at the channel's strongest position in each image, zero everywhere else: "all activations but one set to zero". */
function seed(output: Tensor, channel: number): Tensor {
  const [n, c, ...spatial] = output.shape;
  const area = spatial.reduce((a, b) => a * b, 1);
  const positions = maxima(output).positions.narrow(1, channel, 1);
  const atPosition = arange(0, area, 1, { device: output.device }).reshape([1, area]).eq(positions);
  const inChannel = arange(0, c, 1, { device: output.device }).eq(channel).reshape([1, c, 1]);
  return inChannel.logicalAnd(atPosition.reshape([n, 1, area])).to({ dtype: 'float32' }).reshape(output.shape);
}

/** The paper's figure 2c: the signal r stepped back through a ReLU whose input was f. */
export function throughRelu(method: Method, r: Tensor, f: Tensor): Tensor {
  switch (method) {
    case 'backprop':
      return r.mul(f.gt(0));
    case 'deconvnet':
      return r.relu();
    case 'guided':
      return r.relu().mul(f.gt(0));
  }
}

/** The plain gradient of layer i's part before its ReLU, at its input, applied to r (a vector-Jacobian product). */
function throughLayer(net: Network, i: number, input: Tensor, r: Tensor): Tensor {
  return enableGrad(() => {
    const leaf = input.detach().requiresGrad_(true);
    const out = net.layerBeforeRelu(i, leaf, false);
    out.backward(r.contiguous());
    return leaf.grad!;
  });
}

/** Runs fn with every parameter out of autograd, so that stepping back leaves no gradient on the weights. */
function withFrozenWeights<R>(net: Network, fn: () => R): R {
  const trainable = net.parameterList().filter((t) => t.requiresGrad);
  for (const t of trainable) t.requiresGrad_(false);
  try {
    return fn();
  } finally {
    for (const t of trainable) t.requiresGrad_(true);
  }
}

/**
 * The reconstruction of one unit in each image, in the network's input space
 * (the preprocessed image): [N, C, H, W], by `method` (default 'guided').
 * Each image starts from the unit's strongest position in it; x holds images
 * preprocessed as for training.
 */
export function reconstruct(net: Network, x: Tensor, unit: Unit & { method?: Method }): Tensor {
  const method = checkOneOf('method', unit.method ?? 'guided', METHODS);
  const { index, channel } = checkUnit(net, unit);
  checkImages(net, x);
  return withFrozenWeights(net, () => tidy(() => {
    const { inputs, beforeRelu, output } = forwardTo(net, x, index);
    let r = seed(output, channel);
    for (let i = index; i >= 0; i--) {
      if (net.endsInRelu(i)) r = throughRelu(method, r, beforeRelu[i]);
      r = throughLayer(net, i, inputs[i], r);
    }
    return r;
  }));
}
