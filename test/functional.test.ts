/**
 * The neural-net functions on small hand-made inputs, against values worked
 * out by hand or by a naive reference written here in plain JavaScript.
 */
import { arange, fromArray, full, manualSeed, ones, randn, zeros } from '../lib/creation';
import {
  accuracy, adaptiveAvgPool2d, affineGrid, avgPool2d, batchNorm, conv2d, correctCount, crossEntropy, dropout, globalAvgPool,
  gridSample, interpolate, linear, logSoftmax, maxPool2d, relu,
} from '../lib/functional';
import { tidy } from '../lib/scope';

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol * (1 + Math.abs(expected[i])))) {
      throw new Error(`element ${i}: expected ${expected[i]}, received ${actual[i]}\nactual:   [${Array.from(actual).join(', ')}]\nexpected: [${Array.from(expected).join(', ')}]`);
    }
  }
}

/** Naive NCHW convolution (cross-correlation, as PyTorch), straight from the definition. */
function refConv2d(
  x: number[], [n, cin, h, w]: number[], wt: number[], [cout, cinG, kh, kw]: number[], bias: number[] | null,
  stride: [number, number], pad: [number, number], dil: [number, number], groups: number,
): { out: number[]; shape: number[] } {
  const oh = Math.floor((h + 2 * pad[0] - dil[0] * (kh - 1) - 1) / stride[0]) + 1;
  const ow = Math.floor((w + 2 * pad[1] - dil[1] * (kw - 1) - 1) / stride[1]) + 1;
  const coutG = cout / groups;
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < cout; co++) {
      const g = Math.floor(co / coutG);
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          let s = bias ? bias[co] : 0;
          for (let ci = 0; ci < cinG; ci++) {
            const c = g * cinG + ci;
            for (let u = 0; u < kh; u++) {
              for (let v = 0; v < kw; v++) {
                const y = i * stride[0] - pad[0] + u * dil[0];
                const xx = j * stride[1] - pad[1] + v * dil[1];
                if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
                s += x[((b * cin + c) * h + y) * w + xx] * wt[((co * cinG + ci) * kh + u) * kw + v];
              }
            }
          }
          out.push(s);
        }
      }
    }
  }
  return { out, shape: [n, cout, oh, ow] };
}

/** x[i][j] = 4i + j + 1 on a 4x4 image: 1..16. */
const grid4 = () => arange(1, 17).reshape([1, 1, 4, 4]);

