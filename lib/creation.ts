/** Tensor creation: constants, ranges, random values and TypedArray input. */
import { checkInteger, checkKeys, checkNumber, checkShape, invalid, invalidAs } from './check';
import { InvalidArgumentError } from './errors';
import { checkRandomOptions, Generator, generatorHandle } from './generator';
import { native, NativeGenerator, NativeTensor } from './native';
import { checkDevice, checkDtype, Device, DType, handleOf, ITEM_SIZE, Tensor, wrap } from './tensor';

export interface CreateOptions {
  /** Default 'float32'. */
  dtype?: DType;
  /** Default 'cpu'. */
  device?: Device;
}

export interface RandomOptions extends CreateOptions {
  /** Draw from this generator (on the same device) rather than LibTorch's global one. */
  generator?: Generator;
}

function dtypeAndDevice(o: CreateOptions): [string, string] {
  return [checkDtype('dtype', o.dtype ?? 'float32'), checkDevice('device', o.device ?? 'cpu')];
}

/** The options of zeros, ones, empty, full and arange, checked: zeros([2], 'cuda') made a CPU tensor without a word. */
function opts(o: CreateOptions = {}): [string, string] {
  checkKeys('options', o, ['dtype', 'device']);
  return dtypeAndDevice(o);
}

const FLOATING: readonly string[] = ['float32', 'float64', 'float16', 'bfloat16'];

/** The options of rand and randn, checked: their draws are floating point (randint draws integers). */
function randomOpts(o: RandomOptions = {}): [string, string, NativeGenerator | undefined] {
  checkRandomOptions(o, ['dtype', 'device', 'generator']);
  const [dtype, device] = dtypeAndDevice(o);
  if (!FLOATING.includes(dtype)) throw invalid('options.dtype', `a floating dtype (${FLOATING.join(', ')}); for integers use randint`, dtype);
  return [dtype, device, generatorHandle('options.generator', o.generator)];
}

export const zeros = (shape: number[], o?: CreateOptions): Tensor => wrap(native().tensor_zeros(checkShape('shape', shape), ...opts(o)));
export const ones = (shape: number[], o?: CreateOptions): Tensor => wrap(native().tensor_ones(checkShape('shape', shape), ...opts(o)));
/** Uninitialised memory: fill it before reading. */
export const empty = (shape: number[], o?: CreateOptions): Tensor => wrap(native().tensor_empty(checkShape('shape', shape), ...opts(o)));
/** Filled with `value` (NaN and infinities included, as in PyTorch). */
export const full = (shape: number[], value: number, o?: CreateOptions): Tensor => {
  if (typeof value !== 'number') throw invalid('value', 'a number', value);
  return wrap(native().tensor_full(checkShape('shape', shape), value, ...opts(o)));
};
/** Uniform on [0, 1). */
export const rand = (shape: number[], o?: RandomOptions): Tensor => wrap(native().tensor_rand(checkShape('shape', shape), ...randomOpts(o)));
/** Standard normal. */
export const randn = (shape: number[], o?: RandomOptions): Tensor => wrap(native().tensor_randn(checkShape('shape', shape), ...randomOpts(o)));

/** [start, end) in steps of `step`, as torch.arange(start, end, step) (both ends are always given: arange(0, n)). */
export function arange(start: number, end: number, step = 1, o?: CreateOptions): Tensor {
  if (checkNumber('step', step) === 0) throw invalid('step', 'a non-zero number', step);
  const [dtype, device] = opts(o);
  // LibTorch casts the step to the dtype first: 0.5 became 0, "step must be nonzero".
  if (!FLOATING.includes(dtype) && !Number.isInteger(step)) throw invalid('step', `an integer for dtype ${dtype}`, step);
  return wrap(native().tensor_arange(checkNumber('start', start), checkNumber('end', end), step, dtype, device));
}
/** Where randint and randperm draw: a device, or { device, generator }. */
export type IndexOptions = Device | { device?: Device; generator?: Generator };

/** The device and generator of randint's or randperm's options, checked. */
function indexOpts(name: string, o: IndexOptions, extra: number): [string, NativeGenerator | undefined] {
  // A generator given after a device string, randint(0, 10, [4], 'cpu', g), would be dropped unseen.
  if (extra > 0) throw new InvalidArgumentError(`${name} takes its device and generator in one options argument, { device, generator }, not as further arguments`);
  if (typeof o === 'string') return [checkDevice('device', o), undefined];
  checkRandomOptions(o, ['device', 'generator']);
  return [checkDevice('options.device', o.device ?? 'cpu'), generatorHandle('options.generator', o.generator)];
}

/** Random int64 values in [low, high) on a device (default 'cpu'), from `generator` if given: `randint(0, 10, [4], { device, generator })`. */
export function randint(low: number, high: number, shape: number[], o: IndexOptions = {}): Tensor {
  const max = Number.MAX_SAFE_INTEGER; // beyond, a JS number may not be the integer meant
  checkInteger('low', low, -max, max - 1);
  checkInteger('high', high, low + 1, max);
  return wrap(native().tensor_randint(low, high, checkShape('shape', shape), ...indexOpts('randint', o, arguments.length - 4)));
}
/** A random permutation of 0..n-1 (int64) on a device (default 'cpu'), from `generator` if given: `randperm(n, { device, generator })`. */
export function randperm(n: number, o: IndexOptions = {}): Tensor {
  return wrap(native().tensor_randperm(checkInteger('n', n, 0), ...indexOpts('randperm', o, arguments.length - 2)));
}

