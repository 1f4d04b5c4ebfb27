/**
 * The Tensor handle: a thin, typed owner of one LibTorch tensor.
 *
 * Every operation returns a new Tensor registered with the current scope
 * (see scope.ts); methods ending in `_` work in place and return `this`.
 * Free tensors with dispose() or tidy(): the GC only finalizes handles late,
 * and never sees GPU memory.
 */
import { checkBoolean, checkInteger, checkKeys, checkOneOf, checkShape, invalid } from './check';
import { Generator, generatorHandle } from './generator';
import { native, NativeTensor, NativeTensorInfo } from './native';
import { track } from './scope';

export const DTYPES = ['float32', 'float16', 'bfloat16', 'float64', 'int64', 'int32', 'uint8', 'bool'] as const;
export type DType = (typeof DTYPES)[number];
/** Bytes per element of each dtype. */
export const ITEM_SIZE: Readonly<Record<DType, number>> = { float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, uint8: 1, bool: 1 };
/** The dtypes weights, gradients and optimiser state are kept in. */
export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float64';
}
/** 'cpu', 'cuda' or 'cuda:N' (editors offer them; other strings are refused at run time, as devices come from flags and JSON too). */
export type Device = 'cpu' | 'cuda' | `cuda:${number}` | (string & {});

export function checkDevice(name: string, device: unknown): Device {
  if (typeof device !== 'string' || !/^(cpu|cuda(:\d+)?)$/.test(device)) {
    throw invalid(name, 'a device ("cpu", "cuda" or "cuda:N")', device);
  }
  return device;
}
export function checkDtype(name: string, dtype: unknown): DType {
  return checkOneOf(name, dtype, DTYPES);
}

export type Dims = number | number[];
/** Dims as the addon takes them; checked here, so that a mistake names `dims` rather than the addon's argument 2. */
const dimsOf = (d: Dims | undefined): number[] | null => {
  if (d === undefined) return null;
  const list = typeof d === 'number' ? [d] : d;
  if (!Array.isArray(list) || !list.every((x) => Number.isInteger(x))) throw invalid('dims', 'a dim or a list of dims (integers)', d);
  return list;
};

export class Tensor {
  /** Marks tensors for scope bookkeeping without an import cycle. */
  readonly __isTensor = true;
  #handle: NativeTensor | null;
  #info: NativeTensorInfo | null = null;

  /** Wraps a native handle; use the creation functions instead. */
  constructor(handle: NativeTensor) {
    this.#handle = handle;
    track(this);
  }

  /** The native handle; throws once disposed. */
  get handle(): NativeTensor {
    if (this.#handle === null) {
      throw new Error('This Tensor was disposed (by dispose() or by the tidy() scope it was made in); keep() it to use it later');
    }
    return this.#handle;
  }

  /** Frees the tensor now. Safe to call twice. */
  dispose(): void {
    this.#handle?.dispose();
    this.#handle = null;
  }
  get isDisposed(): boolean {
    return this.#handle === null;
  }