describe('conv2d', () => {
  test('2x2 ones kernel: sums of 2x2 blocks (16r + 4c + 14), with and without bias', () => {
    tidy(() => {
      const x = grid4();
      const w = ones([1, 1, 2, 2]);
      const y = conv2d(x, w);
      expect(y.shape).toEqual([1, 1, 3, 3]);
      expect(y.toArray()).toEqual([14, 18, 22, 30, 34, 38, 46, 50, 54]);
      const yb = conv2d(x, w, fromArray([1]));
      expect(yb.toArray()).toEqual([15, 19, 23, 31, 35, 39, 47, 51, 55]);
    });
  });

  test('stride 2', () => {
    tidy(() => {
      const y = conv2d(grid4(), ones([1, 1, 2, 2]), null, { stride: 2 });
      expect(y.shape).toEqual([1, 1, 2, 2]);
      expect(y.toArray()).toEqual([14, 22, 46, 54]);
      // asymmetric stride [1, 2]
      const y2 = conv2d(grid4(), ones([1, 1, 2, 2]), null, { stride: [1, 2] });
      expect(y2.shape).toEqual([1, 1, 3, 2]);
      expect(y2.toArray()).toEqual([14, 22, 30, 38, 46, 54]);
    });
  });

  test('padding 1 with a 3x3 ones kernel: neighbourhood sums with zeros outside', () => {
    tidy(() => {
      const y = conv2d(grid4(), ones([1, 1, 3, 3]), null, { padding: 1 });
      expect(y.shape).toEqual([1, 1, 4, 4]);
      // corner (0,0): 1+2+5+6 = 14; (0,1): 1+2+3+5+6+7 = 24; centre (1,1): 1+2+3+5+6+7+9+10+11 = 54
      const v = y.toArray();
      expect(v[0]).toBe(14);
      expect(v[1]).toBe(24);
      expect(v[5]).toBe(54);
      expect(v[15]).toBe(11 + 12 + 15 + 16);
    });
  });

  test('dilation 2: taps two apart (16r + 4c + 24)', () => {
    tidy(() => {
      const y = conv2d(grid4(), ones([1, 1, 2, 2]), null, { dilation: 2 });
      expect(y.shape).toEqual([1, 1, 2, 2]);
      expect(y.toArray()).toEqual([24, 28, 40, 44]);
    });
  });

  test('groups: depthwise scaling per channel', () => {
    tidy(() => {
      const x = arange(0, 8).reshape([1, 2, 2, 2]);
      const w = fromArray([2, 3], [2, 1, 1, 1]);
      const y = conv2d(x, w, fromArray([0, 1]), { groups: 2 });
      expect(y.toArray()).toEqual([0, 2, 4, 6, 13, 16, 19, 22]);
    });
  });

  test('general case against a naive reference (batch, channels, stride, padding, dilation, groups)', () => {
    tidy(() => {
      manualSeed(3);
      const configs: Array<{ x: number[]; w: number[]; stride: [number, number]; pad: [number, number]; dil: [number, number]; groups: number }> = [
        { x: [2, 3, 7, 6], w: [4, 3, 3, 3], stride: [1, 1], pad: [1, 1], dil: [1, 1], groups: 1 },
        { x: [1, 4, 9, 8], w: [6, 2, 3, 2], stride: [2, 1], pad: [1, 0], dil: [1, 2], groups: 2 },
        { x: [2, 2, 8, 8], w: [2, 2, 1, 1], stride: [3, 3], pad: [0, 0], dil: [1, 1], groups: 1 },
      ];
      for (const c of configs) {
        const x = randn(c.x, { dtype: 'float64' });
        const w = randn(c.w, { dtype: 'float64' });
        const b = randn([c.w[0]], { dtype: 'float64' });
        const y = conv2d(x, w, b, { stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups });
        const ref = refConv2d(x.toArray(), c.x, w.toArray(), c.w, b.toArray(), c.stride, c.pad, c.dil, c.groups);
        expect(y.shape).toEqual(ref.shape);
        expectClose(y.toArray(), ref.out, 1e-12);
      }
    });
  });

  test('channels-last input gives the same result', () => {
    tidy(() => {
      manualSeed(4);
      const x = randn([2, 3, 5, 5]);
      const w = randn([4, 3, 3, 3]);
      const a = conv2d(x, w, null, { padding: 1 });
      const b = conv2d(x.contiguous('channels_last'), w.contiguous('channels_last'), null, { padding: 1 });
      expectClose(b.toArray(), a.toArray(), 1e-5);
    });
  });
});