/** Seeds LibTorch's global generators (CPU and every CUDA device; the CPU one keeps the seed's low 32 bits); a Generator of one's own is seeded apart. */
export function manualSeed(seed: number): void {
  native().tensor_manual_seed(checkInteger('seed', seed, 0, Number.MAX_SAFE_INTEGER));
}

const TYPED_DTYPE: Array<[Function, DType]> = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int32Array, 'int32'],
  [BigInt64Array, 'int64'],
  [Uint8Array, 'uint8'],
];

/**
 * A CPU tensor holding a copy of `data` (a TypedArray, Buffer or number[]).
 * The dtype follows the array type (number[] -> float32) unless given; a
 * Uint8Array/Buffer may be read as 'bool', a Uint16Array as 'float16' or 'bfloat16' bits.
 */
export function fromArray(data: ArrayBufferView | number[], shape?: number[], dtype?: DType): Tensor {
  let view: ArrayBufferView;
  let dt: DType | undefined = dtype;
  if (Array.isArray(data)) {
    // A typed array would turn a string or a nested array into NaN (or BigInt() throw a RangeError) without naming the element.
    const bad = data.findIndex((v) => typeof v !== 'number');
    if (bad >= 0) throw invalid(`data[${bad}]`, 'a number (a number[] is one flat list: pass the shape separately)', data[bad]);
    dt ??= 'float32';
    // A typed array would truncate 1.7 and wrap 300 to 44 (uint8) unseen.
    // BigInt64Array wraps 2^63 to -2^63 unseen: int64's bound is exclusive (2^63 - 1 is no double).
    const range = ({ int64: [-(2 ** 63), 2 ** 63], int32: [-(2 ** 31), 2 ** 31], uint8: [0, 256] } as Record<string, number[]>)[dt];
    if (range) {
      const odd = data.findIndex((v) => !Number.isInteger(v) || v < range[0] || v >= range[1]);
      const within = dt === 'int64' ? ' in [-2^63, 2^63)' : ` in [${range[0]}, ${range[1] - 1}]`;
      if (odd >= 0) throw invalid(`data[${odd}]`, `an integer${within} for dtype ${dt}`, data[odd]);
    }
    const Ctor = ({ float32: Float32Array, float64: Float64Array, int32: Int32Array, uint8: Uint8Array, bool: Uint8Array } as Record<string, any>)[dt];
    if (dt === 'int64') view = BigInt64Array.from(data.map((v) => BigInt(v)));
    else if (dt === 'bool') view = Uint8Array.from(data, (v) => (v !== 0 ? 1 : 0)); // as torch.tensor([2, nan], dtype=bool): true, true
    else if (!Ctor) throw invalid('dtype', 'float32, float64, int32, int64, uint8 or bool for a number[]', dt);
    else view = new Ctor(data);
  } else if (ArrayBuffer.isView(data)) {
    view = data;
    const hit = TYPED_DTYPE.find(([C]) => data instanceof C);
    if (dt === undefined) {
      if (!hit) throw invalid('data', 'a Float32Array, Float64Array, Int32Array, BigInt64Array, Uint8Array or Buffer (or pass a dtype)', data);
      dt = hit[1];
    }
    // Raw bytes (Uint8Array/Buffer) may be read as any dtype, Uint16Array as float16/bfloat16 bits;
    // any other array type must match the dtype, or its bytes would be misread.
    const raw = data instanceof Uint8Array || (data instanceof Uint16Array && (dt === 'float16' || dt === 'bfloat16'));
    if (!raw && hit?.[1] !== dt) throw invalid('dtype', `the dtype of the ${data.constructor.name} (${hit?.[1] ?? 'none'}), or pass raw bytes as a Uint8Array`, dt);
    // N-API reads no typed array over a SharedArrayBuffer (worker threads share images so): "Invalid argument". Its bytes are copied.
    if (typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer) view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  } else {
    throw invalid('data', 'a TypedArray, Buffer or number[]', data);
  }
  const itemsize = ITEM_SIZE[checkDtype('dtype', dt)];
  if (view.byteLength % itemsize !== 0) throw invalidAs('data', `whole ${dt} values (${itemsize} bytes each)`, `${view.byteLength} bytes`);
  const count = view.byteLength / itemsize;
  const s = shape === undefined ? [count] : checkShape('shape', shape);
  return wrap(native().tensor_from_buffer(view, s, dt));
}

/** The same as fromArray(values, [], dtype): a 0-d tensor. */
export function scalar(value: number, o?: CreateOptions): Tensor {
  return full([], value, o);
}

/** The handles of a list of Tensors, checked: cat(t) and cat([t, null]) would fail inside map(). */
function tensorList(name: string, tensors: Tensor[]): NativeTensor[] {
  if (!Array.isArray(tensors)) throw invalid(name, 'an array of Tensors', tensors);
  return tensors.map((t, i) => handleOf(`${name}[${i}]`, t));
}
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return wrap(native().tensor_cat(tensorList('tensors', tensors), dim));
}
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return wrap(native().tensor_stack(tensorList('tensors', tensors), dim));
}
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return wrap(native().tensor_where(handleOf('cond', cond), handleOf('a', a), handleOf('b', b)));
}
export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}
export function outer(a: Tensor, b: Tensor): Tensor {
  return wrap(native().tensor_outer(handleOf('a', a), handleOf('b', b)));
}
/** Eigen-decomposition of a symmetric matrix: ascending eigenvalues and column eigenvectors (torch.linalg.eigh). */
export function eigh(a: Tensor): { values: Tensor; vectors: Tensor } {
  const [values, vectors] = native().tensor_eigh(handleOf('a', a));
  return { values: wrap(values), vectors: wrap(vectors) };
}
