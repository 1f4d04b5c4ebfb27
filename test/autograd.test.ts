/**
 * Autograd: the grad API, grad mode, and gradients of the functional ops
 * checked against central finite differences in float64.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { noGrad } from '../lib/autograd';
import { fromArray, manualSeed, randn } from '../lib/creation';
import { conv2d, crossEntropy, linear, maxPool2d } from '../lib/functional';
import { tidy } from '../lib/scope';
import { Tensor } from '../lib/tensor';

describe('grad API', () => {
  test('requiresGrad_, backward, grad accumulates, zeroGrad resets', () => {
    tidy(() => {
      const x = fromArray([1, 2, 3], [3], 'float64');
      expect(x.requiresGrad).toBe(false);
      expect(x.requiresGrad_()).toBe(x);
      expect(x.requiresGrad).toBe(true);
      expect(x.grad).toBeNull();
      const y = x.mul(x).sum(); // dy/dx = 2x
      expect(y.requiresGrad).toBe(true);
      y.backward();
      expect(x.grad!.toArray()).toEqual([2, 4, 6]);
      // a second backward accumulates
      x.mul(x).sum().backward();
      expect(x.grad!.toArray()).toEqual([4, 8, 12]);
      x.zeroGrad();
      expect(x.grad).toBeNull();
      x.mul(3).sum().backward();
      expect(x.grad!.toArray()).toEqual([3, 3, 3]);
      x.requiresGrad_(false);
      expect(x.requiresGrad).toBe(false);
    });
  });

  test('backward with an explicit gradient for a non-scalar output', () => {
    tidy(() => {
      const x = fromArray([1, 2], [2], 'float64').requiresGrad_();
      const y = x.pow(3); // dy/dx = 3x^2
      y.backward(fromArray([1, 10], [2], 'float64'));
      expect(x.grad!.toArray()).toEqual([3, 120]);
      expect(() => x.pow(2).backward()).toThrow(/grad can be implicitly created only for scalar outputs/);
    });
  });

  test("a non-leaf's grad is null, as in PyTorch, without LibTorch's warning about retain_grad() (which this API has not)", () => {
    const script = `const a = require(${JSON.stringify(path.resolve(__dirname, '../lib'))});
      const x = a.ones([2]).requiresGrad_();
      const y = x.mul(2);
      y.sum().backward();
      y.zeroGrad();
      console.log(JSON.stringify([y.grad, x.grad.toArray()]));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('[null,[2,2]]');
    expect(r.stderr).toBe(''); // zeroGrad() of a non-leaf printed the warning too
  });

  test("only a leaf's requiresGrad can be turned off, as in PyTorch (a non-leaf's stayed on without a word)", () => {
    tidy(() => {
      const x = fromArray([1, 2]).requiresGrad_();
      const y = x.mul(2);
      expect(() => y.requiresGrad_(false)).toThrow("only a leaf tensor's requiresGrad can be changed: detach() gives a non-leaf's values without a gradient");
      expect(y.detach().requiresGrad).toBe(false);
      x.requiresGrad_(false);
      expect(x.requiresGrad).toBe(false);
    });
  });

  test('detach cuts the graph and shares data', () => {
    tidy(() => {
      const x = fromArray([1, 2], [2], 'float64').requiresGrad_();
      const y = x.mul(2);
      const d = y.detach();
      expect(d.requiresGrad).toBe(false);
      expect(d.toArray()).toEqual([2, 4]);
      // only the non-detached branch contributes
      y.add(d.mul(100)).sum().backward();
      expect(x.grad!.toArray()).toEqual([2, 2]);
    });
  });

  test('noGrad turns recording off, returns the value, and restores the mode (even after a throw)', () => {
    tidy(() => {
      const x = fromArray([1, 2], [2]).requiresGrad_();
      const inside = noGrad(() => x.mul(2));
      expect(inside.requiresGrad).toBe(false);
      expect(inside.toArray()).toEqual([2, 4]);
      expect(x.mul(2).requiresGrad).toBe(true);
      // nested noGrad keeps it off until the outer one ends
      noGrad(() => {
        noGrad(() => undefined);
        expect(x.mul(2).requiresGrad).toBe(false);
      });
      expect(x.mul(2).requiresGrad).toBe(true);
      expect(() => noGrad(() => { throw new Error('boom'); })).toThrow('boom');
      expect(x.mul(2).requiresGrad).toBe(true);
      // an in-place update of a leaf is allowed under noGrad only
      expect(() => x.add_(1)).toThrow(/leaf Variable that requires grad/);
      noGrad(() => x.add_(1));
      expect(x.toArray()).toEqual([2, 3]);
    });
  });
});

// ---- finite differences ----------------------------------------------------

/**
 * Checks d loss / d input for each input against central differences.
 * `loss` builds a scalar from the inputs; each input is float64.
 */