describe('pooling', () => {
  test('maxPool2d: 2x2 blocks, overlapping with padding, ceil mode', () => {
    tidy(() => {
      const x = grid4();
      expect(maxPool2d(x, 2).toArray()).toEqual([6, 8, 14, 16]);
      // kernel 3, stride 1, padding 1 (padding is -inf): out[r][c] = x[min(r+1,3)][min(c+1,3)]
      const o = maxPool2d(x, 3, { stride: 1, padding: 1 });
      const expected: number[] = [];
      for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expected.push(4 * Math.min(r + 1, 3) + Math.min(c + 1, 3) + 1);
      expect(o.toArray()).toEqual(expected);
      // 5x5, kernel 2 stride 2: floor -> 2x2, ceil -> 3x3 (last window is partial)
      const x5 = arange(1, 26).reshape([1, 1, 5, 5]);
      expect(maxPool2d(x5, 2).shape).toEqual([1, 1, 2, 2]);
      const c = maxPool2d(x5, 2, { ceilMode: true });
      expect(c.shape).toEqual([1, 1, 3, 3]);
      expect(c.toArray()).toEqual([7, 9, 10, 17, 19, 20, 22, 24, 25]);
      // negative values are not beaten by the padding
      expect(maxPool2d(full([1, 1, 2, 2], -5), 3, { stride: 1, padding: 1 }).toArray()).toEqual([-5, -5, -5, -5]);
    });
  });

  test('avgPool2d: 2x2 blocks, padding counts zeros', () => {
    tidy(() => {
      const x = grid4();
      expect(avgPool2d(x, 2).toArray()).toEqual([3.5, 5.5, 11.5, 13.5]);
      const p = avgPool2d(x, 3, { stride: 1, padding: 1 });
      const v = p.toArray();
      expectClose([v[0]], [(1 + 2 + 5 + 6) / 9]);
      expectClose([v[5]], [(1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11) / 9]);
      expect(avgPool2d(x, [2, 4], { stride: [2, 4] }).toArray()).toEqual([4.5, 12.5]);
    });
  });

  test('adaptiveAvgPool2d and globalAvgPool', () => {
    tidy(() => {
      const x = grid4();
      expect(adaptiveAvgPool2d(x, 1).toArray()).toEqual([8.5]);
      expect(adaptiveAvgPool2d(x, 2).toArray()).toEqual([3.5, 5.5, 11.5, 13.5]);
      // [1, 2]: left half = cols 0,1 (mean 7.5), right half = cols 2,3 (mean 9.5)
      expect(adaptiveAvgPool2d(x, [1, 2]).toArray()).toEqual([7.5, 9.5]);
      // 4 -> 3 bins: [0,2), [1,3), [2,4) in each direction
      const a3 = adaptiveAvgPool2d(x, 3).toArray();
      const bins = [[0, 2], [1, 3], [2, 4]];
      const expected: number[] = [];
      for (const [r0, r1] of bins) {
        for (const [c0, c1] of bins) {
          let s = 0;
          for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) s += 4 * r + c + 1;
          expected.push(s / ((r1 - r0) * (c1 - c0)));
        }
      }
      expectClose(a3, expected);
      const g = globalAvgPool(arange(0, 8).reshape([1, 2, 2, 2]));
      expect(g.shape).toEqual([1, 2]);
      expect(g.toArray()).toEqual([1.5, 5.5]);
    });
  });
});

