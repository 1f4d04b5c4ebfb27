/**
 * Tensor creation, dtypes, layout, math and reductions, checked against values
 * computed by hand (or by a few lines of plain JavaScript), not against the
 * library itself.
 */
import {
  arange, cat, eigh, fromArray, full, manualSeed, matmul, ones, outer, rand, randint, randn, randperm, scalar, stack, where, zeros,
} from '../lib/creation';
import { tidy } from '../lib/scope';
import { Tensor } from '../lib/tensor';

/** Element-wise closeness with an absolute + relative tolerance. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Math.abs(a - e) > tol * (1 + Math.abs(e))) {
      throw new Error(`element ${i}: expected ${e}, received ${a} (tolerance ${tol})\nactual:   [${Array.from(actual).join(', ')}]\nexpected: [${Array.from(expected).join(', ')}]`);
    }
  }
}
/** The TypedArray kind, robust across realms (the addon makes its arrays in Node's main realm, jest runs tests in a vm). */
const kind = (v: unknown): string => Object.prototype.toString.call(v).slice(8, -1);

describe('creation', () => {
  test('options that are not an options object, or misspelt, are refused (zeros([2], "cuda") made a CPU tensor)', () => {
    expect(() => zeros([2], 'cuda' as never)).toThrow('Expected an options object for options but received "cuda"');
    expect(() => ones([2], { devise: 'cpu' } as never)).toThrow('Expected one of dtype, device for options key but received "devise"');
    expect(() => full([2], 1, null as never)).toThrow('for options but received null');
    // Bytes that are no whole number of values.
    expect(() => fromArray(new Uint8Array(5), undefined, 'float32')).toThrow('Expected whole float32 values (4 bytes each) for data but received 5 bytes');
    // NaN is true, as bool(nan) in PyTorch and as .to({ dtype: 'bool' }) here.
    tidy(() => expect(fromArray([NaN, 0, 2], [3], 'bool').toArray()).toEqual([1, 0, 1]));
  });

  test('int64 against whole numbers past 2^53 stays int64 (it was compared and combined as float32)', () => {
    tidy(() => {
      const big = fromArray(new BigInt64Array([2n ** 60n + 1n, 2n ** 53n + 2n]));
      expect(big.eq(2 ** 60).toArray()).toEqual([0, 0]);
      expect(big.eq(2 ** 53).toArray()).toEqual([0, 0]);
      const doubled = big.mul(2 ** 53);
      expect(doubled.dtype).toBe('int64');
      expect(Array.from(fromArray(new BigInt64Array([3n])).mul(2 ** 60).data() as BigInt64Array)).toEqual([3n * 2n ** 60n]);
    });
  });

  test('zeros / ones / full', () => {
    tidy(() => {
      const z = zeros([2, 3]);
      expect(z.shape).toEqual([2, 3]);
      expect(z.dtype).toBe('float32');
      expect(z.device).toBe('cpu');
      expect(z.toArray()).toEqual([0, 0, 0, 0, 0, 0]);

      const o = ones([3], { dtype: 'int32' });
      expect(o.dtype).toBe('int32');
      expect(kind(o.data())).toBe('Int32Array');
      expect(o.toArray()).toEqual([1, 1, 1]);

      const f = full([2, 2], 3.5, { dtype: 'float64' });
      expect(f.dtype).toBe('float64');
      expect(f.toArray()).toEqual([3.5, 3.5, 3.5, 3.5]);

      const s = scalar(7);
      expect(s.shape).toEqual([]);
      expect(s.numel).toBe(1);
      expect(s.rank).toBe(0);
      expect(s.item()).toBe(7);

      const e = zeros([0, 4]);
      expect(e.numel).toBe(0);
      expect(e.toArray()).toEqual([]);
    });
  });

  test('arange: integer, fractional and negative steps, dtypes', () => {
    tidy(() => {
      expect(arange(0, 5).toArray()).toEqual([0, 1, 2, 3, 4]);
      expect(arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
      expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
      const i = arange(0, 4, 1, { dtype: 'int64' });
      expect(i.dtype).toBe('int64');
      expect(Array.from(i.data() as BigInt64Array)).toEqual([0n, 1n, 2n, 3n]);
      expect(() => arange(0, 5, 0)).toThrow('Expected a non-zero number for step but received 0 of type number');
    });
  });

  test('rand / randn have the right range and moments', () => {
    tidy(() => {
      manualSeed(123);
      const u = rand([20000]).toArray();
      expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...u)).toBeLessThan(1);
      const mean = u.reduce((a, b) => a + b, 0) / u.length;
      expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
      const g = randn([20000], { dtype: 'float64' });
      expect(g.dtype).toBe('float64');
      const gv = g.toArray();
      const gm = gv.reduce((a, b) => a + b, 0) / gv.length;
      const gs = Math.sqrt(gv.reduce((a, b) => a + (b - gm) ** 2, 0) / (gv.length - 1));
      expect(Math.abs(gm)).toBeLessThan(0.03);
      expect(Math.abs(gs - 1)).toBeLessThan(0.03);
    });
  });

  test('randint covers [low, high) as int64; randperm is a permutation', () => {
    tidy(() => {
      manualSeed(7);
      const r = randint(3, 7, [2000]);
      expect(r.dtype).toBe('int64');
      expect(r.shape).toEqual([2000]);
      const v = r.toArray();
      expect(new Set(v)).toEqual(new Set([3, 4, 5, 6]));
      const p = randperm(10);
      expect(p.dtype).toBe('int64');
      expect(p.toArray().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(randperm(0).shape).toEqual([0]);
    });
  });

  test('manualSeed makes rand/randn/randint/randperm reproducible', () => {
    tidy(() => {
      const draw = () => [rand([5]).toArray(), randn([5]).toArray(), randint(0, 100, [5]).toArray(), randperm(8).toArray()];
      manualSeed(42);
      const a = draw();
      manualSeed(42);
      const b = draw();
      manualSeed(43);
      const c = draw();
      expect(b).toEqual(a);
      expect(c[0]).not.toEqual(a[0]);
      expect(c[1]).not.toEqual(a[1]);
    });
  });
});