function checkGradients(inputs: Tensor[], loss: (xs: Tensor[]) => Tensor, h = 1e-6, rtol = 1e-6): void {
  tidy(() => {
    for (const x of inputs) {
      x.zeroGrad();
      x.requiresGrad_(true);
    }
    loss(inputs).backward();
    const analytic = inputs.map((x) => x.grad!.toArray());
    for (const x of inputs) x.requiresGrad_(false);
    const f = (): number => tidy(() => loss(inputs).item());
    inputs.forEach((x, k) => {
      const flat = x.view([-1]);
      const n = x.numel;
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const e = flat.narrow(0, i, 1);
        const orig = e.item();
        e.fill_(orig + h);
        const up = f();
        e.fill_(orig - h);
        const down = f();
        e.fill_(orig);
        const numeric = (up - down) / (2 * h);
        const a = analytic[k][i];
        const err = Math.abs(a - numeric) / Math.max(1, Math.abs(numeric));
        worst = Math.max(worst, err);
        if (!(err <= rtol)) {
          throw new Error(`input ${k}, element ${i}: analytic ${a}, numeric ${numeric} (relative error ${err})`);
        }
      }
      expect(worst).toBeLessThanOrEqual(rtol);
    });
  });
}

/** A fixed random projection turns any output into a scalar with a non-trivial gradient. */
function project(y: Tensor, seed: number): Tensor {
  manualSeed(seed);
  const r = randn(y.shape, { dtype: 'float64' });
  return y.mul(r).sum();
}

const f64 = (shape: number[]) => randn(shape).to({ dtype: 'float64' });

describe('gradients against central finite differences (float64)', () => {
  test('conv2d: input, weight and bias (stride 2, padding 1)', () => {
    tidy(() => {
      manualSeed(1);
      const x = f64([2, 2, 5, 5]);
      const w = f64([3, 2, 3, 3]);
      const b = f64([3]);
      checkGradients([x, w, b], ([x, w, b]) => project(conv2d(x, w, b, { stride: 2, padding: 1 }), 100));
    });
  });

  test('conv2d: dilation and groups', () => {
    tidy(() => {
      manualSeed(2);
      const x = f64([1, 4, 6, 6]);
      const w = f64([4, 2, 2, 2]);
      checkGradients([x, w], ([x, w]) => project(conv2d(x, w, null, { dilation: 2, groups: 2 }), 101));
    });
  });

  test('linear: input, weight and bias', () => {
    tidy(() => {
      manualSeed(3);
      const x = f64([3, 4]);
      const w = f64([2, 4]);
      const b = f64([2]);
      checkGradients([x, w, b], ([x, w, b]) => project(linear(x, w, b), 102));
    });
  });

  test('crossEntropy: logits (plain and with label smoothing); the gradient is (softmax - onehot) / N', () => {
    tidy(() => {
      manualSeed(4);
      const logits = f64([5, 4]);
      const target = fromArray([0, 3, 1, 1, 2], [5], 'int64');
      checkGradients([logits], ([z]) => crossEntropy(z, target));
      checkGradients([logits], ([z]) => crossEntropy(z, target, { labelSmoothing: 0.2 }));

      // closed form
      logits.zeroGrad();
      logits.requiresGrad_(true);
      crossEntropy(logits, target).backward();
      const g = logits.grad!.toArray();
      const z = logits.toArray();
      const t = [0, 3, 1, 1, 2];
      for (let i = 0; i < 5; i++) {
        const row = z.slice(4 * i, 4 * i + 4);
        const m = Math.max(...row);
        const e = row.map((v) => Math.exp(v - m));
        const s = e.reduce((a, v) => a + v, 0);
        for (let k = 0; k < 4; k++) {
          expect(g[4 * i + k]).toBeCloseTo((e[k] / s - (k === t[i] ? 1 : 0)) / 5, 12);
        }
      }
      logits.requiresGrad_(false);
    });
  });

  test('maxPool2d: non-overlapping and overlapping windows', () => {
    tidy(() => {
      manualSeed(5);
      // distinct values, far apart compared with h, so no ties flip under the perturbation
      const x = randn([1, 2, 6, 6]).to({ dtype: 'float64' });
      checkGradients([x], ([x]) => project(maxPool2d(x, 2), 103));
      checkGradients([x], ([x]) => project(maxPool2d(x, 3, { stride: 1, padding: 1 }), 104));
      // the gradient of a sum of 2x2 maxima is 1 at each argmax, 0 elsewhere
      const y = fromArray([1, 9, 2, 3, 4, 5, 8, 6, 7, 0, 1, 2, 3, 4, 5, 6], [1, 1, 4, 4], 'float64').requiresGrad_();
      maxPool2d(y, 2).sum().backward();
      expect(y.grad!.toArray()).toEqual([0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    });
  });

  test('a composite: conv -> relu -> maxpool -> linear -> crossEntropy', () => {
    tidy(() => {
      manualSeed(6);
      const x = f64([2, 1, 6, 6]);
      const w1 = f64([3, 1, 3, 3]);
      const w2 = f64([4, 12]);
      const target = fromArray([1, 3], [2], 'int64');
      checkGradients([x, w1, w2], ([x, w1, w2]) => {
        const h = maxPool2d(conv2d(x, w1, null, { padding: 1 }).relu(), 3); // [2,3,2,2]
        return crossEntropy(linear(h.reshape([2, 12]), w2), target);
      });
    });
  });
});