describe('activations and regularisation', () => {
  test('relu', () => {
    tidy(() => {
      expect(relu(fromArray([-1, 0, 2, -0.5, 3.5])).toArray()).toEqual([0, 0, 2, 0, 3.5]);
    });
  });

  test('dropout: training zeroes about p and scales the rest by 1/(1-p); eval is identity', () => {
    tidy(() => {
      manualSeed(11);
      const x = ones([100000]);
      const p = 0.3;
      const y = dropout(x, p, true).toArray();
      const zerosCount = y.filter((v) => v === 0).length;
      expect(Math.abs(zerosCount / y.length - p)).toBeLessThan(0.01);
      const kept = y.filter((v) => v !== 0);
      for (const v of new Set(kept)) expect(v).toBeCloseTo(1 / (1 - p), 6);
      // expectation preserved
      expect(Math.abs(y.reduce((a, b) => a + b, 0) / y.length - 1)).toBeLessThan(0.02);

      const xr = randn([1000]);
      expect(dropout(xr, 0.5, false).toArray()).toEqual(xr.toArray());
      expect(dropout(xr, 0, true).toArray()).toEqual(xr.toArray());
      expect(dropout(xr, 1, true).toArray().every((v) => v === 0)).toBe(true);
    });
  });

  test('dropout of bfloat16 and float16 drops p of the units (their own uniform draws come in steps of 1/256)', () => {
    tidy(() => {
      manualSeed(12);
      for (const dtype of ['bfloat16', 'float16'] as const) {
        for (const p of [0.001, 0.2]) {
          const y = dropout(ones([1000000], { dtype }), p, true);
          expect(y.dtype).toBe(dtype);
          const dropped = y.eq(0).sum().item() / 1e6;
          // 4.5 standard deviations of a binomial count; bf16 draws dropped 0.0038 at p = 0.001
          expect([dtype, p, Math.abs(dropped - p) < 4.5 * Math.sqrt((p * (1 - p)) / 1e6)]).toEqual([dtype, p, true]);
        }
      }
    });
  });

  test('dropout drops the same units of a channels-last tensor as of its NCHW copy (the same seed)', () => {
    tidy(() => {
      const x = randn([2, 3, 4, 5]);
      manualSeed(3);
      const nchw = dropout(x, 0.4, true).toArray();
      manualSeed(3);
      const nhwc = dropout(x.contiguous('channels_last'), 0.4, true).toArray();
      expect(nhwc).toEqual(nchw);
      expect(nchw.filter((v) => v === 0).length).toBeGreaterThan(0);
    });
  });

  test('batchNorm training: batch statistics, running stats updated with momentum 0.1 (unbiased var)', () => {
    tidy(() => {
      // x [N=2, C=2, H=1, W=2]; channel 0 = {1,2,5,6}, channel 1 = {3,4,7,8}
      const x = arange(1, 9, 1, { dtype: 'float64' }).reshape([2, 2, 1, 2]);
      const rm = zeros([2], { dtype: 'float64' });
      const rv = ones([2], { dtype: 'float64' });
      const w = fromArray([2, 0.5], [2], 'float64');
      const b = fromArray([1, -1], [2], 'float64');
      const eps = 1e-5;
      const y = batchNorm(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true });
      const ch = [[1, 2, 5, 6], [3, 4, 7, 8]];
      const mean = ch.map((v) => v.reduce((a, c) => a + c, 0) / 4); // 3.5, 5.5
      const varB = ch.map((v, k) => v.reduce((a, c) => a + (c - mean[k]) ** 2, 0) / 4); // 4.25
      const varU = varB.map((v) => (v * 4) / 3);
      const xv = x.toArray();
      const expected = xv.map((v, i) => {
        const c = Math.floor(i / 2) % 2;
        return ((v - mean[c]) / Math.sqrt(varB[c] + eps)) * [2, 0.5][c] + [1, -1][c];
      });
      expectClose(y.toArray(), expected, 1e-12);
      expectClose(rm.toArray(), mean.map((m) => 0.1 * m), 1e-12);
      expectClose(rv.toArray(), varU.map((v) => 0.9 + 0.1 * v), 1e-12);

      // a custom momentum
      const rm2 = zeros([2], { dtype: 'float64' });
      const rv2 = ones([2], { dtype: 'float64' });
      batchNorm(x, { runningMean: rm2, runningVar: rv2, training: true, momentum: 0.5 });
      expectClose(rm2.toArray(), mean.map((m) => 0.5 * m), 1e-12);
      expectClose(rv2.toArray(), varU.map((v) => 0.5 + 0.5 * v), 1e-12);
    });
  });

  test('batchNorm eval: uses the running stats and leaves them alone', () => {
    tidy(() => {
      const x = arange(1, 9, 1, { dtype: 'float64' }).reshape([2, 2, 1, 2]);
      const rm = fromArray([1, 2], [2], 'float64');
      const rv = fromArray([4, 0.25], [2], 'float64');
      const eps = 1e-3;
      const y = batchNorm(x, { runningMean: rm, runningVar: rv, training: false, eps });
      const expected = x.toArray().map((v, i) => {
        const c = Math.floor(i / 2) % 2;
        return (v - [1, 2][c]) / Math.sqrt([4, 0.25][c] + eps);
      });
      expectClose(y.toArray(), expected, 1e-12);
      expect(rm.toArray()).toEqual([1, 2]);
      expect(rv.toArray()).toEqual([4, 0.25]);
    });
  });
});