  private get info(): NativeTensorInfo {
    const handle = this.handle; // throws once disposed, whether or not the info was read before
    return (this.#info ??= native().tensor_info(handle));
  }
  get shape(): number[] {
    return this.info.shape.slice();
  }
  get strides(): number[] {
    return native().tensor_info(this.handle).strides;
  }
  get dtype(): DType {
    return this.info.dtype as DType;
  }
  get device(): Device {
    return this.info.device;
  }
  get rank(): number {
    return this.info.shape.length;
  }
  get numel(): number {
    return this.info.shape.reduce((a, b) => a * b, 1);
  }
  /** False for the result of an op on tensors that require grad: LibTorch keeps .grad only for leaves (retainGrad() aside). */
  get isLeaf(): boolean {
    return native().tensor_info(this.handle).isLeaf;
  }
  get requiresGrad(): boolean {
    return native().tensor_info(this.handle).requiresGrad;
  }
  isContiguous(format: 'contiguous' | 'channels_last' = 'contiguous'): boolean {
    checkOneOf('format', format, MEMORY_FORMATS);
    const i = native().tensor_info(this.handle);
    return format === 'contiguous' ? i.contiguous : i.channelsLast;
  }
  toString(): string {
    return this.isDisposed ? 'Tensor(disposed)' : `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.device})`;
  }

  // ---- data out ----
  /** A copy of the values as a TypedArray (int64 as BigInt64Array, f16/bf16 as raw Uint16Array bits). */
  data(): Float32Array | Float64Array | Int32Array | BigInt64Array | Uint16Array | Uint8Array {
    return native().tensor_to_buffer(this.handle);
  }
  /** The values as plain numbers, flattened (float16/bfloat16 are converted through float32). */
  toArray(): number[] {
    const src = this.dtype === 'float16' || this.dtype === 'bfloat16' ? this.to({ dtype: 'float32' }) : this;
    const d = src.data();
    if (src !== this) src.dispose();
    return Array.from(d as ArrayLike<number | bigint>, Number);
  }
  item(): number {
    return native().tensor_item(this.handle);
  }

  // ---- layout ----
  reshape(shape: number[]): Tensor {
    return wrap(native().tensor_reshape(this.handle, checkShapeAllowingInfer(shape)));
  }
  view(shape: number[]): Tensor {
    return wrap(native().tensor_view(this.handle, checkShapeAllowingInfer(shape)));
  }
  permute(dims: number[]): Tensor {
    return wrap(native().tensor_permute(this.handle, dims));
  }
  transpose(a: number, b: number): Tensor {
    return wrap(native().tensor_transpose(this.handle, checkInteger('dim0', a), checkInteger('dim1', b)));
  }
  /** -1 keeps a dimension's size. */
  expand(shape: number[]): Tensor {
    // LibTorch reads -2 as a size, and says "integer multiplication overflow".
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= -1)) throw invalid('shape', 'a list of sizes (integers >= 0, or -1 to keep one)', shape);
    return wrap(native().tensor_expand(this.handle, shape));
  }
  squeeze(dim: number): Tensor {
    return wrap(native().tensor_squeeze(this.handle, checkInteger('dim', dim)));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(native().tensor_unsqueeze(this.handle, checkInteger('dim', dim)));
  }
  /** A contiguous copy (or this data, if already so); 'channels_last' gives NHWC memory order. */
  contiguous(format: 'contiguous' | 'channels_last' = 'contiguous'): Tensor {
    checkOneOf('format', format, MEMORY_FORMATS); // 'channels-last' gave NCHW without a word
    return wrap(native().tensor_contiguous(this.handle, format === 'channels_last'));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(native().tensor_narrow(this.handle, checkInteger('dim', dim), checkInteger('start', start), checkInteger('length', length)));
  }
  slice(dim: number, start: number, end: number, step = 1): Tensor {
    return wrap(native().tensor_slice(this.handle, dim, start, end, step));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(native().tensor_index_select(this.handle, checkInteger('dim', dim), handleOf('index', index)));
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(native().tensor_gather(this.handle, checkInteger('dim', dim), handleOf('index', index)));
  }
  flip(dims: Dims): Tensor {
    return wrap(native().tensor_flip(this.handle, dimsOf(dims)!));
  }
  /** Pads the last dims: [left, right, top, bottom, ...] as torch.nn.functional.pad. */
  pad(pads: number[], mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant', value = 0): Tensor {
    if (typeof value !== 'number') throw invalid('value', 'a number (NaN and infinities included)', value);
    return wrap(native().tensor_pad(this.handle, pads, mode, value));
  }
  clone(): Tensor {
    return wrap(native().tensor_clone(this.handle));
  }
  /** Moves and/or converts: to('cuda'), to({ dtype: 'float16' }), to({ device, dtype, nonBlocking }). */
  to(target: Device | { device?: Device; dtype?: DType; nonBlocking?: boolean }): Tensor {
    const t = typeof target === 'string' ? { device: target } : target;
    checkKeys('target', t, ['device', 'dtype', 'nonBlocking']);
    if (t.device !== undefined) checkDevice('device', t.device);
    if (t.dtype !== undefined) checkDtype('dtype', t.dtype);
    return wrap(native().tensor_to(this.handle, t.device ?? null, t.dtype ?? null, t.nonBlocking ?? false));
  }

  // ---- math ----
  add(o: Tensor | number): Tensor { return binary('add', this, o); }
  sub(o: Tensor | number): Tensor { return binary('sub', this, o); }
  mul(o: Tensor | number): Tensor { return binary('mul', this, o); }
  div(o: Tensor | number): Tensor { return binary('div', this, o); }
  pow(o: Tensor | number): Tensor { return binary('pow', this, o); }
  maximum(o: Tensor | number): Tensor { return binary('maximum', this, o); }
  minimum(o: Tensor | number): Tensor { return binary('minimum', this, o); }
  eq(o: Tensor | number): Tensor { return binary('eq', this, o); }
  ne(o: Tensor | number): Tensor { return binary('ne', this, o); }
  lt(o: Tensor | number): Tensor { return binary('lt', this, o); }
  le(o: Tensor | number): Tensor { return binary('le', this, o); }
  gt(o: Tensor | number): Tensor { return binary('gt', this, o); }
  ge(o: Tensor | number): Tensor { return binary('ge', this, o); }
  logicalAnd(o: Tensor | number): Tensor { return binary('logical_and', this, o); }
  logicalOr(o: Tensor | number): Tensor { return binary('logical_or', this, o); }

  add_(o: Tensor | number): this { return this.inPlace('add', o); }
  sub_(o: Tensor | number): this { return this.inPlace('sub', o); }
  mul_(o: Tensor | number): this { return this.inPlace('mul', o); }
  div_(o: Tensor | number): this { return this.inPlace('div', o); }
  copy_(src: Tensor): this { return this.inPlace('copy', src); }
  fill_(value: number): this {
    native().tensor_fill_(this.handle, value);
    return this;
  }
  zero_(): this { return this.fill_(0); }
  /** Fills with uniform numbers in [low, high), from `generator` if given. */
  uniform_(low = 0, high = 1, generator?: Generator): this {
    native().tensor_uniform_(this.handle, low, high, generatorHandle('generator', generator));
    return this;
  }
  /** Fills with normal numbers, from `generator` if given. */
  normal_(mean = 0, std = 1, generator?: Generator): this {
    native().tensor_normal_(this.handle, mean, std, generatorHandle('generator', generator));
    return this;
  }

  exp(): Tensor { return unary('exp', this); }
  log(): Tensor { return unary('log', this); }
  sqrt(): Tensor { return unary('sqrt', this); }
  rsqrt(): Tensor { return unary('rsqrt', this); }
  neg(): Tensor { return unary('neg', this); }
  abs(): Tensor { return unary('abs', this); }
  square(): Tensor { return unary('square', this); }
  relu(): Tensor { return unary('relu', this); }
  sigmoid(): Tensor { return unary('sigmoid', this); }
  tanh(): Tensor { return unary('tanh', this); }
  floor(): Tensor { return unary('floor', this); }
  round(): Tensor { return unary('round', this); }
  sign(): Tensor { return unary('sign', this); }
  logicalNot(): Tensor { return unary('logical_not', this); }
  isnan(): Tensor { return unary('isnan', this); }
  clamp(min: number | null, max: number | null = null): Tensor {
    return wrap(native().tensor_clamp(this.handle, min, max));
  }
  matmul(o: Tensor): Tensor {
    return wrap(native().tensor_matmul(this.handle, handleOf('other', o)));
  }

  /**
   * Reductions over `dims` (all dims when omitted). var/std are unbiased
   * unless told otherwise. max and min give the values only, as torch.amax
   * and torch.amin do, and so share a tie's gradient among the tied values
   * (argmax gives the index).
   */
  sum(dims?: Dims, keepdim = false): Tensor { return this.reduce('sum', dims, keepdim); }
  mean(dims?: Dims, keepdim = false): Tensor { return this.reduce('mean', dims, keepdim); }
  max(dims?: Dims, keepdim = false): Tensor { return this.reduce('max', dims, keepdim); }
  min(dims?: Dims, keepdim = false): Tensor { return this.reduce('min', dims, keepdim); }
  var(dims?: Dims, opts: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
    checkKeys('options', opts, ['unbiased', 'keepdim']); // a misspelt `unbaised: false` gave the unbiased one
    return this.reduce('var', dims, opts.keepdim ?? false, opts.unbiased ?? true);
  }
  std(dims?: Dims, opts: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
    checkKeys('options', opts, ['unbiased', 'keepdim']);
    return this.reduce('std', dims, opts.keepdim ?? false, opts.unbiased ?? true);
  }
  argmax(dim?: number, keepdim = false): Tensor { return this.reduce('argmax', dim, keepdim); }

  // ---- autograd ----
  requiresGrad_(on = true): this {
    native().tensor_set_requires_grad(this.handle, checkBoolean('on', on));
    return this;
  }
  /** Back-propagates from this tensor (a scalar, unless `grad` is given; null as undefined, as PyTorch's None). */
  backward(grad?: Tensor | null): void {
    try {
      native().tensor_backward(this.handle, grad === undefined || grad === null ? undefined : handleOf('grad', grad));
    } catch (err) {
      // LibTorch's advice, retain_graph=True, is PyTorch's: this API frees the graph after each backward.
      if (!/retain_graph=True/.test((err as Error).message)) throw err;
      throw new Error('backward(): this graph was already back-propagated through, which freed it; run the forward pass again to back-propagate again');
    }
  }
  /** The accumulated gradient (a new handle each call), or null. */
  get grad(): Tensor | null {
    const g = native().tensor_grad(this.handle);
    return g === null ? null : wrap(g);
  }
  zeroGrad(): void {
    native().tensor_zero_grad(this.handle);
  }
  detach(): Tensor {
    return unary('detach', this);
  }

  private inPlace(op: string, o: Tensor | number): this {
    native().tensor_binary_(op, this.handle, operand(o));
    return this;
  }
  private reduce(op: string, dims: Dims | undefined, keepdim: boolean, unbiased = true): Tensor {
    return wrap(native().tensor_reduce(op, this.handle, dimsOf(dims), checkBoolean('keepdim', keepdim), checkBoolean('unbiased', unbiased)));
  }
}

