/**
 * SGD with momentum and coupled L2 weight decay, PyTorch's convention:
 *   d = grad + weightDecay * w;  v = momentum * v + d;  w -= lr * v
 * (Caffe and the paper's era scale v by lr before adding; with a constant
 * rate the two are the same, and at a rate change this one carries the old
 * velocity over unscaled.) The whole update is one native call.
 */
import { checkKeys, checkNumber, invalid, invalidAs } from '../check';
import { zeros } from '../creation';
import { InvalidArgumentError } from '../errors';
import { native } from '../native';
import { keep } from '../scope';
import { isFloating, Tensor } from '../tensor';

export interface SgdOptions {
  /** Default 0.9 (the paper). */
  momentum?: number;
  /** Default 0.001 (the paper). */
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD {
  readonly params: Tensor[];
  /** One velocity buffer per parameter; saved in checkpoints. */
  readonly momentumBuffers: Tensor[];
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: Tensor[], o: SgdOptions = {}) {
    if (o !== null && typeof o === 'object' && 'lr' in o) throw new InvalidArgumentError('SGD takes the learning rate in step(lr), which the schedule sets each step, not in its options');
    checkKeys('options', o, ['momentum', 'weightDecay', 'nesterov'] satisfies Array<keyof SgdOptions>);
    if (!Array.isArray(params) || !params.every((p) => p instanceof Tensor)) throw invalid('params', 'a list of tensors (network.parameterList())', params);
    // Listed twice, a tensor would be updated twice per step, with two momentum buffers.
    const twice = params.findIndex((p, i) => params.indexOf(p) !== i);
    if (twice >= 0) throw invalidAs('params', 'each tensor once', `tensor ${twice} again (also at ${params.indexOf(params[twice])})`);
    // An integer tensor has no gradient to follow: it would be skipped without a word.
    const integer = params.findIndex((p) => !isFloating(p.dtype));
    if (integer >= 0) throw invalidAs(`params[${integer}]`, 'a floating-point tensor (float32, float64, float16 or bfloat16)', `a tensor of dtype ${params[integer].dtype}`);
    // The result of an op keeps no .grad (LibTorch only warns): it would never move.
    const derived = params.findIndex((p) => !p.isLeaf);
    if (derived >= 0) throw invalidAs(`params[${derived}]`, 'a leaf tensor (a network parameter, or a tensor made with requiresGrad_())', 'the result of an op, which keeps no gradient to follow');
    this.params = params;
    this.momentum = checkNumber('momentum', o.momentum ?? 0.9, 0, 1);
    this.weightDecay = finite('weightDecay', o.weightDecay ?? 0.001);
    if (o.nesterov !== undefined && typeof o.nesterov !== 'boolean') throw invalid('nesterov', 'true or false', o.nesterov);
    // As PyTorch: Nesterov looks ahead along the velocity, and without momentum there is none.
    if (o.nesterov && this.momentum === 0) throw invalid('nesterov', 'false with momentum 0 (Nesterov momentum needs a momentum)', o.nesterov);
    this.nesterov = o.nesterov ?? false;
    this.momentumBuffers = params.map((p) => keep(zeros(p.shape, { device: p.device, dtype: p.dtype })));
  }

  /** Applies one update with the gradients in the parameters' .grad. */
  step(lr: number): void {
    // Its momentum is gone: "This Tensor was disposed" would not say whose.
    if (this.momentumBuffers.some((b) => b.isDisposed)) throw new InvalidArgumentError('SGD.step: this optimiser was disposed (its momentum buffers are freed); make a new SGD');
    native().optim_sgd_step(this.params.map((p) => p.handle), this.momentumBuffers.map((b) => b.handle), finite('lr', lr), this.momentum, this.weightDecay, this.nesterov);
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  dispose(): void {
    for (const b of this.momentumBuffers) b.dispose();
  }
}

/** A finite number >= 0: an infinite rate or decay turns every weight into NaN at the first step. */
function finite(name: string, v: unknown): number {
  const x = checkNumber(name, v, 0);
  if (x === Infinity) throw invalid(name, 'a finite number >= 0', v);
  return x;
}