describe('linear, logSoftmax, crossEntropy', () => {
  test('linear', () => {
    tidy(() => {
      const x = fromArray([1, 2, -1, 0.5], [2, 2]);
      const w = fromArray([1, 0, 0, 1, 1, 1], [3, 2]);
      const b = fromArray([0, 1, 2]);
      expect(linear(x, w, b).toArray()).toEqual([1, 3, 5, -1, 1.5, 1.5]);
      expect(linear(x, w).toArray()).toEqual([1, 2, 3, -1, 0.5, -0.5]);
    });
  });

  test('logSoftmax', () => {
    tidy(() => {
      const x = fromArray([1, 2, 3, 0, 0, 0], [2, 3], 'float64');
      const lse = Math.log(Math.E + Math.E ** 2 + Math.E ** 3);
      const y = logSoftmax(x);
      expectClose(y.toArray(), [1 - lse, 2 - lse, 3 - lse, -Math.log(3), -Math.log(3), -Math.log(3)], 1e-14);
      expectClose(y.exp().sum(1).toArray(), [1, 1], 1e-14);
      // along dim 0: columns (1,0), (2,0), (3,0)
      const y0 = logSoftmax(x, 0).toArray();
      expectClose([y0[0], y0[3]], [1 - Math.log(Math.E + 1), -Math.log(Math.E + 1)], 1e-14);
      // large logits do not overflow
      expectClose(logSoftmax(fromArray([1000, 0])).toArray(), [0, -1000], 1e-6);
    });
  });

  test('crossEntropy against a hand-computed value', () => {
    tidy(() => {
      const logits = fromArray([1, 2, 3, 1, 1, 1], [2, 3], 'float64');
      const target = fromArray([2, 0], [2], 'int64');
      const lse = Math.log(Math.E + Math.E ** 2 + Math.E ** 3);
      const expected = ((lse - 3) + Math.log(3)) / 2;
      const loss = crossEntropy(logits, target);
      expect(loss.shape).toEqual([]);
      expectClose([loss.item()], [expected], 1e-14);
    });
  });

  test('crossEntropy with label smoothing: (1-e)*nll + e*mean_k(-log p_k)', () => {
    tidy(() => {
      const logits = fromArray([1, 2, 3, 1, 1, 1], [2, 3], 'float64');
      const target = fromArray([2, 0], [2], 'int64');
      const eps = 0.1;
      const lp = logSoftmax(logits).toArray();
      const rows = [lp.slice(0, 3), lp.slice(3, 6)];
      const t = [2, 0];
      const per = rows.map((r, i) => (1 - eps) * -r[t[i]] + (eps / 3) * r.reduce((a, v) => a - v, 0));
      const loss = crossEntropy(logits, target, { labelSmoothing: eps });
      expectClose([loss.item()], [(per[0] + per[1]) / 2], 1e-14);
      // e = 1: uniform target, the loss is mean(-log p) regardless of the label
      const uni = crossEntropy(logits, fromArray([0, 1], [2], 'int64'), { labelSmoothing: 1 });
      const u = rows.map((r) => r.reduce((a, v) => a - v, 0) / 3);
      expectClose([uni.item()], [(u[0] + u[1]) / 2], 1e-14);
    });
  });
});

