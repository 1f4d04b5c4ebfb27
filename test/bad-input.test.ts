/**
 * Every function the addon exports, called with wrong types, wrong shapes,
 * disposed tensors, NaN and absurd sizes: each must throw (or reject) a JS
 * Error whose message starts with the operation's name, and the process must
 * survive all of it.
 *
 * The table below has one entry per export; a test checks that it covers
 * exactly Object.keys(native()) (less the two constructors), so a new export
 * without bad-input cases fails here.
 */
import { backend } from '../lib/backend';
import { checkInteger, checkNumber, checkOneOf, checkShape } from '../lib/check';
import { arange, fromArray, full, ones, randn, zeros } from '../lib/creation';
import { conv2d, crossEntropy, dropout, maxPool2d } from '../lib/functional';
import { native, NativeTensor } from '../lib/native';
import { checkDevice, checkDtype } from '../lib/tensor';
import { tidy } from '../lib/scope';

const addon = native();
const cudaAvailable = backend().cudaAvailable;

// ---- handles made by a test are freed after it ----------------------------

let made: NativeTensor[] = [];
function own<X>(v: X): X {
  if (v && typeof v === 'object') {
    if (typeof (v as unknown as NativeTensor).dispose === 'function' && typeof (v as unknown as NativeTensor).isDisposed === 'function') {
      made.push(v as unknown as NativeTensor);
    } else if (Array.isArray(v)) {
      v.forEach(own);
    }
  }
  return v;
}
afterEach(() => {
  for (const h of made) h.dispose();
  made = [];
});

const n = addon;
const f32 = (shape: number[]) => own(n.tensor_randn(shape, 'float32', 'cpu'));
const gen = () => n.generator_create(1, 'cpu');
const i64 = (vals: number[]) => own(n.tensor_from_buffer(new BigInt64Array(vals.map(BigInt)), [vals.length], 'int64'));
const disposed = (): NativeTensor => {
  const h = n.tensor_zeros([2], 'float32', 'cpu');
  h.dispose();
  return h;
};
/** A leaf that requires grad (float32). */
const leaf = (shape: number[]) => {
  const h = f32(shape);
  n.tensor_set_requires_grad(h, true);
  return h;
};

const NET_OPTIONS = { momentum: 0.9, weightDecay: 0, nesterov: false, labelSmoothing: 0, channelsLast: false, autocast: null };
/** conv 3->4 (3x3, pad 1) -> relu -> global average: logits [N, 4]. */
function makeNet() {
  const w = leaf([4, 3, 3, 3]);
  const b = leaf([4]);
  return n.net_create(
    [{ kind: 'conv', weight: 0, bias: 1, kernel: 3, stride: 1, padding: 1 }, { kind: 'relu' }, { kind: 'gap' }],
    [w, b],
    [own(n.tensor_zeros([4, 3, 3, 3], 'float32', 'cpu')), own(n.tensor_zeros([4], 'float32', 'cpu'))],
    [],
    NET_OPTIONS,
  );
}

// ---- argument kinds and the wrong values tried for each -------------------

type Slot =
  | 'T' | 'oT' | 'Ts' | 'TV' | 'N' | 'V' | 'oN' | 'I' | 'oI' | 'Is' | 'oIs' | 'B' | 'oB' | 'Dt' | 'oDt' | 'Dv' | 'oDv'
  | 'S' | 'oS' | 'Fn' | 'Net' | 'Buf' | 'Obj' | 'oObj' | 'Layers' | 'G' | 'oG';

function badValues(slot: Slot): Array<[string, () => unknown]> {
  const common: Array<[string, () => unknown]> = [['a string', () => 'x'], ['a plain object', () => ({})]];
  const tensorLike: Array<[string, () => unknown]> = [
    ['a number', () => 5], ...common, ['an array', () => []], ['a disposed tensor', disposed],
    ['a network', () => makeNet()], ['a fake handle', () => ({ dispose() {}, isDisposed: () => false })],
  ];
  const missing: Array<[string, () => unknown]> = [['undefined', () => undefined], ['null', () => null]];
  const generatorLike: Array<[string, () => unknown]> = [
    ['a number', () => 5], ...common, ['a tensor', () => f32([2])], ['a network', () => makeNet()],
    ['a forged generator', () => Object.create((addon as unknown as { NativeGenerator: { prototype: object } }).NativeGenerator.prototype)],
  ];
  const devices: Array<[string, () => unknown]> = [
    ['"tpu"', () => 'tpu'], ['"cuda:99"', () => 'cuda:99'], ['"cpu:x"', () => 'cpu:x'], ['""', () => ''], ['a number', () => 5],
    ...(cudaAvailable ? [] : ([['"cuda" on a CPU build', () => 'cuda'], ['"cuda:0" on a CPU build', () => 'cuda:0']] as Array<[string, () => unknown]>)),
  ];
  switch (slot) {
    case 'T': return [...tensorLike, ...missing];
    case 'oT': return tensorLike;
    case 'Ts': return [...common, ['a number', () => 5], ...missing, ['[5]', () => [5]], ['[disposed]', () => [disposed()]], ['[tensor, "x"]', () => [f32([2]), 'x']]];
    case 'TV': return [...common, ['a disposed tensor', disposed], ...missing, ['a boolean', () => true]]; // a value may be NaN
    case 'N': return [['NaN', () => NaN], ...common, ...missing, ['a boolean', () => true], ['a BigInt', () => 1n]];
    case 'V': return [...common, ...missing, ['a boolean', () => true], ['a BigInt', () => 1n]];
    case 'oN': return [['NaN', () => NaN], ...common, ['a boolean', () => true]];
    case 'I': return [['NaN', () => NaN], ['1.5', () => 1.5], ['Infinity', () => Infinity], ['2^60', () => 2 ** 60], ...common, ...missing];
    case 'oI': return [['NaN', () => NaN], ['1.5', () => 1.5], ['a string', () => 'x']];
    case 'Is': return [...common, ['a number', () => 5], ...missing, ['[1.5]', () => [1.5]], ['[NaN]', () => [NaN]], ['["a"]', () => ['a']], ['[Infinity]', () => [Infinity]], ['65 entries', () => new Array(65).fill(1)]];
    case 'oIs': return [['a string', () => 'x'], ['a number', () => 5], ['[1.5]', () => [1.5]], ['[NaN]', () => [NaN]]];
    case 'B': return [['"yes"', () => 'yes'], ['1', () => 1], ...missing];
    case 'oB': return [['"yes"', () => 'yes'], ['1', () => 1]];
    case 'Dt': return [['"float128"', () => 'float128'], ['"Float32"', () => 'Float32'], ['a number', () => 5], ...missing];
    case 'oDt': return [['"float128"', () => 'float128'], ['a number', () => 5]];
    case 'Dv': return [...devices, ...missing];
    case 'oDv': return devices;
    case 'S': return [['"bogus"', () => 'bogus'], ['a number', () => 5], ...missing];
    case 'oS': return [['a number', () => 5], ['a plain object', () => ({})], ['a boolean', () => true]];
    case 'Fn': return [['a number', () => 5], ['a string', () => 'x'], ['a plain object', () => ({})], ...missing];
    case 'Net': return [['a number', () => 5], ...common, ...missing, ['a tensor', () => f32([2])]];
    case 'Buf': return [['a number', () => 5], ['a string', () => 'x'], ['number[]', () => [1, 2, 3, 4]], ['a DataView', () => new DataView(new ArrayBuffer(16))], ...missing];
    case 'Obj': return [['a number', () => 5], ['a string', () => 'x'], ...missing];
    case 'oObj': return [['a number', () => 5], ['a string', () => 'x']];
    case 'G': return [...generatorLike, ...missing];
    case 'oG': return generatorLike;
    case 'Layers': return [['a number', () => 5], ['a string', () => 'x'], ...missing, ['[5]', () => [5]], ['[{kind: "bogus"}]', () => [{ kind: 'bogus' }]], ['[{}]', () => [{}]]];
  }
}

