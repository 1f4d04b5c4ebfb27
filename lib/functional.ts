/**
 * The neural-net functions the All-CNN family and its ablations need, with
 * torch.nn.functional's semantics. Shapes are NCHW; an int or [h, w] pair is
 * accepted wherever PyTorch takes one.
 */
import { checkBoolean, checkInteger, checkKeys, checkNumber, invalid, invalidAs } from './check';
import { Generator, generatorHandle } from './generator';
import { native } from './native';
import { handleOf, optionalHandle, Tensor, wrap } from './tensor';

export type Pair = number | [number, number];
/**
 * LibTorch 1.13's convolution and pooling kernels keep these sizes in 32-bit
 * ints: 2^32 + 2 as a kernel was pooled as 2, a silently wrong result.
 */
const MAX_SIZE = 2 ** 31 - 1;
/** A size given as one integer or [h, w]; `min` 1 for kernels, strides and dilations (a 0 kernel was reported as "stride should not be zero"). */
const pair = (name: string, v: Pair, min = 0): number[] => {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= min && x <= MAX_SIZE)) {
    throw invalid(name, `a ${min === 0 ? 'non-negative' : 'positive'} integer up to 2^31 - 1, or a pair of them`, v);
  }
  return p;
};

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}
// Options are checked by key: a misspelt `strides: 2` ran with stride 1.
const CONV_KEYS = Object.keys({ stride: 1, padding: 1, dilation: 1, groups: 1 } satisfies Record<keyof Conv2dOptions, 1>);
const POOL_KEYS = Object.keys({ stride: 1, padding: 1, ceilMode: 1 } satisfies Record<keyof Pool2dOptions, 1>);

/** x [N,Cin,H,W], weight [Cout,Cin/groups,kh,kw], bias [Cout] or null. */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  checkKeys('options', o, CONV_KEYS);
  return wrap(
    native().nn_conv2d(handleOf('x', x), handleOf('weight', weight), optionalHandle('bias', bias), pair('stride', o.stride ?? 1, 1), pair('padding', o.padding ?? 0),
      pair('dilation', o.dilation ?? 1, 1), o.groups ?? 1),
  );
}

export interface Pool2dOptions {
  /** Default: the kernel size. */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}
export function maxPool2d(x: Tensor, kernel: Pair, o: Pool2dOptions = {}): Tensor {
  checkKeys('options', o, POOL_KEYS);
  return wrap(native().nn_max_pool2d(handleOf('x', x), pair('kernel', kernel, 1), pair('stride', o.stride ?? kernel, 1), pair('padding', o.padding ?? 0), o.ceilMode ?? false));
}
export function avgPool2d(x: Tensor, kernel: Pair, o: Pool2dOptions = {}): Tensor {
  checkKeys('options', o, POOL_KEYS);
  return wrap(native().nn_avg_pool2d(handleOf('x', x), pair('kernel', kernel, 1), pair('stride', o.stride ?? kernel, 1), pair('padding', o.padding ?? 0), o.ceilMode ?? false));
}
export function adaptiveAvgPool2d(x: Tensor, size: Pair): Tensor {
  return wrap(native().nn_adaptive_avg_pool2d(handleOf('x', x), pair('size', size)));
}
/** The global average over H and W: [N,C,H,W] -> [N,C]. */
export function globalAvgPool(x: Tensor): Tensor {
  return x.mean([2, 3]);
}
export function relu(x: Tensor): Tensor {
  return wrap(native().nn_relu(handleOf('x', x)));
}
/** Zeroes each value with probability p and scales the rest by 1/(1-p) when training; draws from `generator` if given. */
export function dropout(x: Tensor, p: number, training: boolean, generator?: Generator): Tensor {
  return wrap(native().nn_dropout(handleOf('x', x), checkNumber('p', p, 0, 1), checkBoolean('training', training), generatorHandle('generator', generator)));
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  training: boolean;
  momentum?: number;
  eps?: number;
}
export function batchNorm(x: Tensor, o: BatchNormOptions): Tensor {
  checkKeys('options', o, Object.keys({ weight: 1, bias: 1, runningMean: 1, runningVar: 1, training: 1, momentum: 1, eps: 1 } satisfies Record<keyof BatchNormOptions, 1>));
  // Required: batch statistics or running ones is no default to guess.
  checkBoolean('options.training', o.training);
  return wrap(
    native().nn_batch_norm(handleOf('x', x), optionalHandle('options.weight', o.weight), optionalHandle('options.bias', o.bias), optionalHandle('options.runningMean', o.runningMean),
      optionalHandle('options.runningVar', o.runningVar), o.training, o.momentum ?? 0.1, o.eps ?? 1e-5),
  );
}
/** x [N,in] @ weight[out,in]^T + bias. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return wrap(native().nn_linear(handleOf('x', x), handleOf('weight', weight), optionalHandle('bias', bias)));
}
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return wrap(native().nn_log_softmax(handleOf('x', x), checkInteger('dim', dim)));
}
/** Probabilities along `dim`: exp(logSoftmax(x, dim)). */
export function softmax(x: Tensor, dim = -1): Tensor {
  const log = logSoftmax(x, dim);
  try {
    return log.exp();
  } finally {
    log.dispose();
  }
}
/**
 * Mean cross-entropy of logits [N,K] against class indices [N] (int64, or
 * any integer dtype), or, as PyTorch, against class probabilities [N,K].
 */