describe('resampling', () => {
  test('interpolate: nearest and bilinear (align_corners true / false)', () => {
    tidy(() => {
      const x = fromArray([1, 2, 3, 4], [1, 1, 2, 2]);
      const n = interpolate(x, 4, 'nearest');
      expect(n.shape).toEqual([1, 1, 4, 4]);
      expect(n.toArray()).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
      const ac = interpolate(x, 3, 'bilinear', true);
      expectClose(ac.toArray(), [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
      // align_corners=false: source coord = (dst + 0.5) / 2 - 0.5, clamped at 0 -> {0, .25, .75, 1};
      // the image is the linear function 1 + 2r + c, which bilinear reproduces exactly
      const b = interpolate(x, 4, 'bilinear', false);
      const coords = [0, 0.25, 0.75, 1];
      const expected: number[] = [];
      for (const r of coords) for (const c of coords) expected.push(1 + 2 * r + c);
      expectClose(b.toArray(), expected);
      // downsampling to [1, 2] with align_corners: rows at 0, cols at 0 and 1
      expectClose(interpolate(x, [1, 2], 'bilinear', true).toArray(), [1, 2]);
    });
  });

  test('affineGrid + gridSample with the identity transform reproduce the input', () => {
    tidy(() => {
      manualSeed(5);
      const x = randn([2, 3, 5, 7]);
      const theta = fromArray([1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0], [2, 2, 3]);
      for (const alignCorners of [false, true]) {
        const grid = affineGrid(theta, [2, 3, 5, 7], alignCorners);
        expect(grid.shape).toEqual([2, 5, 7, 2]);
        const y = gridSample(x, grid, { alignCorners });
        expect(y.shape).toEqual([2, 3, 5, 7]);
        expectClose(y.toArray(), x.toArray(), 1e-5);
        expectClose(gridSample(x, grid, { alignCorners, mode: 'nearest' }).toArray(), x.toArray(), 1e-6);
      }
      // the grid of the identity at align_corners=true runs from -1 to 1 exactly
      const g = affineGrid(fromArray([1, 0, 0, 0, 1, 0], [1, 2, 3]), [1, 1, 2, 3], true).toArray();
      expectClose(g, [-1, -1, 0, -1, 1, -1, -1, 1, 0, 1, 1, 1]);
    });
  });

  test('affineGrid + gridSample with x -> -x flips horizontally; a shift pads with zeros', () => {
    tidy(() => {
      manualSeed(6);
      const x = randn([1, 2, 4, 6]);
      const flip = fromArray([-1, 0, 0, 0, 1, 0], [1, 2, 3]);
      const y = gridSample(x, affineGrid(flip, [1, 2, 4, 6]));
      expectClose(y.toArray(), x.flip(3).toArray(), 1e-5);
      // shifting by a whole image width samples outside: zeros (border padding repeats the edge)
      const far = fromArray([1, 0, 4, 0, 1, 0], [1, 2, 3]);
      expect(gridSample(x, affineGrid(far, [1, 2, 4, 6])).toArray().every((v) => v === 0)).toBe(true);
      const border = gridSample(x, affineGrid(far, [1, 2, 4, 6]), { padding: 'border' });
      const lastCol = x.narrow(3, 5, 1).expand([1, 2, 4, 6]);
      expectClose(border.toArray(), lastCol.toArray(), 1e-5);
    });
  });
});

describe('correctCount / accuracy', () => {
  test('counts argmax hits', () => {
    tidy(() => {
      const logits = fromArray([0.1, 0.9, 0.8, 0.2, 0.3, 0.7, 5, -5], [4, 2]);
      const target = fromArray([1, 1, 1, 0], [4], 'int64');
      const c = correctCount(logits, target);
      expect(c.dtype).toBe('int64');
      expect(c.shape).toEqual([]);
      expect(c.item()).toBe(3);
      expect(accuracy(logits, target)).toBe(0.75);
      expect(accuracy(logits, fromArray([0, 0, 0, 1], [4], 'int64'))).toBe(0.25);
      expect(accuracy(zeros([0, 2]), zeros([0], { dtype: 'int64' }))).toBe(0);
    });
  });
});