interface Spec {
  /** The kinds of the positional arguments. */
  slots: Slot[];
  /** A valid argument list (built fresh for each call). */
  args: () => unknown[];
  async?: boolean;
  /** Wrong shapes, absurd sizes and other op-specific failures: [label, args, expected message]. */
  extras?: Array<[string, () => unknown[], RegExp?]>;
}

const SPECS: Record<string, Spec> = {
  // ---- creation
  tensor_zeros: { slots: ['Is', 'Dt', 'Dv'], args: () => [[2, 3], 'float32', 'cpu'], extras: sizeExtras(0, ['float32', 'cpu']) },
  tensor_ones: { slots: ['Is', 'Dt', 'Dv'], args: () => [[2, 3], 'float32', 'cpu'], extras: sizeExtras(0, ['float32', 'cpu']) },
  tensor_empty: { slots: ['Is', 'Dt', 'Dv'], args: () => [[2, 3], 'float32', 'cpu'], extras: sizeExtras(0, ['float32', 'cpu']) },
  tensor_full: { slots: ['Is', 'V', 'Dt', 'Dv'], args: () => [[2], 1.5, 'float32', 'cpu'], extras: sizeExtras(0, [1, 'float32', 'cpu']) },
  tensor_rand: { slots: ['Is', 'Dt', 'Dv', 'oG'], args: () => [[2], 'float32', 'cpu', gen()], extras: [...sizeExtras(0, ['float32', 'cpu']), ['an integer dtype', () => [[2], 'int64', 'cpu']]] },
  tensor_randn: { slots: ['Is', 'Dt', 'Dv', 'oG'], args: () => [[2], 'float32', 'cpu', gen()], extras: [...sizeExtras(0, ['float32', 'cpu']), ['an integer dtype', () => [[2], 'int32', 'cpu']]] },
  tensor_arange: {
    slots: ['N', 'N', 'N', 'Dt', 'Dv'],
    args: () => [0, 5, 1, 'float32', 'cpu'],
    extras: [
      ['step 0', () => [0, 5, 0, 'float32', 'cpu']],
      ['a step of the wrong sign', () => [0, 10, -1, 'float32', 'cpu']],
      ['absurd length 1e18', () => [0, 1e18, 1, 'float32', 'cpu'], /^tensor_arange: .*(allocate|overflow|memory)/i],
      ['an infinite end', () => [0, Infinity, 1, 'float32', 'cpu']],
    ],
  },
  tensor_randint: {
    slots: ['I', 'I', 'Is', 'Dv', 'oG'],
    args: () => [0, 10, [3], 'cpu', gen()],
    extras: [['low == high', () => [5, 5, [3], 'cpu']], ['low > high', () => [9, 1, [3], 'cpu']], ['absurd size', () => [0, 10, [1e12], 'cpu'], /^tensor_randint: .*allocate/], ['a negative size', () => [0, 10, [-3], 'cpu']]],
  },
  tensor_randperm: {
    slots: ['I', 'Dv', 'oG'],
    args: () => [5, 'cpu', gen()],
    extras: [['n = -1', () => [-1, 'cpu']], ['absurd n', () => [1e15, 'cpu'], /^tensor_randperm: .*allocate/]],
  },
  tensor_manual_seed: { slots: ['I'], args: () => [1] },
  generator_create: { slots: ['I', 'Dv'], args: () => [1, 'cpu'] },
  generator_manual_seed: { slots: ['G', 'I'], args: () => [gen(), 1] },
  tensor_from_buffer: {
    slots: ['Buf', 'Is', 'Dt'],
    args: () => [new Float32Array(4), [2, 2], 'float32'],
    extras: [
      ['too few bytes for the shape', () => [new Float32Array(3), [2, 2], 'float32'], /^tensor_from_buffer: buffer holds 12 bytes but shape and dtype float32 need 16$/],
      ['too many bytes for the dtype', () => [new Float64Array(4), [4], 'float32'], /^tensor_from_buffer: buffer holds 32 bytes/],
      ['a negative size', () => [new Float32Array(4), [-2, -2], 'float32'], /^tensor_from_buffer: shape has a negative size$/],
      ['a shape whose byte count overflows to 0', () => [new Float32Array(0), [2 ** 32, 2 ** 32], 'float32']],
      ['an absurd shape', () => [new Float32Array(4), [1e8, 1e8, 1e8], 'float32']],
    ],
  },
  tensor_to_buffer: { slots: ['T'], args: () => [f32([2])] },
  tensor_item: { slots: ['T'], args: () => [f32([1])], extras: [['two elements', () => [f32([2])], /^tensor_item: item\(\) needs a tensor with one element, got 2$/], ['no elements', () => [f32([0])]]] },
  tensor_info: { slots: ['T'], args: () => [f32([1])] },

  // ---- layout
  tensor_reshape: {
    slots: ['T', 'Is'],
    args: () => [f32([2, 3]), [3, 2]],
    extras: [['an incompatible shape', () => [f32([2, 3]), [4]], /^tensor_reshape: shape '\[4\]' is invalid for input of size 6/], ['two -1s', () => [f32([2, 3]), [-1, -1]]], ['an absurd shape', () => [f32([2, 3]), [1e8, 1e8, 1e8]]], ['-2', () => [f32([2, 3]), [-2, 3]]]],
  },
  tensor_view: {
    slots: ['T', 'Is'],
    args: () => [f32([2, 3]), [6]],
    extras: [['an incompatible shape', () => [f32([2, 3]), [5]]], ['a non-viewable layout', () => [own(n.tensor_transpose(f32([2, 3]), 0, 1)), [6]], /^tensor_view: view size is not compatible/]],
  },
  tensor_permute: {
    slots: ['T', 'Is'],
    args: () => [f32([2, 3]), [1, 0]],
    extras: [['too few dims', () => [f32([2, 3]), [0]]], ['a repeated dim', () => [f32([2, 3]), [0, 0]]], ['a dim out of range', () => [f32([2, 3]), [0, 5]]]],
  },
  tensor_transpose: { slots: ['T', 'I', 'I'], args: () => [f32([2, 3]), 0, 1], extras: [['a dim out of range', () => [f32([2, 3]), 0, 7], /^tensor_transpose: Dimension out of range/]] },
  tensor_expand: { slots: ['T', 'Is'], args: () => [f32([1, 3]), [4, 3]], extras: [['a non-singleton dim', () => [f32([2, 3]), [4, 3]]], ['fewer dims', () => [f32([2, 3]), [3]]]] },
  tensor_squeeze: { slots: ['T', 'I'], args: () => [f32([1, 3]), 0], extras: [['a dim out of range', () => [f32([1, 3]), 5]]] },
  tensor_unsqueeze: { slots: ['T', 'I'], args: () => [f32([3]), 0], extras: [['a dim out of range', () => [f32([3]), 5]]] },
  tensor_contiguous: { slots: ['T', 'oB'], args: () => [f32([1, 2, 3, 3]), true], extras: [['channels_last on a 1-D tensor', () => [f32([3]), true]]] },
  tensor_narrow: {
    slots: ['T', 'I', 'I', 'I'],
    args: () => [f32([4]), 0, 1, 2],
    extras: [['past the end', () => [f32([4]), 0, 3, 2]], ['a negative length', () => [f32([4]), 0, 0, -1]], ['a dim out of range', () => [f32([4]), 2, 0, 1]]],
  },
  tensor_slice: {
    slots: ['T', 'I', 'I', 'I', 'I'],
    args: () => [f32([4]), 0, 0, 4, 2],
    extras: [['step 0', () => [f32([4]), 0, 0, 4, 0]], ['a negative step', () => [f32([4]), 0, 0, 4, -1]], ['a dim out of range', () => [f32([4]), 3, 0, 4, 1]]],
  },
  tensor_index_select: {
    slots: ['T', 'I', 'T'],
    args: () => [f32([3, 2]), 0, i64([2, 0])],
    extras: [['a float index', () => [f32([3, 2]), 0, f32([2])]], ['an index out of range', () => [f32([3, 2]), 0, i64([7])], /^tensor_index_select: the index runs from 7 to 7, outside \[0, 3\)$/], ['a 2-D index', () => [f32([3, 2]), 0, own(n.tensor_zeros([1, 1], 'int64', 'cpu'))]],
      // LibTorch 1.13 corrupts the heap here (found by scripts/fuzz-addon.js)
      ['a 0-dim tensor with 8 indices', () => [f32([]), -1, i64([0, 0, 0, 0, 0, 0, 0, 0])], /^tensor_index_select: the index to a 0-dim tensor must have exactly 1 value, got 8$/],
      ['a 0-dim tensor with no index', () => [f32([]), 0, i64([])], /^tensor_index_select: the index to a 0-dim tensor must have exactly 1 value, got 0$/]],
  },
  tensor_gather: {
    slots: ['T', 'I', 'T'],
    args: () => [f32([2, 2]), 1, own(n.tensor_zeros([2, 1], 'int64', 'cpu'))],
    extras: [['an index of another rank', () => [f32([2, 2]), 1, i64([0])]], ['an index out of range', () => [f32([2, 2]), 1, own(n.tensor_full([2, 1], 9, 'int64', 'cpu'))], /^tensor_gather: the index runs from 9 to 9, outside \[0, 2\)$/], ['a float index', () => [f32([2, 2]), 1, f32([2, 1])]]],
  },
  tensor_cat: {
    slots: ['Ts', 'I'],
    args: () => [[f32([2]), f32([3])], 0],
    extras: [['no tensors', () => [[], 0]], ['mismatched shapes', () => [[f32([2, 2]), f32([2, 3])], 0]], ['a dim out of range', () => [[f32([2])], 4]]],
  },
  tensor_stack: {
    slots: ['Ts', 'I'],
    args: () => [[f32([2]), f32([2])], 0],
    extras: [['no tensors', () => [[], 0]], ['mismatched shapes', () => [[f32([2]), f32([3])], 0], /^tensor_stack: stack expects each tensor to be equal size/]],
  },
  tensor_flip: { slots: ['T', 'Is'], args: () => [f32([2, 2]), [0]], extras: [['a dim out of range', () => [f32([2, 2]), [5]]], ['a repeated dim', () => [f32([2, 2]), [0, 0]]]] },
  tensor_pad: {
    slots: ['T', 'Is', 'S', 'V'],
    args: () => [f32([1, 2, 3]), [1, 1], 'constant', 0],
    extras: [
      ['an odd number of pads', () => [f32([1, 2, 3]), [1], 'constant', 0]],
      ['reflect padding wider than the input', () => [f32([1, 2, 3]), [5, 5], 'reflect', 0]],
      ['absurd padding', () => [f32([1, 2, 3]), [1e12, 1e12], 'constant', 0], /^tensor_pad: .*allocate/],
      ['too many pads for the rank', () => [f32([3]), [1, 1, 1, 1, 1, 1], 'constant', 0]],
    ],
  },
  tensor_clone: { slots: ['T'], args: () => [f32([2])] },
  tensor_to: {
    slots: ['T', 'oDv', 'oDt', 'oB'],
    args: () => [f32([2]), 'cpu', 'float64', false],
  },

  // ---- math
  tensor_binary: {
    slots: ['S', 'T', 'TV'],
    args: () => ['add', f32([2]), f32([2])],
    extras: [['shapes that do not broadcast', () => ['add', f32([2]), f32([3])], /^tensor_binary: The size of tensor a \(2\) must match the size of tensor b \(3\)/], ['an unknown op', () => ['matmul', f32([2]), 1], /^tensor_binary: unknown binary op "matmul"$/]],
  },
  tensor_binary_: {
    slots: ['S', 'T', 'TV'],
    args: () => ['add', f32([2]), 1],
    extras: [
      ['a result that needs a bigger shape', () => ['add', f32([1]), f32([3])]],
      ['copy from a number', () => ['copy', f32([2]), 1], /^tensor_binary_: argument 2 must be a Tensor, received number 1$/],
      ['a float result into an int tensor', () => ['add', i64([1, 2]), 1.5]],
      ['an in-place op on a leaf that requires grad', () => ['mul', leaf([2]), 2], /^tensor_binary_: a leaf Variable that requires grad/],
      ['an unknown op', () => ['pow', f32([2]), 2], /^tensor_binary_: unknown in-place op "pow"/],
    ],
  },
  tensor_unary: { slots: ['S', 'T'], args: () => ['exp', f32([2])], extras: [['an unknown op', () => ['cosh', f32([2])], /^tensor_unary: unknown unary op "cosh"$/], ['logical_not of a disposed tensor', () => ['logical_not', disposed()]]] },
  tensor_fill_: { slots: ['T', 'V'], args: () => [f32([2]), 3], extras: [['a leaf that requires grad', () => [leaf([2]), 1]]] },
  tensor_uniform_: { slots: ['T', 'N', 'N', 'oG'], args: () => [f32([2]), 0, 1, gen()], extras: [['low > high', () => [f32([2]), 1, 0]], ['an int tensor', () => [i64([1, 2]), 0, 1]]] },
  tensor_normal_: { slots: ['T', 'N', 'N', 'oG'], args: () => [f32([2]), 0, 1, gen()], extras: [['a negative std', () => [f32([2]), 0, -1]], ['an int tensor', () => [i64([1, 2]), 0, 1]]] },
  tensor_clamp: { slots: ['T', 'oN', 'oN'], args: () => [f32([2]), -1, 1], extras: [['neither bound', () => [f32([2]), null, null], /^tensor_clamp: .*At least one of 'min' or 'max' must not be None/]] },
  tensor_where: {
    slots: ['T', 'T', 'T'],
    args: () => [own(n.tensor_ones([2], 'bool', 'cpu')), f32([2]), f32([2])],
    extras: [['a float condition', () => [f32([2]), f32([2]), f32([2])]], ['shapes that do not broadcast', () => [own(n.tensor_ones([2], 'bool', 'cpu')), f32([3]), f32([2])]]],
  },
  tensor_matmul: { slots: ['T', 'T'], args: () => [f32([2, 3]), f32([3, 2])], extras: [['inner dims differ', () => [f32([2, 3]), f32([2, 3])], /^tensor_matmul: mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)$/], ['0-d operands', () => [own(n.tensor_ones([], 'float32', 'cpu')), f32([2])]]] },
  tensor_outer: { slots: ['T', 'T'], args: () => [f32([2]), f32([3])], extras: [['a 2-D operand', () => [f32([2, 2]), f32([3])]]] },
  tensor_eigh: { slots: ['T'], args: () => [f32([3, 3])], extras: [['a non-square matrix', () => [f32([2, 3])]], ['a 1-D tensor', () => [f32([3])]], ['an int matrix', () => [own(n.tensor_ones([2, 2], 'int64', 'cpu'))]]] },
  tensor_reduce: {
    slots: ['S', 'T', 'oIs', 'oB', 'oB'],
    args: () => ['sum', f32([2, 3]), [1], false, true],
    extras: [['a dim out of range', () => ['sum', f32([2, 3]), [4], false, true]], ['argmax over two dims', () => ['argmax', f32([2, 3]), [0, 1], false, true], /^tensor_reduce: argmax takes exactly one dim$/], ['an unknown reduction', () => ['median', f32([2]), null, false, true], /^tensor_reduce: unknown reduction "median"/], ['mean of an int tensor', () => ['mean', i64([1, 2]), null, false, true]]],
  },

  // ---- autograd
  tensor_set_requires_grad: { slots: ['T', 'B'], args: () => [f32([2]), true], extras: [['an int tensor', () => [i64([1]), true], /^tensor_set_requires_grad: Only Tensors of floating point and complex dtype can require gradients$/], ['a bool tensor', () => [own(n.tensor_ones([2], 'bool', 'cpu')), true]]] },
  tensor_backward: {
    slots: ['T', 'oT'],
    args: () => [own(n.tensor_reduce('sum', leaf([2]), null, false, true))],
    extras: [['a non-scalar without a gradient', () => [leaf([2])].map((l) => own(n.tensor_binary('mul', l, 2)))], ['a tensor that does not require grad', () => [f32([1])], /^tensor_backward: element 0 of tensors does not require grad/], ['a gradient of the wrong shape', () => [own(n.tensor_binary('mul', leaf([2]), 2)), f32([3])]]],
  },
  tensor_grad: { slots: ['T'], args: () => [f32([2])] },
  tensor_zero_grad: { slots: ['T'], args: () => [f32([2])] },
  tensor_set_grad_enabled: { slots: ['B'], args: () => [true] },

  // ---- nn
  nn_conv2d: {
    slots: ['T', 'T', 'oT', 'Is', 'Is', 'Is', 'I'],
    args: () => [f32([1, 3, 5, 5]), f32([4, 3, 3, 3]), f32([4]), [1, 1], [1, 1], [1, 1], 1],
    extras: [
      ['a weight of rank 3', () => [f32([1, 3, 5, 5]), f32([4, 3, 3]), null, [1, 1], [0, 0], [1, 1], 1], /^nn_conv2d: /],
      ['mismatched input channels', () => [f32([1, 2, 5, 5]), f32([4, 3, 3, 3]), null, [1, 1], [0, 0], [1, 1], 1], /^nn_conv2d: Given groups=1, weight of size \[4, 3, 3, 3\], expected input\[1, 2, 5, 5\] to have 3 channels, but got 2 channels instead$/],
      ['a kernel larger than the input', () => [f32([1, 3, 2, 2]), f32([4, 3, 3, 3]), null, [1, 1], [0, 0], [1, 1], 1]],
      ['a 2-D input', () => [f32([5, 5]), f32([4, 3, 3, 3]), null, [1, 1], [0, 0], [1, 1], 1]],
      ['a bias of the wrong size', () => [f32([1, 3, 5, 5]), f32([4, 3, 3, 3]), f32([3]), [1, 1], [0, 0], [1, 1], 1]],
      ['groups = 0', () => [f32([1, 3, 5, 5]), f32([4, 3, 3, 3]), null, [1, 1], [0, 0], [1, 1], 0]],
      ['groups that do not divide the channels', () => [f32([1, 3, 5, 5]), f32([4, 3, 3, 3]), null, [1, 1], [0, 0], [1, 1], 2]],
      // LibTorch divides by zero (SIGFPE) from 2^32 groups on (found by scripts/fuzz-addon.js)
      ['2^32 groups', () => [f32([1, 3, 5, 5]), f32([4, 3, 3, 3]), null, [1, 1], [0, 0], [1, 1], 2 ** 32], /^nn_conv2d: groups must be an integer from 1 to 2147483647, got 4294967296$/],
      ['stride 0', () => [f32([1, 3, 5, 5]), f32([4, 3, 3, 3]), null, [0, 0], [0, 0], [1, 1], 1]],
      ['negative padding', () => [f32([1, 3, 5, 5]), f32([4, 3, 3, 3]), null, [1, 1], [-1, -1], [1, 1], 1]],
      ['dilation 0', () => [f32([1, 3, 5, 5]), f32([4, 3, 3, 3]), null, [1, 1], [0, 0], [0, 0], 1]],
      ['a float64 weight on float32 input', () => [f32([1, 3, 5, 5]), own(n.tensor_zeros([4, 3, 3, 3], 'float64', 'cpu')), null, [1, 1], [0, 0], [1, 1], 1]],
      ['absurd padding', () => [f32([1, 3, 5, 5]), f32([4, 3, 3, 3]), null, [1, 1], [1e7, 1e7], [1, 1], 1], /^nn_conv2d: /],
      // LibTorch 1.13 keeps sizes in 32 bits: these ran, on truncated values (an exploratory session, 2026-12-02)
      ['a dilation of 2^32 + 1', () => [f32([1, 3, 5, 5]), f32([4, 3, 3, 3]), null, [1, 1], [2 ** 32, 2 ** 32], [2 ** 32 + 1, 1], 1], /^nn_conv2d: argument 4 must be sizes from 0 to 2147483647, received /],
    ],
  },
  nn_max_pool2d: {
    slots: ['T', 'Is', 'Is', 'Is', 'B'],
    args: () => [f32([1, 1, 4, 4]), [2, 2], [2, 2], [0, 0], false],
    extras: [['kernel 0', () => [f32([1, 1, 4, 4]), [0, 0], [2, 2], [0, 0], false]], ['padding over half the kernel', () => [f32([1, 1, 4, 4]), [2, 2], [2, 2], [2, 2], false], /^nn_max_pool2d: pad should be/], ['a kernel larger than the input', () => [f32([1, 1, 2, 2]), [3, 3], [1, 1], [0, 0], false]], ['a 1-D input', () => [f32([4]), [2, 2], [2, 2], [0, 0], false]], ['stride 0', () => [f32([1, 1, 4, 4]), [2, 2], [0, 0], [0, 0], false]]],
  },
  nn_avg_pool2d: {
    slots: ['T', 'Is', 'Is', 'Is', 'B'],
    args: () => [f32([1, 1, 4, 4]), [2, 2], [2, 2], [0, 0], false],
    extras: [['kernel 0', () => [f32([1, 1, 4, 4]), [0, 0], [2, 2], [0, 0], false]], ['padding over half the kernel', () => [f32([1, 1, 4, 4]), [2, 2], [2, 2], [2, 2], false]], ['a 1-D input', () => [f32([4]), [2, 2], [2, 2], [0, 0], false]], ['three kernel sizes', () => [f32([1, 1, 4, 4]), [2, 2, 2], [2, 2], [0, 0], false]],
      ['a kernel of 2^32 + 2', () => [f32([1, 1, 4, 4]), [2 ** 32 + 2, 2 ** 32 + 2], [1, 1], [0, 0], false], /^nn_avg_pool2d: argument 1 must be sizes from 0 to 2147483647, received /]],
  },
  nn_adaptive_avg_pool2d: {
    slots: ['T', 'Is'],
    args: () => [f32([1, 1, 4, 4]), [2, 2]],
    extras: [['one size', () => [f32([1, 1, 4, 4]), [2]]], ['a negative size', () => [f32([1, 1, 4, 4]), [-1, 2]]], ['an absurd size', () => [f32([1, 1, 4, 4]), [1e7, 1e7]], /^nn_adaptive_avg_pool2d: .*allocate/], ['a 1-D input', () => [f32([4]), [2, 2]]]],
  },
  nn_relu: { slots: ['T'], args: () => [f32([2])], extras: [['a bool tensor', () => [own(n.tensor_ones([2], 'bool', 'cpu'))]]] },
  nn_dropout: { slots: ['T', 'N', 'B', 'oG'], args: () => [f32([4]), 0.5, true, gen()], extras: [['p = 1.5', () => [f32([4]), 1.5, true], /^nn_dropout: dropout probability has to be between 0 and 1, but got 1.5$/], ['p = -0.1', () => [f32([4]), -0.1, true]]] },
  nn_batch_norm: {
    slots: ['T', 'oT', 'oT', 'oT', 'oT', 'B', 'N', 'N'],
    args: () => [f32([2, 3, 2, 2]), f32([3]), f32([3]), own(n.tensor_zeros([3], 'float32', 'cpu')), own(n.tensor_ones([3], 'float32', 'cpu')), true, 0.1, 1e-5],
    extras: [
      ['eval without running stats', () => [f32([2, 3, 2, 2]), null, null, null, null, false, 0.1, 1e-5]],
      ['a weight of the wrong size', () => [f32([2, 3, 2, 2]), f32([4]), null, null, null, true, 0.1, 1e-5]],
      ['running stats of the wrong size', () => [f32([2, 3, 2, 2]), null, null, own(n.tensor_zeros([5], 'float32', 'cpu')), own(n.tensor_ones([5], 'float32', 'cpu')), true, 0.1, 1e-5]],
      ['a 1-D input', () => [f32([3]), null, null, null, null, true, 0.1, 1e-5]],
    ],
  },
  nn_linear: {
    slots: ['T', 'T', 'oT'],
    args: () => [f32([2, 3]), f32([4, 3]), f32([4])],
    extras: [['wrong in-features', () => [f32([2, 3]), f32([4, 5]), null]], ['a bias of the wrong size', () => [f32([2, 3]), f32([4, 3]), f32([7])]], ['a 3-D weight', () => [f32([2, 3]), f32([1, 4, 3]), null]]],
  },
  nn_log_softmax: { slots: ['T', 'I'], args: () => [f32([2, 3]), 1], extras: [['a dim out of range', () => [f32([2, 3]), 2], /^nn_log_softmax: Dimension out of range/]] },
  nn_cross_entropy: {
    slots: ['T', 'T', 'N'],
    args: () => [f32([4, 5]), i64([0, 1, 2, 3]), 0],
    extras: [
      ['a target out of range', () => [f32([4, 5]), i64([0, 1, 2, 9]), 0], /^nn_cross_entropy: the target's class index runs from 0 to 9, outside \[0, 5\)$/],
      ['a negative target', () => [f32([4, 5]), i64([0, 1, 2, -3]), 0]],
      ['a target of the wrong length', () => [f32([4, 5]), i64([0, 1]), 0]],
      ['float targets of the wrong shape', () => [f32([4, 5]), f32([4]), 0]],
      ['1-D logits with a batch of targets', () => [f32([5]), i64([0, 1]), 0]],
    ],
  },
  nn_interpolate: {
    slots: ['T', 'Is', 'S', 'B'],
    args: () => [f32([1, 1, 2, 2]), [4, 4], 'bilinear', false],
    extras: [['three sizes for a 4-D input', () => [f32([1, 1, 2, 2]), [4, 4, 4], 'bilinear', false]], ['bilinear on a 3-D input', () => [f32([1, 2, 2]), [4, 4], 'bilinear', false]], ['an absurd size', () => [f32([1, 1, 2, 2]), [1e7, 1e7], 'bilinear', false], /^nn_interpolate: .*allocate/], ['size 0', () => [f32([1, 1, 2, 2]), [0, 0], 'nearest', false]]],
  },
  nn_affine_grid: {
    slots: ['T', 'Is', 'B'],
    args: () => [f32([1, 2, 3]), [1, 1, 4, 4], false],
    extras: [['theta of the wrong shape', () => [f32([1, 3, 3]), [1, 1, 4, 4], false]], ['a batch mismatch', () => [f32([2, 2, 3]), [1, 1, 4, 4], false]], ['a 3-entry size', () => [f32([1, 2, 3]), [1, 4, 4], false]], ['an absurd size', () => [f32([1, 2, 3]), [1, 1, 1e7, 1e7], false], /^nn_affine_grid: .*allocate/]],
  },
  nn_grid_sample: {
    slots: ['T', 'T', 'S', 'S', 'B'],
    args: () => [f32([1, 1, 4, 4]), f32([1, 3, 3, 2]), 'bilinear', 'zeros', false],
    extras: [['a grid whose last dim is not 2', () => [f32([1, 1, 4, 4]), f32([1, 3, 3, 3]), 'bilinear', 'zeros', false]], ['a batch mismatch', () => [f32([2, 1, 4, 4]), f32([1, 3, 3, 2]), 'bilinear', 'zeros', false]], ['an unknown padding', () => [f32([1, 1, 4, 4]), f32([1, 3, 3, 2]), 'bilinear', 'mirror', false], /^nn_grid_sample: unknown grid_sample padding "mirror"/]],
  },
  nn_correct: { slots: ['T', 'T'], args: () => [f32([3, 4]), i64([0, 1, 2])], extras: [['1-D logits', () => [f32([3]), i64([0, 1, 2])]], ['a target of the wrong length', () => [f32([3, 4]), i64([0, 1])]]] },
  optim_sgd_step: {
    slots: ['Ts', 'Ts', 'N', 'N', 'N', 'B'],
    args: () => [[f32([2])], [f32([2])], 0.1, 0.9, 0, false],
    extras: [
      ['fewer buffers than parameters', () => [[f32([2]), f32([2])], [f32([2])], 0.1, 0.9, 0, false], /^optim_sgd_step: params and momentum buffers differ in length$/],
      ['a buffer of the wrong shape', () => {
        const p = leaf([2]);
        n.tensor_backward(own(n.tensor_reduce('sum', p, null, false, true)));
        return [[p], [f32([3])], 0.1, 0.9, 0, false];
      }],
    ],
  },

  // ---- net
  net_create: {
    slots: ['Layers', 'Ts', 'Ts', 'Ts', 'oObj'],
    args: () => [[{ kind: 'relu' }, { kind: 'gap' }], [], [], [], NET_OPTIONS],
    extras: [
      ['a weight index out of range', () => [[{ kind: 'conv', weight: 3 }], [f32([1, 1, 1, 1])], [f32([1, 1, 1, 1])], [], NET_OPTIONS], /^net_create: layer 0: weight index 3 out of range$/],
      ['a conv without a weight', () => [[{ kind: 'conv' }], [], [], [], NET_OPTIONS], /^net_create: layer 0: conv needs a weight$/],
      ['one momentum buffer too few', () => [[{ kind: 'relu' }], [f32([1]), f32([1])], [f32([1])], [], NET_OPTIONS], /^net_create: argument 2 must be one momentum buffer per parameter/],
      ['a running-mean index out of range', () => [[{ kind: 'batchnorm', runningMean: 0 }], [], [], [], NET_OPTIONS]],
      ['an unknown autocast dtype', () => [[{ kind: 'relu' }], [], [], [], { ...NET_OPTIONS, autocast: 'float128' }], /^net_create: unknown dtype "float128"/],
      ['an unknown layer kind', () => [[{ kind: 'relu' }, { kind: 'softmax' }], [], [], [], NET_OPTIONS], /^net_create: layer 1: unknown kind "softmax"$/],
      ['lrScales of the wrong length', () => [[{ kind: 'relu' }], [f32([1])], [f32([1])], [], { ...NET_OPTIONS, lrScales: [1, 2] }], /^net_create: argument 4 must be options whose lrScales has one number per parameter/],
      ['a NaN lrScale', () => [[{ kind: 'relu' }], [f32([1])], [f32([1])], [], { ...NET_OPTIONS, lrScales: [NaN] }], /^net_create: argument 4 must be options whose lrScales are finite numbers/],
      // CPU build: "this addon was built without CUDA"; CUDA build: "CUDA graphs need CUDA tensors"
      ['cudaStream for a network on the CPU', () => [[{ kind: 'relu' }], [f32([1])], [f32([1])], [], { ...NET_OPTIONS, cudaStream: true }], /^net_create: argument 4 must be options without cudaStream, or a network on a CUDA device: a stream of its own is a CUDA stream/],
      ['cudaGraph for a network on the CPU', () => [[{ kind: 'relu' }], [f32([1])], [f32([1])], [], { ...NET_OPTIONS, cudaGraph: true }], /^net_create: argument 4 must be options without cudaGraph(: this addon was built without CUDA|, or a network on a CUDA device)/],
      ['a generator that is not one', () => [[{ kind: 'relu' }], [f32([1])], [f32([1])], [], { ...NET_OPTIONS, generator: f32([1]) }], /^net_create: argument 4 must be options whose generator is a Generator, received object$/],
    ],
  },
  net_forward: {
    slots: ['Net', 'T', 'B'],
    args: () => [makeNet(), f32([2, 3, 5, 5]), false],
    extras: [['an input with the wrong channels', () => [makeNet(), f32([2, 5, 5, 5]), false], /^net_forward: Given groups=1/], ['a 2-D input', () => [makeNet(), f32([2, 3]), true]]],
  },
  net_train_step: {
    slots: ['Net', 'T', 'T', 'N', 'oI'],
    args: () => [makeNet(), f32([2, 3, 5, 5]), i64([0, 3]), 0.01, 1],
    async: true,
    extras: [
      ['float labels', () => [makeNet(), f32([2, 3, 5, 5]), f32([2]), 0.01], /^net_train_step: expected scalar type Long but found Float$/],
      ['a label out of range', () => [makeNet(), f32([2, 3, 5, 5]), i64([0, 9]), 0.01], /^net_train_step: Target 9 is out of bounds\.$/],
      ['an input with the wrong channels', () => [makeNet(), f32([2, 4, 5, 5]), i64([0, 1]), 0.01]],
      ['a 2-D input', () => [makeNet(), f32([2, 3]), i64([0, 1]), 0.01], /^net_train_step: expected x \[N,C,H,W\] and y \[N\] with the same N$/],
      ['a batch mismatch', () => [makeNet(), f32([2, 3, 5, 5]), i64([0, 1, 2]), 0.01]],
      ['repeat 0', () => [makeNet(), f32([2, 3, 5, 5]), i64([0, 1]), 0.01, 0], /^net_train_step: argument 4 must be a positive integer, received number 0$/],
      ['a network made without momentum buffers', () => [n.net_create([{ kind: 'gap' }], [], [], [], NET_OPTIONS), f32([2, 3, 5, 5]), i64([0, 1]), 0.01], /^net_train_step: this network was created without an optimiser and can only evaluate$/],
    ],
  },
  net_train_step_sync: {
    slots: ['Net', 'T', 'T', 'N'],
    args: () => [makeNet(), f32([2, 3, 5, 5]), i64([0, 3]), 0.01],
    extras: [['float labels', () => [makeNet(), f32([2, 3, 5, 5]), f32([2]), 0.01]], ['a label out of range', () => [makeNet(), f32([2, 3, 5, 5]), i64([0, 9]), 0.01]], ['an input with the wrong channels', () => [makeNet(), f32([2, 4, 5, 5]), i64([0, 1]), 0.01]]],
  },
  net_take_metrics: { slots: ['Net'], args: () => [makeNet()] },
  net_release: { slots: ['Net'], args: () => [makeNet()] },
  net_evaluate: {
    slots: ['Net', 'T', 'T', 'I'],
    args: () => [makeNet(), f32([4, 3, 5, 5]), i64([0, 1, 2, 3]), 2],
    async: true,
    extras: [
      ['batch size 0', () => [makeNet(), f32([4, 3, 5, 5]), i64([0, 1, 2, 3]), 0], /^net_evaluate: argument 3 must be a positive batch size, received number 0$/],
      ['a label out of range', () => [makeNet(), f32([4, 3, 5, 5]), i64([0, 1, 2, 30]), 2], /^net_evaluate: Target 30 is out of bounds\.$/],
      ['a batch mismatch', () => [makeNet(), f32([4, 3, 5, 5]), i64([0, 1]), 2]],
      ['float labels', () => [makeNet(), f32([4, 3, 5, 5]), f32([4]), 2]],
    ],
  },

  // ---- backend
  backend_info: { slots: [], args: () => [] },
  backend_set_num_threads: { slots: ['I'], args: () => [backend().threads], extras: [['0 threads', () => [0], /^backend_set_num_threads: argument 0 must be a thread count between 1 and 1024, received number 0$/], ['2000 threads', () => [2000]], ['-1 threads', () => [-1]]] },
  backend_configure: { slots: ['Obj'], args: () => [{}] },
  backend_memory: { slots: [], args: () => [] },
  backend_empty_cache: { slots: [], args: () => [] },
  backend_synchronize: { slots: [], args: () => [] },
  backend_bench_add_loop: { slots: ['T', 'I'], args: () => [f32([4]), 10], extras: [['0 iterations', () => [f32([4]), 0], /^backend_bench_add_loop: argument 1 must be a positive count, received number 0$/]] },

  // ---- profiler
  profiler_run: {
    slots: ['B', 'Fn', 'oS'],
    args: () => [false, () => undefined],
    extras: [
      ['inside a profiled function', () => [false, () => addon.profiler_run(false, () => undefined)], /^profiler_run: the profiler is already running \(a profiled function cannot profile\)$/],
      ...(backend().builtWithCuda ? [] : ([['cuda on a CPU build', () => [true, () => undefined], /^profiler_run: argument 0 must be false: this addon was built without CUDA \(see `allcnn doctor`\), received boolean true$/]] as Array<[string, () => unknown[], RegExp]>)),
    ],
  },
};