const MEMORY_FORMATS = ['contiguous', 'channels_last'] as const;

function checkShapeAllowingInfer(shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= -1)) checkShape('shape', shape);
  return shape as number[];
}

function operand(o: Tensor | number): NativeTensor | number {
  if (o instanceof Tensor) return o.handle;
  if (typeof o !== 'number') throw invalid('operand', 'a Tensor or a number', o);
  return o;
}

/** The handle of a Tensor argument, with an error naming the argument when it is something else (null, an array, a number). */
export function handleOf(name: string, t: Tensor): NativeTensor {
  if (!(t instanceof Tensor)) throw invalid(name, 'a Tensor', t);
  return t.handle;
}
/** As handleOf, for an optional Tensor (null or undefined: none). */
export function optionalHandle(name: string, t: Tensor | null | undefined): NativeTensor | null {
  return t === null || t === undefined ? null : handleOf(name, t);
}

/**
 * indexSelect and gather without the check that every index is in range, for
 * indices the library made in range itself (a training step's batch, its
 * translations): on CUDA the check reads the indices back, a host sync that
 * would stall every step. An index out of range here is a device-side
 * assert on CUDA, which leaves the GPU unusable to the process.
 */
export function indexSelectInRange(x: Tensor, dim: number, index: Tensor): Tensor {
  return wrap(native().tensor_index_select(x.handle, dim, index.handle, false));
}
export function gatherInRange(x: Tensor, dim: number, index: Tensor): Tensor {
  return wrap(native().tensor_gather(x.handle, dim, index.handle, false));
}

/** Wraps a fresh native handle in a tracked Tensor. */
export function wrap(h: NativeTensor): Tensor {
  return new Tensor(h);
}

function binary(op: string, a: Tensor, b: Tensor | number): Tensor {
  return wrap(native().tensor_binary(op, a.handle, operand(b)));
}
function unary(op: string, a: Tensor): Tensor {
  return wrap(native().tensor_unary(op, a.handle));
}