describe('dtype round trips through fromArray / data() / toArray()', () => {
  test('float32', () => {
    const t = fromArray(new Float32Array([1.5, -2, 3.25, 1e-8]));
    expect(t.dtype).toBe('float32');
    expect(kind(t.data())).toBe('Float32Array');
    expect(Array.from(t.data() as Float32Array)).toEqual(Array.from(new Float32Array([1.5, -2, 3.25, 1e-8])));
    t.dispose();
    // number[] defaults to float32 (0.1 is rounded to the nearest float32).
    const n = fromArray([0.1, 2]);
    expect(n.dtype).toBe('float32');
    expect(n.toArray()).toEqual([Math.fround(0.1), 2]);
    n.dispose();
  });

  test('float64 keeps every bit', () => {
    const vals = [0.1, -1e300, 5e-324, Math.PI, -0];
    const t = fromArray(new Float64Array(vals), [5]);
    expect(t.dtype).toBe('float64');
    expect(kind(t.data())).toBe('Float64Array');
    expect(Array.from(t.data() as Float64Array)).toEqual(vals);
    t.dispose();
  });

  test('int32 extremes', () => {
    const t = fromArray(new Int32Array([-2147483648, 2147483647, 0, -1]), [2, 2]);
    expect(t.dtype).toBe('int32');
    expect(t.shape).toEqual([2, 2]);
    expect(Array.from(t.data() as Int32Array)).toEqual([-2147483648, 2147483647, 0, -1]);
    t.dispose();
  });

  test('int64 as BigInt64Array, beyond 2^53', () => {
    const big = [-(2n ** 62n), 2n ** 62n + 1n, 0n, -1n];
    const t = fromArray(new BigInt64Array(big));
    expect(t.dtype).toBe('int64');
    expect(kind(t.data())).toBe('BigInt64Array');
    expect(Array.from(t.data() as BigInt64Array)).toEqual(big);
    t.dispose();
    const n = fromArray([3, -4], [2], 'int64');
    expect(n.dtype).toBe('int64');
    expect(n.toArray()).toEqual([3, -4]);
    n.dispose();
  });

  test('uint8 and Buffer', () => {
    const t = fromArray(new Uint8Array([0, 255, 128]));
    expect(t.dtype).toBe('uint8');
    expect(kind(t.data())).toBe('Uint8Array');
    expect(Array.from(t.data() as Uint8Array)).toEqual([0, 255, 128]);
    t.dispose();
    const b = fromArray(Buffer.from([1, 2, 3, 4]), [2, 2]);
    expect(b.dtype).toBe('uint8');
    expect(b.toArray()).toEqual([1, 2, 3, 4]);
    b.dispose();
  });

  test('typed arrays over a SharedArrayBuffer (shared between worker threads) are copied in', () => {
    tidy(() => {
      const shared = new Float32Array(new SharedArrayBuffer(16));
      shared.set([1, 2.5, -3, 4]);
      const t = fromArray(shared.subarray(1), [3]);
      expect([t.dtype, t.toArray()]).toEqual(['float32', [2.5, -3, 4]]);
      const bytes = new Uint8Array(new SharedArrayBuffer(3));
      bytes.set([7, 0, 255]);
      expect(fromArray(bytes).toArray()).toEqual([7, 0, 255]);
      // A copy: later writes to the shared memory do not reach the tensor.
      shared[1] = 100;
      expect(t.toArray()).toEqual([2.5, -3, 4]);
    });
  });

  test('bool', () => {
    tidy(() => {
      const t = fromArray([1, 0, 1], undefined, 'bool');
      expect(t.dtype).toBe('bool');
      expect(t.toArray()).toEqual([1, 0, 1]);
      expect(t.logicalNot().toArray()).toEqual([0, 1, 0]);
      const c = fromArray([1, 2, 3]).gt(1.5);
      expect(c.dtype).toBe('bool');
      expect(kind(c.data())).toBe('Uint8Array');
      expect(c.toArray()).toEqual([0, 1, 1]);
    });
  });

  // A bool tensor must hold only 0 and 1, whatever bytes it was made from.
  test('bool tensors from non-0/1 values are normalised', () => {
    tidy(() => {
      const t = fromArray([0, 1, 2, 255], undefined, 'bool');
      expect(t.toArray()).toEqual([0, 1, 1, 1]);
    });
  });

  test('float16 via to({dtype}): bits and values', () => {
    tidy(() => {
      const h = fromArray([1, 0.5, 65504, 1 / 3, -2]).to({ dtype: 'float16' });
      expect(h.dtype).toBe('float16');
      expect(kind(h.data())).toBe('Uint16Array');
      // IEEE half: 1 = 0x3C00, 0.5 = 0x3800, 65504 (max) = 0x7BFF, 1/3 -> 0x3555, -2 = 0xC000.
      expect(Array.from(h.data() as Uint16Array)).toEqual([0x3c00, 0x3800, 0x7bff, 0x3555, 0xc000]);
      expect(h.toArray()).toEqual([1, 0.5, 65504, 0.333251953125, -2]);
      const fromBits = fromArray(new Uint16Array([0x3c00, 0xc000, 0x7c00]), [3], 'float16');
      expect(fromBits.toArray()).toEqual([1, -2, Infinity]);
      expect(fromBits.to({ dtype: 'float64' }).toArray()).toEqual([1, -2, Infinity]);
    });
  });

  test('bfloat16 via to({dtype}): bits and values', () => {
    tidy(() => {
      const b = fromArray([1, -2, 1 / 3]).to({ dtype: 'bfloat16' });
      expect(b.dtype).toBe('bfloat16');
      expect(kind(b.data())).toBe('Uint16Array');
      // bfloat16 = top half of float32, round to nearest even: 1/3 = 0x3EAAAAAB -> 0x3EAB.
      expect(Array.from(b.data() as Uint16Array)).toEqual([0x3f80, 0xc000, 0x3eab]);
      expect(b.toArray()).toEqual([1, -2, 0.333984375]);
      expect(fromArray(new Uint16Array([0x4049]), [1], 'bfloat16').toArray()).toEqual([3.140625]);
    });
  });

  test('conversions between dtypes truncate / round as LibTorch does', () => {
    tidy(() => {
      const f = fromArray([1.7, -1.7, 2.5]);
      expect(f.to({ dtype: 'int32' }).toArray()).toEqual([1, -1, 2]);
      expect(f.to({ dtype: 'int64' }).dtype).toBe('int64');
      expect(f.to({ dtype: 'bool' }).toArray()).toEqual([1, 1, 1]);
      expect(f.to('cpu').toArray()).toEqual(f.toArray());
    });
  });
});