export function crossEntropy(logits: Tensor, target: Tensor, o: { labelSmoothing?: number } = {}): Tensor {
  checkKeys('options', o, ['labelSmoothing']);
  return wrap(native().nn_cross_entropy(handleOf('logits', logits), handleOf('target', target), checkNumber('labelSmoothing', o.labelSmoothing ?? 0, 0, 1)));
}
export function interpolate(x: Tensor, size: Pair, mode: 'bilinear' | 'nearest' = 'bilinear', alignCorners = false): Tensor {
  return wrap(native().nn_interpolate(handleOf('x', x), pair('size', size), mode, alignCorners));
}
/** Sampling grid for gridSample from affine matrices theta [N,2,3]. */
export function affineGrid(theta: Tensor, size: [number, number, number, number], alignCorners = false): Tensor {
  return wrap(native().nn_affine_grid(handleOf('theta', theta), size, alignCorners));
}
export function gridSample(x: Tensor, grid: Tensor, o: { mode?: 'bilinear' | 'nearest'; padding?: 'zeros' | 'border' | 'reflection'; alignCorners?: boolean } = {}): Tensor {
  checkKeys('options', o, ['mode', 'padding', 'alignCorners']);
  return wrap(native().nn_grid_sample(handleOf('x', x), handleOf('grid', grid), o.mode ?? 'bilinear', o.padding ?? 'zeros', o.alignCorners ?? false));
}
/** Number of rows whose argmax equals the target, as a 0-d int64 tensor (no host sync). */
export function correctCount(logits: Tensor, target: Tensor): Tensor {
  const [l, t] = [handleOf('logits', logits), handleOf('target', target)];
  // Checked here: eq() would broadcast a [N, 1] or [1] target and count N x N or N x 1 hits.
  const [ls, ts] = [logits.shape, target.shape];
  if (ls.length !== 2 || ts.length !== 1 || ts[0] !== ls[0]) {
    throw invalidAs('logits and target', 'logits [N, K] and a target [N] of class indices with the same N', `logits [${ls.join(', ')}] and target [${ts.join(', ')}]`);
  }
  return wrap(native().nn_correct(l, t));
}
/** Fraction of rows whose argmax equals the target (syncs to read it). */
export function accuracy(logits: Tensor, target: Tensor): number {
  const c = correctCount(logits, target);
  const n = target.shape[0];
  const v = c.item();
  c.dispose();
  return n === 0 ? 0 : v / n;
}