/** Absurd, negative and overflowing sizes for a creation function whose shape is argument `at`. */
function sizeExtras(at: number, rest: unknown[]): Array<[string, () => unknown[], RegExp?]> {
  const withShape = (shape: number[]) => () => { const a = [...rest]; a.splice(at, 0, shape); return a; };
  return [
    ['[1e12] (4 TB)', withShape([1e12]), /: .*(can't allocate memory|not enough memory)/],
    ['[1e8, 1e8, 1e8] (overflows int64)', withShape([1e8, 1e8, 1e8]), /: Storage size calculation overflowed with sizes=\[100000000, 100000000, 100000000\]$/],
    ['[2^32, 2^32] (wraps to 0 bytes)', withShape([2 ** 32, 2 ** 32])],
    ['a negative size', withShape([2, -1]), /: Trying to create tensor with negative dimension -1: \[2, -1\]$/],
  ];
}

const NATIVE_OPS = Object.keys(addon).filter((k) => !['NativeTensor', 'NativeNet', 'NativeGenerator'].includes(k)).sort();

/** Calls fn; returns what it threw or rejected with (undefined if it did neither). */
async function failure(fn: () => unknown): Promise<unknown> {
  try {
    const r = fn();
    own(r);
    if (r && typeof (r as Promise<unknown>).then === 'function') await r;
  } catch (e) {
    return e;
  }
  return undefined;
}
const isError = (e: unknown): e is Error => Object.prototype.toString.call(e) === '[object Error]' && typeof (e as Error).message === 'string';

async function expectFailure(op: string, label: string, args: unknown[], message?: RegExp): Promise<void> {
  const fn = (addon as unknown as Record<string, (...a: unknown[]) => unknown>)[op];
  const err = await failure(() => fn(...args));
  if (err === undefined) throw new Error(`${op} with ${label} neither threw nor rejected`);
  if (!isError(err)) throw new Error(`${op} with ${label} threw a non-Error: ${String(err)}`);
  const msg = err.message;
  if (!msg.startsWith(`${op}: `)) throw new Error(`${op} with ${label}: message does not start with "${op}: ": ${JSON.stringify(msg)}`);
  if (message && !message.test(msg)) throw new Error(`${op} with ${label}: message ${JSON.stringify(msg)} does not match ${message}`);
}

describe('the table covers every native export', () => {
  test('SPECS has exactly the exported functions', () => {
    expect(Object.keys(SPECS).sort()).toEqual(NATIVE_OPS);
    expect(NATIVE_OPS.length).toBeGreaterThanOrEqual(70);
  });

  test('the three constructors cannot be called from JS', () => {
    const A = addon as unknown as { NativeTensor: new (...a: unknown[]) => unknown; NativeNet: new (...a: unknown[]) => unknown; NativeGenerator: new (...a: unknown[]) => unknown };
    expect(() => new A.NativeTensor()).toThrow("NativeTensor cannot be constructed directly; use allcnn's tensor creation functions (zeros, fromArray, ...)");
    expect(() => new A.NativeTensor({})).toThrow(/cannot be constructed directly/);
    expect(() => new A.NativeNet()).toThrow('NativeNet cannot be constructed directly; use net_create');
    expect(() => new A.NativeGenerator()).toThrow('NativeGenerator cannot be constructed directly; use new Generator()');
  });
});

describe.each(NATIVE_OPS.map((op) => [op]))('%s', (op) => {
  const spec = SPECS[op];
  const call = (args: unknown[]) => (addon as unknown as Record<string, (...a: unknown[]) => unknown>)[op](...args);

  test('the valid call works (so the failures below come from the bad arguments)', async () => {
    if (!spec) throw new Error(`no bad-input spec for ${op}`);
    const r = call(spec.args());
    own(r);
    if (spec.async) expect(typeof (r as Promise<unknown>).then).toBe('function');
    if (r && typeof (r as Promise<unknown>).then === 'function') await r;
  });

  test('wrong types, missing arguments, disposed tensors and NaN throw', async () => {
    if (!spec) throw new Error(`no bad-input spec for ${op}`);
    let tried = 0;
    for (let i = 0; i < spec.slots.length; i++) {
      for (const [label, value] of badValues(spec.slots[i])) {
        const args = spec.args();
        args[i] = value();
        await expectFailure(op, `argument ${i} = ${label}`, args);
        tried++;
      }
    }
    if (spec.slots.length > 0 && !spec.slots[0].startsWith('o')) {
      // too few arguments
      await expectFailure(op, 'no arguments', []);
      tried++;
    }
    expect(tried).toBeGreaterThanOrEqual(spec.slots.length === 0 ? 0 : 1);
  });

  test('wrong shapes, absurd sizes and op-specific misuse throw', async () => {
    if (!spec) throw new Error(`no bad-input spec for ${op}`);
    for (const [label, args, message] of spec.extras ?? []) await expectFailure(op, label, args(), message);
  });
});

describe('exact messages', () => {
  test('wrong type: names the op, the position, what was expected and what came', () => {
    expect(() => addon.tensor_reshape(5 as never, [1])).toThrow('tensor_reshape: argument 0 must be a Tensor, received number 5');
    expect(() => addon.tensor_reshape('x' as never, [1])).toThrow('tensor_reshape: argument 0 must be a Tensor, received string "x"');
    expect(() => addon.nn_relu(undefined as never)).toThrow('nn_relu: argument 0 must be a Tensor, received undefined');
    expect(() => addon.tensor_zeros([2], 'float32', undefined as never)).toThrow('tensor_zeros: argument 2 must be a string, received undefined');
    expect(() => addon.tensor_cat([own(addon.tensor_zeros([1], 'float32', 'cpu')), 5 as never], 0)).toThrow('tensor_cat: argument 0 must be an array of Tensors (element 1 is not), received array');
    expect(() => addon.tensor_zeros([1.5], 'float32', 'cpu')).toThrow('tensor_zeros: argument 0 must be an array of integers (element 0 is number 1.5), received array');
    expect(() => addon.net_forward({} as never, own(addon.tensor_zeros([1], 'float32', 'cpu')), false)).toThrow('net_forward: argument 0 must be a native network (from net_create), received object');
  });

  test('NaN', () => {
    // A rate, a bound or a range end may not be NaN (a tensor's value may: tensor.test.ts).
    expect(() => addon.tensor_arange(0, NaN, 1, 'float32', 'cpu')).toThrow('tensor_arange: argument 1 must be a number (not NaN), received number NaN');
    expect(() => addon.tensor_transpose(own(addon.tensor_zeros([2, 2], 'float32', 'cpu')), NaN, 1)).toThrow('tensor_transpose: argument 1 must be a finite integer, received number NaN');
  });

  test('a disposed tensor', () => {
    const h = disposed();
    expect(() => addon.nn_relu(h)).toThrow('nn_relu: argument 0 is a disposed Tensor (it was freed by dispose() or a scope); keep() it or clone it before the scope ends');
    expect(() => addon.tensor_stack([h], 0)).toThrow('tensor_stack: argument 0 must be an array of live Tensors (element 0 is disposed), received array');
  });

  test('unknown dtype and devices', () => {
    expect(() => addon.tensor_zeros([2], 'float128', 'cpu')).toThrow('tensor_zeros: unknown dtype "float128" (expected float32, float16, bfloat16, float64, int64, int32, uint8 or bool)');
    expect(() => addon.tensor_zeros([2], 'float32', 'tpu')).toThrow(/^tensor_zeros: /);
    if (!cudaAvailable) {
      expect(() => addon.tensor_zeros([2], 'float32', 'cuda')).toThrow(
        'tensor_zeros: device "cuda" requested but CUDA is not available in this build of LibTorch (run `allcnn doctor`; build against a CUDA LibTorch with LIBTORCH_USE_PYTORCH=1)',
      );
    }
  });

  test('absurd sizes', () => {
    expect(() => addon.tensor_zeros([1e12], 'float32', 'cpu')).toThrow(/^tensor_zeros: .*you tried to allocate 4000000000000 bytes/);
    expect(() => addon.tensor_zeros([1e8, 1e8, 1e8], 'float32', 'cpu')).toThrow('tensor_zeros: Storage size calculation overflowed with sizes=[100000000, 100000000, 100000000]');
  });

  test('a wrong-rank conv weight', () => {
    const x = own(addon.tensor_zeros([1, 3, 5, 5], 'float32', 'cpu'));
    const w = own(addon.tensor_zeros([4, 3, 3], 'float32', 'cpu'));
    // LibTorch reads a 3-D weight as conv1d's and complains about the stride pair
    expect(() => addon.nn_conv2d(x, w, null, [1, 1], [0, 0], [1, 1], 1)).toThrow(/^nn_conv2d: expected stride to be a single integer value or a list of 1 values/);
    const w5 = own(addon.tensor_zeros([4, 3, 3, 3, 3], 'float32', 'cpu'));
    expect(() => addon.nn_conv2d(x, w5, null, [1, 1], [0, 0], [1, 1], 1)).toThrow(/^nn_conv2d: /);
  });

  test('async ops reject with the op name', async () => {
    const net = makeNet();
    const x = f32([2, 3, 5, 5]);
    await expect(addon.net_train_step(net, x, i64([0, 99]), 0.1)).rejects.toThrow('net_train_step: Target 99 is out of bounds.');
    await expect(addon.net_evaluate(net, x, i64([0, 99]), 1)).rejects.toThrow('net_evaluate: Target 99 is out of bounds.');
    // the network is usable again after a rejected step
    await addon.net_train_step(net, x, i64([0, 1]), 0.1);
    const m = addon.net_take_metrics(net);
    expect(m.seen).toBe(2);
    expect(m.graph).toBe('off');
    expect(Number.isFinite(m.loss)).toBe(true);
    await expect(addon.net_evaluate(net, x, i64([0, 1]), 1)).resolves.toEqual(expect.objectContaining({ seen: 2 }));
  });

  test('a second step while one is running is refused', async () => {
    const net = makeNet();
    const x = f32([2, 3, 5, 5]);
    const y = i64([0, 1]);
    const p = addon.net_train_step(net, x, y, 0.01, 20);
    expect(() => addon.net_train_step(net, x, y, 0.01)).toThrow('net_train_step: a step is already running on this network; await it before starting another');
    expect(() => addon.net_evaluate(net, x, y, 1)).toThrow('net_evaluate: a step is already running on this network; await it before evaluating');
    expect(() => addon.net_train_step_sync(net, x, y, 0.01)).toThrow('net_train_step_sync: a step is already running on this network');
    expect(() => addon.net_forward(net, x, false)).toThrow('net_forward: a step is running on this network; await it first');
    expect(() => addon.net_release(net)).toThrow('net_release: a step is running on this network; await it before releasing');
    await p;
    expect(addon.net_take_metrics(net).seen).toBe(40);
  });

  test('the zero-argument backend functions ignore stray arguments', () => {
    const call = addon as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const op of ['backend_info', 'backend_memory', 'backend_empty_cache', 'backend_synchronize']) {
      expect(() => call[op](5, 'x', {}, NaN)).not.toThrow();
    }
    expect(addon.backend_info().compiledVersion).toMatch(/^\d+\.\d+/);
    expect(typeof addon.backend_memory().live).toBe('object');
  });
});

// An object that passes the instanceof check but wraps nothing
// (Object.create(NativeTensor.prototype)) is refused with the op's name.
test('a forged handle gets a message that names the op', () => {
  const A = addon as unknown as { NativeTensor: { prototype: object }; NativeNet: { prototype: object }; NativeGenerator: { prototype: object } };
  expect(() => addon.tensor_info(Object.create(A.NativeTensor.prototype))).toThrow(/^tensor_info: argument 0/); // received "Invalid argument"
  expect(() => addon.tensor_rand([2], 'float32', 'cpu', Object.create(A.NativeGenerator.prototype))).toThrow(/^tensor_rand: argument 3 must be a Generator/);
  expect(() => addon.net_take_metrics(Object.create(A.NativeNet.prototype))).toThrow(/^net_take_metrics: argument 0/); // received "Invalid argument"
});

// Reading metrics while a step runs on a worker thread would race with it.
test('net_take_metrics during a running step is refused, not raced', async () => {
  const net = makeNet();
  const x = f32([8, 3, 5, 5]);
  const y = i64([0, 1, 2, 3, 0, 1, 2, 3]);
  const p = addon.net_train_step(net, x, y, 0.01, 500);
  expect(() => addon.net_take_metrics(net)).toThrow(/^net_take_metrics: a step is (already )?running/);
  await p;
});

describe('the TypeScript layer', () => {
  test('checkShape / checkDevice / checkDtype / checkInteger / checkNumber / checkOneOf', () => {
    expect(() => checkShape('shape', [2, -1])).toThrow('Expected a shape (an array of at most 16 non-negative integers) for shape but received [2, -1] of type array');
    expect(() => checkShape('shape', 'abc')).toThrow('Expected a shape (an array of at most 16 non-negative integers) for shape but received "abc" of type string');
    expect(() => checkShape('shape', new Array(17).fill(1))).toThrow(/^Expected a shape .* but received \[1, 1, 1, 1, 1, 1, 1, 1, \.\.\.\] of type array$/);
    expect(() => checkShape('shape', [1.5])).toThrow(TypeError);
    expect(checkShape('shape', [])).toEqual([]);
    expect(() => checkDevice('device', 'tpu')).toThrow('Expected a device ("cpu", "cuda" or "cuda:N") for device but received "tpu" of type string');
    expect(() => checkDevice('device', 3)).toThrow('Expected a device ("cpu", "cuda" or "cuda:N") for device but received 3 of type number');
    expect(() => checkDevice('device', undefined)).toThrow('Expected a device ("cpu", "cuda" or "cuda:N") for device but received undefined of type undefined');
    expect(() => checkDevice('device', 'cuda:')).toThrow(/^Expected a device/);
    expect(checkDevice('device', 'cuda:1')).toBe('cuda:1');
    expect(() => checkDtype('dtype', 'float128')).toThrow('Expected one of float32, float16, bfloat16, float64, int64, int32, uint8, bool for dtype but received "float128" of type string');
    expect(() => checkInteger('n', 1.5, 0)).toThrow('Expected an integer >= 0 for n but received 1.5 of type number');
    expect(() => checkInteger('n', 5, 0, 3)).toThrow('Expected an integer in [0, 3] for n but received 5 of type number');
    expect(() => checkNumber('p', NaN)).toThrow('Expected a number for p but received NaN of type number');
    expect(() => checkOneOf('mode', null, ['a', 'b'])).toThrow('Expected one of a, b for mode but received null of type null');
    let err: unknown;
    try { checkShape('shape', null); } catch (e) { err = e; }
    expect((err as Error).name).toBe('InvalidArgumentError');
  });

  test('creation functions check their arguments before the addon sees them', () => {
    expect(() => zeros([2], { device: 'tpu' })).toThrow('Expected a device ("cpu", "cuda" or "cuda:N") for device but received "tpu" of type string');
    expect(() => zeros([2.5])).toThrow(/^Expected a shape/);
    expect(() => zeros([1e12])).toThrow(/^tensor_zeros: .*allocate/);
    expect(() => ones([1e8, 1e8, 1e8])).toThrow(/^tensor_ones: Storage size calculation overflowed/);
    expect(() => zeros([2], { dtype: 'complex64' as never })).toThrow(/^Expected one of float32, .* for dtype but received "complex64"/);
    expect(() => full([2], '1' as never)).toThrow('Expected a number for value but received "1" of type string');
    expect(() => arange(0, NaN)).toThrow('Expected a number for end but received NaN of type number');
    expect(() => fromArray('abc' as never)).toThrow('Expected a TypedArray, Buffer or number[] for data but received "abc" of type string');
    expect(() => fromArray(new Int16Array(2) as never)).toThrow(/^Expected a Float32Array, Float64Array, Int32Array, BigInt64Array, Uint8Array or Buffer \(or pass a dtype\) for data/);
    expect(() => fromArray([1, 2], undefined, 'float16')).toThrow(/^Expected float32, float64, int32, int64, uint8 or bool for a number\[\] for dtype/);
    expect(() => fromArray([1, 2, 3], [2, 2])).toThrow('tensor_from_buffer: buffer holds 12 bytes but shape and dtype float32 need 16');
  });

  test('zeros([2], {device: "cuda"}) on a CPU build says CUDA is not available', () => {
    if (cudaAvailable) return; // nothing to check on a CUDA machine
    expect(() => zeros([2], { device: 'cuda' })).toThrow(/CUDA is not available/);
    expect(() => zeros([2], { device: 'cuda:0' })).toThrow(/^tensor_zeros: device "cuda:0" requested but CUDA is not available/);
    const t = ones([2]);
    expect(() => t.to('cuda')).toThrow(/^tensor_to: device "cuda" requested but CUDA is not available/);
    t.dispose();
  });

  // In tidy(): a tensor left to the GC here would be freed during some later
  // test file and upset its liveTensors() count.
  test('Tensor methods and functional ops pass type errors and native errors through', () => tidy(() => {
    const t = ones([2, 3]);
    expect(() => t.add('x' as never)).toThrow('Expected a Tensor or a number for operand but received "x" of type string');
    expect(() => t.mul_({} as never)).toThrow('Expected a Tensor or a number for operand but received Object of type object');
    expect(() => t.reshape([4])).toThrow(/^tensor_reshape: shape '\[4\]' is invalid for input of size 6$/);
    expect(() => t.reshape([1.5] as never)).toThrow(/^Expected a shape/);
    expect(() => t.to({ dtype: 'float8' as never })).toThrow(/^Expected one of float32/);
    expect(() => t.item()).toThrow('tensor_item: item() needs a tensor with one element, got 6');
    expect(() => conv2d(t, t)).toThrow(/^nn_conv2d: /);
    expect(() => conv2d(ones([1, 1, 3, 3]), ones([1, 1, 2, 2]), null, { stride: -1 })).toThrow('Expected a positive integer up to 2^31 - 1, or a pair of them for stride but received -1 of type number');
    expect(() => maxPool2d(ones([1, 1, 3, 3]), [2, 2, 2] as never)).toThrow(/^Expected a positive integer up to 2\^31 - 1, or a pair of them for kernel/);
    expect(() => maxPool2d(ones([1, 1, 3, 3]), 0)).toThrow('Expected a positive integer up to 2^31 - 1, or a pair of them for kernel but received 0'); // LibTorch said "stride should not be zero"
    expect(() => dropout(t, 1.5, true)).toThrow('Expected a number in [0, 1] for p but received 1.5 of type number');
    expect(() => crossEntropy(ones([2, 3]), fromArray([0, 1], [2], 'int64'), { labelSmoothing: -1 })).toThrow(/^Expected a number in \[0, 1\] for labelSmoothing/);
  }));
});

test('the process is still alive and computing after all of the above', () => tidy(() => {
  const t = arange(1, 101);
  expect(t.sum().item()).toBe(5050);
  expect(conv2d(ones([1, 1, 3, 3]), ones([1, 1, 3, 3])).item()).toBe(9);
  expect(randn([3]).shape).toEqual([3]);
}));