describe('shape, strides, numel, dtype, device', () => {
  test('a fresh contiguous tensor', () => {
    const t = zeros([2, 3, 4]);
    expect(t.shape).toEqual([2, 3, 4]);
    expect(t.strides).toEqual([12, 4, 1]);
    expect(t.numel).toBe(24);
    expect(t.rank).toBe(3);
    expect(t.dtype).toBe('float32');
    expect(t.device).toBe('cpu');
    expect(t.isContiguous()).toBe(true);
    expect(t.requiresGrad).toBe(false);
    expect(String(t)).toBe('Tensor(float32, [2, 3, 4], cpu)');
    // shape is a copy: mutating it does not change the tensor
    t.shape.push(9);
    expect(t.shape).toEqual([2, 3, 4]);
    t.dispose();
    expect(String(t)).toBe('Tensor(disposed)');
  });
});

describe('views and layout', () => {
  test('reshape with -1, view', () => {
    tidy(() => {
      const x = arange(0, 12);
      const r = x.reshape([3, -1]);
      expect(r.shape).toEqual([3, 4]);
      expect(r.toArray()).toEqual(x.toArray());
      const v = x.view([-1, 6]);
      expect(v.shape).toEqual([2, 6]);
      // a view shares storage with its base
      v.add_(1);
      expect(x.toArray()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      expect(x.reshape([2, 2, 3]).strides).toEqual([6, 3, 1]);
    });
  });

  test('permute / transpose / contiguous', () => {
    tidy(() => {
      const x = arange(0, 6).reshape([2, 3]); // [[0,1,2],[3,4,5]]
      const t = x.transpose(0, 1);
      expect(t.shape).toEqual([3, 2]);
      expect(t.strides).toEqual([1, 3]);
      expect(t.isContiguous()).toBe(false);
      expect(t.toArray()).toEqual([0, 3, 1, 4, 2, 5]);
      const c = t.contiguous();
      expect(c.isContiguous()).toBe(true);
      expect(c.strides).toEqual([2, 1]);
      expect(c.toArray()).toEqual([0, 3, 1, 4, 2, 5]);

      const y = arange(0, 24).reshape([2, 3, 4]);
      const p = y.permute([2, 0, 1]);
      expect(p.shape).toEqual([4, 2, 3]);
      expect(p.strides).toEqual([1, 12, 4]);
      // p[k][i][j] = y[i][j][k] = 12i + 4j + k
      const expected: number[] = [];
      for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expected.push(12 * i + 4 * j + k);
      expect(p.toArray()).toEqual(expected);
    });
  });

  test("contiguous('channels_last') gives NHWC strides and keeps logical values", () => {
    tidy(() => {
      const x = arange(0, 24).reshape([1, 2, 3, 4]); // N=1, C=2, H=3, W=4
      expect(x.isContiguous('channels_last')).toBe(false);
      const cl = x.contiguous('channels_last');
      expect(cl.shape).toEqual([1, 2, 3, 4]);
      // NHWC memory: stride(C) = 1, stride(W) = C, stride(H) = W*C, stride(N) = H*W*C
      expect(cl.strides).toEqual([24, 1, 8, 2]);
      expect(cl.isContiguous('channels_last')).toBe(true);
      expect(cl.isContiguous()).toBe(false);
      expect(cl.toArray()).toEqual(x.toArray());
      const back = cl.contiguous();
      expect(back.strides).toEqual([24, 12, 4, 1]);
      expect(back.toArray()).toEqual(x.toArray());
    });
  });

  test('narrow, slice with step', () => {
    tidy(() => {
      const x = arange(0, 12).reshape([3, 4]);
      expect(x.narrow(1, 1, 2).toArray()).toEqual([1, 2, 5, 6, 9, 10]);
      expect(x.narrow(0, 2, 1).toArray()).toEqual([8, 9, 10, 11]);
      expect(x.slice(1, 0, 4, 2).toArray()).toEqual([0, 2, 4, 6, 8, 10]);
      expect(x.slice(0, 0, 3, 2).toArray()).toEqual([0, 1, 2, 3, 8, 9, 10, 11]);
      expect(x.slice(1, 1, 100, 2).shape).toEqual([3, 2]); // end is clamped
      expect(x.slice(1, -2, 4).toArray()).toEqual([2, 3, 6, 7, 10, 11]);
    });
  });

  test('indexSelect and gather', () => {
    tidy(() => {
      const x = arange(0, 12).reshape([3, 4]);
      const idx = fromArray([2, 0, 2], [3], 'int64');
      expect(x.indexSelect(0, idx).toArray()).toEqual([8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]);
      expect(x.indexSelect(1, fromArray([3], [1], 'int64')).toArray()).toEqual([3, 7, 11]);

      const m = fromArray([1, 2, 3, 4], [2, 2]);
      const g = m.gather(1, fromArray([0, 0, 1, 0], [2, 2], 'int64'));
      expect(g.toArray()).toEqual([1, 1, 4, 3]);
      const g0 = m.gather(0, fromArray([1, 0], [1, 2], 'int64'));
      expect(g0.toArray()).toEqual([3, 2]);
    });
  });

  test('cat and stack', () => {
    tidy(() => {
      const a = fromArray([1, 2, 3, 4], [2, 2]);
      const b = fromArray([5, 6], [1, 2]);
      expect(cat([a, b]).shape).toEqual([3, 2]);
      expect(cat([a, b], 0).toArray()).toEqual([1, 2, 3, 4, 5, 6]);
      const c = fromArray([7, 8], [2, 1]);
      expect(cat([a, c], 1).toArray()).toEqual([1, 2, 7, 3, 4, 8]);
      const s0 = stack([fromArray([1, 2]), fromArray([3, 4])]);
      expect(s0.shape).toEqual([2, 2]);
      expect(s0.toArray()).toEqual([1, 2, 3, 4]);
      const s1 = stack([fromArray([1, 2]), fromArray([3, 4])], 1);
      expect(s1.toArray()).toEqual([1, 3, 2, 4]);
    });
  });

  test('flip', () => {
    tidy(() => {
      const x = arange(0, 6).reshape([2, 3]);
      expect(x.flip(0).toArray()).toEqual([3, 4, 5, 0, 1, 2]);
      expect(x.flip(1).toArray()).toEqual([2, 1, 0, 5, 4, 3]);
      expect(x.flip([0, 1]).toArray()).toEqual([5, 4, 3, 2, 1, 0]);
    });
  });

  test('pad: constant and reflect', () => {
    tidy(() => {
      const x = fromArray([1, 2], [1, 2]);
      const p = x.pad([1, 2], 'constant', 9);
      expect(p.shape).toEqual([1, 5]);
      expect(p.toArray()).toEqual([9, 1, 2, 9, 9]);
      // [left, right, top, bottom]
      const p2 = x.pad([0, 1, 1, 0]);
      expect(p2.shape).toEqual([2, 3]);
      expect(p2.toArray()).toEqual([0, 0, 0, 1, 2, 0]);

      const r = fromArray([1, 2, 3, 4], [1, 1, 4]).pad([2, 1], 'reflect');
      expect(r.toArray()).toEqual([3, 2, 1, 2, 3, 4, 3]);
      const img = arange(1, 10).reshape([1, 1, 3, 3]); // [[1,2,3],[4,5,6],[7,8,9]]
      const r2 = img.pad([1, 1, 1, 1], 'reflect');
      expect(r2.shape).toEqual([1, 1, 5, 5]);
      expect(r2.toArray()).toEqual([5, 4, 5, 6, 5, 2, 1, 2, 3, 2, 5, 4, 5, 6, 5, 8, 7, 8, 9, 8, 5, 4, 5, 6, 5]);
      const rep = fromArray([1, 2], [1, 1, 2]).pad([2, 1], 'replicate');
      expect(rep.toArray()).toEqual([1, 1, 1, 2, 2]);
    });
  });

  test('expand, squeeze, unsqueeze, clone', () => {
    tidy(() => {
      const x = fromArray([1, 2], [2, 1]);
      const e = x.expand([2, 3]);
      expect(e.strides).toEqual([1, 0]);
      expect(e.toArray()).toEqual([1, 1, 1, 2, 2, 2]);
      expect(x.expand([-1, 2]).shape).toEqual([2, 2]);
      expect(() => x.expand([-2, 3])).toThrow('Expected a list of sizes (integers >= 0, or -1 to keep one) for shape but received [-2, 3]'); // was "integer multiplication overflow"
      expect(x.squeeze(1).shape).toEqual([2]);
      expect(x.unsqueeze(0).shape).toEqual([1, 2, 1]);
      const c = x.clone();
      c.add_(10);
      expect(x.toArray()).toEqual([1, 2]);
      expect(c.toArray()).toEqual([11, 12]);
    });
  });
});

describe('math', () => {
  test('add / sub / mul / div with tensors, scalars and broadcasting', () => {
    tidy(() => {
      const a = fromArray([1, 2, 3, 4], [2, 2]);
      const b = fromArray([10, 20, 30, 40], [2, 2]);
      expect(a.add(b).toArray()).toEqual([11, 22, 33, 44]);
      expect(b.sub(a).toArray()).toEqual([9, 18, 27, 36]);
      expect(a.mul(b).toArray()).toEqual([10, 40, 90, 160]);
      expect(b.div(a).toArray()).toEqual([10, 10, 10, 10]);
      expect(a.add(0.5).toArray()).toEqual([1.5, 2.5, 3.5, 4.5]);
      expect(a.sub(1).toArray()).toEqual([0, 1, 2, 3]);
      expect(a.mul(-2).toArray()).toEqual([-2, -4, -6, -8]);
      expect(a.div(4).toArray()).toEqual([0.25, 0.5, 0.75, 1]);
      // [2,1] + [3] -> [2,3]
      const col = fromArray([0, 10], [2, 1]);
      const row = fromArray([1, 2, 3]);
      const s = col.add(row);
      expect(s.shape).toEqual([2, 3]);
      expect(s.toArray()).toEqual([1, 2, 3, 11, 12, 13]);
      // integer division is true division (as torch.div)
      expect(fromArray([7], [1], 'int64').div(2).toArray()).toEqual([3.5]);
      expect(a.neg().toArray()).toEqual([-1, -2, -3, -4]);
      expect(fromArray([-1.5, 2]).abs().toArray()).toEqual([1.5, 2]);
      expect(fromArray([-1.5, 0, 2]).sign().toArray()).toEqual([-1, 0, 1]);
    });
  });

  test('NaN is a value like any other, as in PyTorch: fills, operands, scalars', () => {
    tidy(() => {
      expect(full([2], NaN).toArray()).toEqual([NaN, NaN]);
      expect(scalar(NaN).item()).toBeNaN();
      expect(fromArray([1, 2], [2]).add(NaN).toArray()).toEqual([NaN, NaN]);
      expect(fromArray([1, 2], [2]).mul_(NaN).toArray()).toEqual([NaN, NaN]);
      expect(zeros([2]).fill_(NaN).toArray()).toEqual([NaN, NaN]);
      // An integer tensor and a NaN: promoted to float, as torch.tensor([1]) + nan is.
      const promoted = fromArray([1], [1], 'int64').add(NaN);
      expect([promoted.dtype, promoted.item()]).toEqual(['float32', NaN]);
      expect(() => zeros([2], { dtype: 'int64' }).fill_(NaN)).toThrow(/tensor_fill_: /);
    });
  });

  test('in-place variants return the same object and change its values', () => {
    tidy(() => {
      const a = fromArray([1, 2, 3]);
      const b = fromArray([10, 20, 30]);
      expect(a.add_(b)).toBe(a);
      expect(a.toArray()).toEqual([11, 22, 33]);
      expect(a.sub_(1)).toBe(a);
      expect(a.toArray()).toEqual([10, 21, 32]);
      expect(a.mul_(2)).toBe(a);
      expect(a.toArray()).toEqual([20, 42, 64]);
      expect(a.div_(fromArray([2, 2, 4]))).toBe(a);
      expect(a.toArray()).toEqual([10, 21, 16]);
      expect(a.copy_(b)).toBe(a);
      expect(a.toArray()).toEqual([10, 20, 30]);
      expect(a.fill_(5)).toBe(a);
      expect(a.toArray()).toEqual([5, 5, 5]);
      expect(a.zero_()).toBe(a);
      expect(a.toArray()).toEqual([0, 0, 0]);
      expect(b.toArray()).toEqual([10, 20, 30]);
      // in place on a view writes through to the base
      const base = zeros([2, 2]);
      base.narrow(0, 1, 1).add_(3);
      expect(base.toArray()).toEqual([0, 0, 3, 3]);
    });
  });

  test('uniform_ / normal_ fill in place', () => {
    tidy(() => {
      manualSeed(1);
      const u = zeros([5000]);
      expect(u.uniform_(-2, -1)).toBe(u);
      const v = u.toArray();
      expect(Math.min(...v)).toBeGreaterThanOrEqual(-2);
      expect(Math.max(...v)).toBeLessThanOrEqual(-1);
      const n = zeros([5000], { dtype: 'float64' }).normal_(10, 0.5);
      expect(Math.abs(n.mean().item() - 10)).toBeLessThan(0.05);
      expect(Math.abs(n.std().item() - 0.5)).toBeLessThan(0.05);
    });
  });

  test('pow, exp, log, sqrt, rsqrt, square, sigmoid, tanh, floor, round', () => {
    tidy(() => {
      const x = fromArray([1, 2, 3], [3], 'float64');
      expect(x.pow(2).toArray()).toEqual([1, 4, 9]);
      expect(x.pow(fromArray([3, 2, 0], [3], 'float64')).toArray()).toEqual([1, 4, 1]);
      expect(x.pow(0.5).toArray()).toEqual([1, Math.SQRT2, Math.sqrt(3)]);
      expectClose(fromArray([0, 1, -1], [3], 'float64').exp().toArray(), [1, Math.E, 1 / Math.E], 1e-15);
      expectClose(fromArray([1, Math.E, 100], [3], 'float64').log().toArray(), [0, 1, Math.log(100)], 1e-15);
      expect(fromArray([4, 9, 0.25]).sqrt().toArray()).toEqual([2, 3, 0.5]);
      expect(fromArray([4, 0.25]).rsqrt().toArray()).toEqual([0.5, 2]);
      expect(fromArray([-3, 2]).square().toArray()).toEqual([9, 4]);
      expectClose(fromArray([0, 2], [2], 'float64').sigmoid().toArray(), [0.5, 1 / (1 + Math.exp(-2))], 1e-15);
      expectClose(fromArray([0, 1], [2], 'float64').tanh().toArray(), [0, Math.tanh(1)], 1e-15);
      expect(fromArray([1.5, -1.5]).floor().toArray()).toEqual([1, -2]);
      expect(fromArray([0.5, 1.5, 2.4, -0.5]).round().toArray()).toEqual([0, 2, 2, -0]); // half to even
      const nan = fromArray([-1]).log();
      expect(Number.isNaN(nan.item())).toBe(true);
      expect(nan.isnan().toArray()).toEqual([1]);
      expect(fromArray([0]).log().item()).toBe(-Infinity);
    });
  });

  test('clamp', () => {
    tidy(() => {
      const x = fromArray([-2, -0.5, 0.5, 2]);
      expect(x.clamp(-1, 1).toArray()).toEqual([-1, -0.5, 0.5, 1]);
      expect(x.clamp(0).toArray()).toEqual([0, 0, 0.5, 2]);
      expect(x.clamp(null, 0).toArray()).toEqual([-2, -0.5, 0, 0]);
      expect(x.relu().toArray()).toEqual([0, 0, 0.5, 2]);
    });
  });

  test('comparisons and logical ops give bool tensors', () => {
    tidy(() => {
      const a = fromArray([1, 2, 3]);
      const b = fromArray([3, 2, 1]);
      const cases: Array<[Tensor, number[]]> = [
        [a.eq(b), [0, 1, 0]], [a.ne(b), [1, 0, 1]], [a.lt(b), [1, 0, 0]],
        [a.le(b), [1, 1, 0]], [a.gt(b), [0, 0, 1]], [a.ge(b), [0, 1, 1]],
        [a.gt(1.5), [0, 1, 1]], [a.eq(3), [0, 0, 1]],
      ];
      for (const [t, expected] of cases) {
        expect(t.dtype).toBe('bool');
        expect(t.toArray()).toEqual(expected);
      }
      expect(a.gt(1).logicalAnd(a.lt(3)).toArray()).toEqual([0, 1, 0]);
      expect(a.lt(2).logicalOr(a.gt(2)).toArray()).toEqual([1, 0, 1]);
      expect(a.lt(2).logicalNot().toArray()).toEqual([0, 1, 1]);
    });
  });

  test('where, maximum, minimum', () => {
    tidy(() => {
      const a = fromArray([1, 5, 3]);
      const b = fromArray([4, 2, 6]);
      expect(where(a.gt(b), a, b).toArray()).toEqual([4, 5, 6]);
      expect(where(fromArray([1, 0, 1], undefined, 'bool'), a, b).toArray()).toEqual([1, 2, 3]);
      expect(a.maximum(b).toArray()).toEqual([4, 5, 6]);
      expect(a.minimum(b).toArray()).toEqual([1, 2, 3]);
      expect(a.maximum(3).toArray()).toEqual([3, 5, 3]);
      expect(a.minimum(3).toArray()).toEqual([1, 3, 3]);
    });
  });
});

describe('reductions', () => {
  // x = [[1,2,3],[4,5,6]]: mean 3.5, sum of squared deviations 17.5.
  const make = () => fromArray([1, 2, 3, 4, 5, 6], [2, 3], 'float64');

  test('sum and mean over all / some dims, keepdim', () => {
    tidy(() => {
      const x = make();
      const s = x.sum();
      expect(s.shape).toEqual([]);
      expect(s.item()).toBe(21);
      expect(x.sum(0).toArray()).toEqual([5, 7, 9]);
      const k = x.sum(1, true);
      expect(k.shape).toEqual([2, 1]);
      expect(k.toArray()).toEqual([6, 15]);
      expect(x.sum([0, 1]).item()).toBe(21);
      expect(x.sum(undefined, true).shape).toEqual([1, 1]);
      expect(x.mean().item()).toBe(3.5);
      expect(x.mean(1).toArray()).toEqual([2, 5]);
      expect(x.mean(0, true).shape).toEqual([1, 3]);
      expect(x.mean(-1).toArray()).toEqual([2, 5]);
    });
  });

  test('var / std, unbiased vs not', () => {
    tidy(() => {
      const x = make();
      expectClose([x.var().item()], [17.5 / 5], 1e-14);
      expectClose([x.var(undefined, { unbiased: false }).item()], [17.5 / 6], 1e-14);
      expectClose([x.std().item()], [Math.sqrt(3.5)], 1e-14);
      expectClose([x.std(undefined, { unbiased: false }).item()], [Math.sqrt(17.5 / 6)], 1e-14);
      // per row: [1,2,3] and [4,5,6] each have sum of squares 2
      expectClose(x.var(1).toArray(), [1, 1], 1e-14);
      expectClose(x.var(1, { unbiased: false }).toArray(), [2 / 3, 2 / 3], 1e-14);
      // per column: pairs 3 apart: unbiased var 4.5, biased 2.25
      expectClose(x.var(0).toArray(), [4.5, 4.5, 4.5], 1e-14);
      expectClose(x.std(0, { unbiased: false }).toArray(), [1.5, 1.5, 1.5], 1e-14);
      const kd = x.var(1, { keepdim: true });
      expect(kd.shape).toEqual([2, 1]);
    });
  });

  test('max / min / argmax over dims and keepdim', () => {
    tidy(() => {
      const x = fromArray([3, 1, 2, 0, 5, 4], [2, 3]);
      expect(x.max().item()).toBe(5);
      expect(x.min().item()).toBe(0);
      expect(x.max(0).toArray()).toEqual([3, 5, 4]);
      expect(x.max(1).toArray()).toEqual([3, 5]);
      expect(x.min(1).toArray()).toEqual([1, 0]);
      const mk = x.max(1, true);
      expect(mk.shape).toEqual([2, 1]);
      expect(mk.toArray()).toEqual([3, 5]);
      const am = x.argmax();
      expect(am.dtype).toBe('int64');
      expect(am.item()).toBe(4);
      expect(x.argmax(1).toArray()).toEqual([0, 1]);
      expect(x.argmax(0).toArray()).toEqual([0, 1, 1]);
      const ak = x.argmax(0, true);
      expect(ak.shape).toEqual([1, 3]);
      expect(ak.toArray()).toEqual([0, 1, 1]);
    });
  });
});

describe('linear algebra', () => {
  test('matmul and outer against hand-computed values', () => {
    tidy(() => {
      const a = fromArray([1, 2, 3, 4], [2, 2]);
      const b = fromArray([5, 6, 7, 8], [2, 2]);
      expect(matmul(a, b).toArray()).toEqual([19, 22, 43, 50]);
      expect(b.matmul(a).toArray()).toEqual([23, 34, 31, 46]);
      // [2,3] @ [3] -> [2]
      const m = fromArray([1, 0, 2, -1, 3, 1], [2, 3]);
      const v = fromArray([3, 2, 1]);
      const mv = m.matmul(v);
      expect(mv.shape).toEqual([2]);
      expect(mv.toArray()).toEqual([5, 4]);
      // batched: [2,1,2] @ [2,2] broadcast
      const bt = fromArray([1, 1, 2, 0], [2, 1, 2]).matmul(b);
      expect(bt.shape).toEqual([2, 1, 2]);
      expect(bt.toArray()).toEqual([12, 14, 10, 12]);
      const o = outer(fromArray([1, 2]), fromArray([3, 4, 5]));
      expect(o.shape).toEqual([2, 3]);
      expect(o.toArray()).toEqual([3, 4, 5, 6, 8, 10]);
    });
  });

  test('eigh on [[2,1],[1,2]]: eigenvalues 1, 3', () => {
    tidy(() => {
      const A = fromArray([2, 1, 1, 2], [2, 2], 'float64');
      const { values, vectors } = eigh(A);
      expectClose(values.toArray(), [1, 3], 1e-12);
      // A v = lambda v for each column v
      const av = A.matmul(vectors).toArray();
      const vl = vectors.mul(values.unsqueeze(0)).toArray();
      expectClose(av, vl, 1e-12);
      // eigenvectors are (1,-1)/sqrt2 and (1,1)/sqrt2 up to sign
      const V = vectors.toArray();
      expectClose([Math.abs(V[0]), Math.abs(V[2]), Math.abs(V[1]), Math.abs(V[3])], [Math.SQRT1_2, Math.SQRT1_2, Math.SQRT1_2, Math.SQRT1_2], 1e-12);
      expect(Math.sign(V[0])).toBe(-Math.sign(V[2]));
      expect(Math.sign(V[1])).toBe(Math.sign(V[3]));
    });
  });

  test('eigh on a 3x3 tridiagonal matrix: 4-sqrt2, 4, 4+sqrt2, ascending and orthonormal', () => {
    tidy(() => {
      const A = fromArray([4, 1, 0, 1, 4, 1, 0, 1, 4], [3, 3], 'float64');
      const { values, vectors } = eigh(A);
      const lam = values.toArray();
      expectClose(lam, [4 - Math.SQRT2, 4, 4 + Math.SQRT2], 1e-12);
      expect(lam[0]).toBeLessThan(lam[1]);
      expect(lam[1]).toBeLessThan(lam[2]);
      expectClose(A.matmul(vectors).toArray(), vectors.mul(values.unsqueeze(0)).toArray(), 1e-12);
      expectClose(vectors.transpose(0, 1).matmul(vectors).toArray(), [1, 0, 0, 0, 1, 0, 0, 0, 1], 1e-12);
      // float32 works too, to float32 precision
      const f = eigh(A.to({ dtype: 'float32' }));
      expect(f.values.dtype).toBe('float32');
      expectClose(f.values.toArray(), [4 - Math.SQRT2, 4, 4 + Math.SQRT2], 1e-5);
    });
  });
});
