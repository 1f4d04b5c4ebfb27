/**
 * Weight initialisation. The paper does not state one; Xavier/Glorot uniform
 * with zero biases is the default (the seed report found it better than
 * Kaiming). Fans count the receptive field: fan_in = Cin*k*k, fan_out = Cout*k*k.
 */
import { checkNumber, checkOneOf, invalid, invalidAs } from './check';
import { noGrad } from './autograd';
import { checkGenerator, checkRandomOptions, type Generator } from './generator';
import { handleOf, isFloating, type Tensor } from './tensor';

export const INITS = ['xavier-uniform', 'xavier-normal', 'kaiming-uniform', 'kaiming-normal', 'gaussian'] as const;
export type InitName = (typeof INITS)[number];

export interface InitOptions {
  /** Default 'xavier-uniform'. */
  init?: InitName;
  /** Standard deviation for 'gaussian' (default 0.01). */
  std?: number;
  /** Draw from this generator rather than LibTorch's global one. */
  generator?: Generator;
}

/** Fan-in and fan-out of a weight of shape [out, in, ...kernel] or [out, in]. */
export function fans(shape: number[]): { fanIn: number; fanOut: number } {
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** Fills `weight` in place following `o.init`, from `o.generator` or else LibTorch's global generator (seed it first). */
export function initWeight(weight: Tensor, o: InitOptions = {}): void {
  checkRandomOptions(o, ['init', 'std', 'generator']);
  const init = checkOneOf('init', o.init ?? 'xavier-uniform', INITS);
  handleOf('weight', weight);
  if (!isFloating(weight.dtype)) throw invalidAs('weight', 'a floating-point tensor (float32, float64, float16 or bfloat16)', `a tensor of dtype ${weight.dtype}`);
  const shape = weight.shape;
  // Fans need [out, in, ...]: a bias's one dimension would give NaN bounds.
  if (init !== 'gaussian' && shape.length < 2) throw invalid('weight', `a weight of shape [out, in, ...kernel] for ${init} (fill a bias with zero_() or use init 'gaussian')`, shape);
  // The other inits take their scale from the fans: a std given to them would be ignored without a word.
  if (o.std !== undefined && init !== 'gaussian') throw invalid('options.std', "no std unless init is 'gaussian'", o.std);
  const std = checkNumber('options.std', o.std ?? 0.01, 0);
  const { fanIn, fanOut } = fans(shape);
  const g = checkGenerator('options.generator', o.generator);
  // As PyTorch: nothing to draw (a fan of 0 would give an infinite bound).
  if (weight.numel === 0) return;
  noGrad(() => {
    switch (init) {
      case 'xavier-uniform': {
        const bound = Math.sqrt(6 / (fanIn + fanOut));
        weight.uniform_(-bound, bound, g);
        break;
      }
      case 'xavier-normal':
        weight.normal_(0, Math.sqrt(2 / (fanIn + fanOut)), g);
        break;
      case 'kaiming-uniform': {
        // gain sqrt(2) for ReLU: bound = sqrt(6 / fan_in)
        const bound = Math.sqrt(6 / fanIn);
        weight.uniform_(-bound, bound, g);
        break;
      }
      case 'kaiming-normal':
        weight.normal_(0, Math.sqrt(2 / fanIn), g);
        break;
      case 'gaussian':
        weight.normal_(0, std, g);
        break;
    }
  });
}
