/**
 * Learning-rate schedules (pure functions of the fractional epoch) and the
 * SGD optimiser against hand computations; the native step's two ways of
 * doing the same update against each other.
 */
import { liveTensors } from '../lib/backend';
import { fromArray, manualSeed, randint, randn } from '../lib/creation';
import { InvalidArgumentError } from '../lib/errors';
import { buildNetwork } from '../lib/model/network';
import { declareNetwork } from '../lib/model/spec';
import { native } from '../lib/native';
import { dispose, tidy } from '../lib/scope';
import { Tensor } from '../lib/tensor';
import { SGD } from '../lib/train/optim';
import { learningRate, PAPER_DECAY, PAPER_MILESTONES, SCHEDULES } from '../lib/train/schedule';

/** Relative closeness for rates that span several orders of magnitude. */
function expectRate(actual: number, expected: number): void {
  if (expected === 0) expect(Math.abs(actual)).toBeLessThan(1e-12);
  else expect(Math.abs(actual - expected) / expected).toBeLessThan(1e-12);
}

describe("learningRate: 'paper'", () => {
  const paper = (epochs: number, base = 0.1) => (epoch: number) => learningRate(epoch, { name: 'paper', baseLr: base, epochs });

  test('350 epochs: x0.1 after epochs 200, 250 and 300', () => {
    const lr = paper(350);
    expectRate(lr(0), 0.1);
    expectRate(lr(100.5), 0.1);
    expectRate(lr(199.9), 0.1);
    expectRate(lr(199.999), 0.1);
    expectRate(lr(200), 0.01);
    expectRate(lr(220), 0.01);
    expectRate(lr(249.99), 0.01);
    expectRate(lr(250), 0.001);
    expectRate(lr(299.99), 0.001);
    expectRate(lr(300), 0.0001);
    expectRate(lr(349.99), 0.0001);
    expect(PAPER_MILESTONES.map((m) => Math.round(m * 350))).toEqual([200, 250, 300]);
    expect(PAPER_DECAY).toBe(0.1);
  });

  test('other bases scale the same way', () => {
    const lr = paper(350, 0.25);
    expectRate(lr(199.9), 0.25);
    expectRate(lr(200), 0.025);
    expectRate(lr(250), 0.0025);
    expectRate(lr(300), 0.00025);
  });

  test('35 epochs: the milestones scale proportionally to 20, 25 and 30', () => {
    const lr = paper(35, 0.05);
    expectRate(lr(19.99), 0.05);
    expectRate(lr(20), 0.005);
    expectRate(lr(24.9), 0.005);
    expectRate(lr(25), 0.0005);
    expectRate(lr(29.9), 0.0005);
    expectRate(lr(30), 0.00005);
    expectRate(lr(34.99), 0.00005);
  });

  test('70 epochs: 40, 50 and 60; 10 epochs: rounded milestones 6, 7, 9', () => {
    const lr70 = paper(70);
    expectRate(lr70(39.9), 0.1);
    expectRate(lr70(40), 0.01);
    expectRate(lr70(50), 0.001);
    expectRate(lr70(60), 0.0001);
    const lr10 = paper(10);
    expect([5.9, 6, 6.9, 7, 8.9, 9].map(lr10).map((v) => Number(v.toPrecision(6)))).toEqual([0.1, 0.01, 0.01, 0.001, 0.001, 0.0001]);
  });

  test('is non-increasing over the run', () => {
    const lr = paper(350);
    let previous = Infinity;
    for (let e = 0; e < 350; e += 0.25) {
      const v = lr(e);
      expect(v).toBeLessThanOrEqual(previous);
      previous = v;
    }
  });
});

describe("learningRate: 'cosine', 'constant' and warm-up", () => {
  test('cosine: base at 0, half at the midpoint, 0 at the end (and after)', () => {
    const s = { name: 'cosine' as const, baseLr: 0.2, epochs: 100 };
    expectRate(learningRate(0, s), 0.2);
    expectRate(learningRate(50, s), 0.1);
    expectRate(learningRate(25, s), 0.2 * 0.5 * (1 + Math.cos(Math.PI / 4)));
    expectRate(learningRate(75, s), 0.2 * 0.5 * (1 - Math.cos(Math.PI / 4)));
    expect(learningRate(100, s)).toBeCloseTo(0, 15);
    expect(learningRate(120, s)).toBeCloseTo(0, 15);
    // symmetric about the midpoint: lr(50 - d) + lr(50 + d) = base
    for (const d of [1, 10, 33.3]) expect(learningRate(50 - d, s) + learningRate(50 + d, s)).toBeCloseTo(0.2, 12);
  });

  test('constant: the base rate throughout', () => {
    for (const e of [0, 1.5, 199, 200, 349]) expect(learningRate(e, { name: 'constant', baseLr: 0.05, epochs: 350 })).toBe(0.05);
  });

  test('warm-up: linear from 0 to the base over warmupEpochs, then the schedule', () => {
    const s = { name: 'constant' as const, baseLr: 0.1, epochs: 30, warmupEpochs: 5 };
    expect(learningRate(0, s)).toBe(0);
    expectRate(learningRate(1, s), 0.02);
    expectRate(learningRate(2.5, s), 0.05);
    expectRate(learningRate(4.9, s), 0.098);
    expectRate(learningRate(5, s), 0.1);
    expectRate(learningRate(20, s), 0.1);
    // it multiplies the schedule proper
    const c = { name: 'cosine' as const, baseLr: 0.1, epochs: 10, warmupEpochs: 2 };
    expectRate(learningRate(1, c), 0.1 * 0.5 * (1 + Math.cos(Math.PI / 10)) * 0.5);
    const p = { name: 'paper' as const, baseLr: 0.1, epochs: 35, warmupEpochs: 1 };
    expectRate(learningRate(0.5, p), 0.05);
    expectRate(learningRate(20, p), 0.01);
    // A step trains at the rate where its share of the ramp ends, so none trains at 0 (the ramp's start
    // used to be (0 + 1e-9) / warm: with one step per epoch, a whole epoch at lr 1e-11).
    const steps = { name: 'constant' as const, baseLr: 0.1, epochs: 30, warmupEpochs: 5, stepEpochs: 0.25 };
    expectRate(learningRate(0, steps), 0.1 * 0.25 / 5); // step 1 of the 20 of the warm-up
    expectRate(learningRate(1.5, steps), 0.1 * 1.75 / 5);
    expectRate(learningRate(4.75, steps), 0.1); // the last step of the warm-up reaches the base
    const once = { name: 'cosine' as const, baseLr: 0.1, epochs: 2, warmupEpochs: 1, stepEpochs: 1 };
    expectRate(learningRate(0, once), 0.1); // a 1-step warm-up: the step ends at its top
    expectRate(learningRate(1, once), 0.1 * 0.5 * (1 + Math.cos(Math.PI / 2)));
    // stepEpochs moves only the warm-up, not the schedule proper: the paper's cut at epoch 20 of 35 is where it was
    expectRate(learningRate(19.5, { ...p, stepEpochs: 0.5 }), 0.1);
    expect(() => learningRate(0, { ...s, stepEpochs: 2 })).toThrow('Expected a number in [0, 1] for stepEpochs but received 2');
    // no warm-up: exactly the schedule
    expect(learningRate(0, { name: 'paper', baseLr: 0.1, epochs: 35, warmupEpochs: 0 })).toBe(0.1);
  });

  test('unknown schedules and negative rates are refused', () => {
    expect([...SCHEDULES]).toEqual(['paper', 'cosine', 'constant']);
    expect(() => learningRate(0, { name: 'step' as never, baseLr: 0.1, epochs: 10 })).toThrow(InvalidArgumentError);
    expect(() => learningRate(0, { name: 'step' as never, baseLr: 0.1, epochs: 10 })).toThrow(
      'Expected one of paper, cosine, constant for schedule but received "step" of type string',
    );
    expect(() => learningRate(0, { name: 'paper', baseLr: -0.1, epochs: 10 })).toThrow(InvalidArgumentError);
    // epochs 0 gave NaN for cosine; a NaN epoch the base rate; negative warm-ups were taken.
    expect(() => learningRate(0, { name: 'cosine', baseLr: 0.1, epochs: 0 })).toThrow('Expected a number in [1, Infinity] for epochs but received 0');
    expect(() => learningRate(NaN, { name: 'paper', baseLr: 0.1, epochs: 10 })).toThrow('for epoch but received NaN');
    expect(() => learningRate(-1, { name: 'paper', baseLr: 0.1, epochs: 10 })).toThrow('for epoch but received -1');
    expect(() => learningRate(0, { name: 'paper', baseLr: 0.1, epochs: 10, warmupEpochs: -1 })).toThrow('for warmupEpochs but received -1');
  });
});

// ---------------------------------------------------------------------------
describe('SGD', () => {
  /** Sets p.grad to g by back-propagating sum(p * g). */
  function setGrad(p: Tensor, g: number[]): void {
    tidy(() => p.mul(fromArray(Float64Array.from(g), p.shape)).sum().backward());
  }
  const f64 = (v: number[]) => fromArray(Float64Array.from(v)).requiresGrad_(true);

  /** The update by hand: d = g + wd*w; v = m*v + d; w -= lr*v (or lr*(d + m*v) with Nesterov). */
  function reference(w: number[], grads: number[][], lrs: number[], m: number, wd: number, nesterov = false): { w: number[]; v: number[] } {
    let v = w.map(() => 0);
    let x = w.slice();
    grads.forEach((g, step) => {
      const d = g.map((gi, i) => gi + wd * x[i]);
      v = v.map((vi, i) => m * vi + d[i]);
      x = x.map((xi, i) => xi - lrs[step] * (nesterov ? d[i] + m * v[i] : v[i]));
    });
    return { w: x, v };
  }

  test('two steps with momentum and weight decay match the hand computation', () => {
    const base = liveTensors();
    const w0 = [0.5, -1.25, 2, 0];
    const grads = [[0.1, 0.2, -0.3, 0.4], [-0.5, 0.25, 0.125, 1]];
    const lrs = [0.1, 0.05];
    const p = f64(w0);
    const sgd = new SGD([p], { momentum: 0.9, weightDecay: 0.01 });
    try {
      for (let s = 0; s < 2; s++) {
        sgd.zeroGrad();
        setGrad(p, grads[s]);
        sgd.step(lrs[s]);
      }
      const expected = reference(w0, grads, lrs, 0.9, 0.01);
      // the numbers written out for step 1: d = g + 0.01 w, v = d, w -= 0.1 v
      const d1 = [0.1 + 0.005, 0.2 - 0.0125, -0.3 + 0.02, 0.4];
      const w1 = w0.map((x, i) => x - 0.1 * d1[i]);
      const d2 = grads[1].map((g, i) => g + 0.01 * w1[i]);
      const v2 = d1.map((v, i) => 0.9 * v + d2[i]);
      const w2 = w1.map((x, i) => x - 0.05 * v2[i]);
      const got = p.toArray();
      got.forEach((v, i) => {
        expect(v).toBeCloseTo(w2[i], 12);
        expect(v).toBeCloseTo(expected.w[i], 12);
      });
      sgd.momentumBuffers[0].toArray().forEach((v, i) => expect(v).toBeCloseTo(v2[i], 12));
      expect(p.requiresGrad).toBe(true);
    } finally {
      sgd.dispose();
      p.dispose();
    }
    expect(liveTensors()).toBe(base);
  });

  test('Nesterov, and no momentum / no weight decay', () => {
    const w0 = [1, -2, 3];
    const grads = [[0.3, -0.1, 0.2], [0.1, 0.1, -0.4], [0, 1, 0]];
    const lrs = [0.1, 0.1, 0.01];
    for (const [m, wd, nesterov] of [[0.9, 0.001, true], [0, 0, false], [0.5, 0, false], [0, 0.1, false]] as Array<[number, number, boolean]>) {
      const p = f64(w0);
      const sgd = new SGD([p], { momentum: m, weightDecay: wd, nesterov });
      try {
        grads.forEach((g, s) => {
          sgd.zeroGrad();
          setGrad(p, g);
          sgd.step(lrs[s]);
        });
        const expected = reference(w0, grads, lrs, m, wd, nesterov);
        p.toArray().forEach((v, i) => expect(v).toBeCloseTo(expected.w[i], 12));
      } finally {
        sgd.dispose();
        p.dispose();
      }
    }
  });

  test("the paper's defaults: momentum 0.9, weight decay 0.001", () => {
    const p = f64([1]);
    const sgd = new SGD([p]);
    try {
      expect(sgd.momentum).toBe(0.9);
      expect(sgd.weightDecay).toBe(0.001);
      expect(sgd.nesterov).toBe(false);
      expect(sgd.momentumBuffers[0].dtype).toBe('float64');
      expect(sgd.momentumBuffers[0].shape).toEqual([1]);
    } finally {
      sgd.dispose();
      p.dispose();
    }
  });

  test('frozen parameters (no gradient) are untouched, weight decay included; so are their velocities', () => {
    const trained = f64([1, 2]);
    const frozen = f64([3, 4]);
    const unused = f64([5, 6]); // requires grad but takes no part in the loss
    const sgd = new SGD([trained, frozen, unused], { momentum: 0.9, weightDecay: 0.1 });
    try {
      // a first step with all three, so the frozen one has a velocity and a stale gradient
      sgd.zeroGrad();
      setGrad(trained, [1, 1]);
      setGrad(frozen, [1, 1]);
      sgd.step(0.1);
      const frozenAfterFirst = frozen.toArray();
      const velocityAfterFirst = sgd.momentumBuffers[1].toArray();
      frozen.requiresGrad_(false);
      for (let s = 0; s < 3; s++) {
        sgd.zeroGrad();
        setGrad(trained, [1, -1]);
        sgd.step(0.1);
      }
      expect(frozen.toArray()).toEqual(frozenAfterFirst);
      expect(sgd.momentumBuffers[1].toArray()).toEqual(velocityAfterFirst);
      expect(unused.toArray()).toEqual([5, 6]);
      expect(sgd.momentumBuffers[2].toArray()).toEqual([0, 0]);
      expect(trained.toArray()).not.toEqual([1, 2]);
      expect(frozen.grad).toBeNull();
    } finally {
      sgd.dispose();
      dispose([trained, frozen, unused]);
    }
  });

  test('zeroGrad clears the gradients; a step without gradients changes nothing', () => {
    const p = f64([1, 2, 3]);
    const sgd = new SGD([p], { momentum: 0.9, weightDecay: 0.5 });
    try {
      setGrad(p, [1, 1, 1]);
      tidy(() => expect(p.grad!.toArray()).toEqual([1, 1, 1]));
      sgd.zeroGrad();
      expect(p.grad).toBeNull();
      sgd.step(1);
      expect(p.toArray()).toEqual([1, 2, 3]);
    } finally {
      sgd.dispose();
      p.dispose();
    }
  });

  test('bad options are refused', () => {
    const p = f64([1]);
    try {
      expect(() => new SGD([p], { momentum: 1.5 })).toThrow(InvalidArgumentError);
      expect(() => new SGD([p], { momentum: -0.1 })).toThrow(InvalidArgumentError);
      expect(() => new SGD([p], { weightDecay: -1 })).toThrow(InvalidArgumentError);
      expect(() => new SGD([p], { momentm: 0.5 } as never)).toThrow('Expected one of momentum, weightDecay, nesterov for options key but received "momentm"');
      expect(() => new SGD([p], { lr: 0.1 } as never)).toThrow('SGD takes the learning rate in step(lr)');
      expect(() => new SGD([p], { nesterov: 1 } as never)).toThrow('Expected true or false for nesterov but received 1 of type number');
    } finally {
      p.dispose();
    }
  });
});

// ---------------------------------------------------------------------------
describe("the native step's update: _foreach ops (foreachSgd) against one parameter at a time", () => {
  const spec = declareNetwork('Update', 'two convolutions and a 1x1 classifier', ['conv 3x3 8 relu', 'conv 3x3 8 /2 relu', 'conv 1x1 classes', 'gap', 'softmax']);

  /** Four native steps at rising learning rates; the weights and velocities after them. */
  function train(foreachSgd: boolean, o: { nesterov: boolean; weightDecay: number; scales: boolean; freeze: boolean }): number[][] {
    const network = buildNetwork(spec, { seed: 3 });
    if (o.freeze) network.freeze((name) => name === 'conv2.bias');
    const names = [...network.parameters.keys()];
    const sgd = new SGD(network.parameterList(), { momentum: 0.9, weightDecay: o.weightDecay, nesterov: o.nesterov });
    const net = native().net_create(network.nativeProgram(), network.parameterList().map((p) => p.handle), sgd.momentumBuffers.map((b) => b.handle), [], {
      momentum: 0.9, weightDecay: o.weightDecay, nesterov: o.nesterov, labelSmoothing: 0, channelsLast: false, autocast: null,
      // two groups, as fine-tuning makes them: the first layer at a tenth of the rate
      lrScales: o.scales ? names.map((n) => (n.startsWith('conv1.') ? 0.1 : 1)) : undefined,
      foreachSgd,
    });
    manualSeed(5);
    const x = randn([6, 3, 8, 8]);
    const y = randint(0, 10, [6]);
    try {
      for (let i = 0; i < 4; i++) native().net_train_step_sync(net, x.handle, y.handle, 0.05 * (i + 1));
      native().net_take_metrics(net);
      return [...names.map((n) => network.parameters.get(n)!.toArray()), ...sgd.momentumBuffers.map((b) => b.toArray())];
    } finally {
      native().net_release(net);
      dispose([x, y]);
      sgd.dispose();
      network.dispose();
    }
  }

  const cases = [
    { nesterov: false, weightDecay: 0.001, scales: false, freeze: false },
    { nesterov: true, weightDecay: 0.01, scales: true, freeze: true },
    { nesterov: false, weightDecay: 0, scales: true, freeze: false },
  ];
  test.each(cases)('the same weights and velocities, bit for bit: %o', (o) => {
    const base = liveTensors();
    const loop = train(false, o);
    const foreach = train(true, o);
    expect(foreach).toEqual(loop);
    // and the steps did train: every weight moved but the frozen bias, which has no velocity either
    const start = buildNetwork(spec, { seed: 3 });
    try {
      [...start.parameters.values()].forEach((p, k) => {
        if (o.freeze && k === 3) {
          expect(loop[k]).toEqual(p.toArray());
          expect(loop[k + start.parameters.size].every((v) => v === 0)).toBe(true);
        } else {
          expect(loop[k]).not.toEqual(p.toArray());
        }
      });
    } finally {
      start.dispose();
    }
    expect(liveTensors()).toBe(base);
  });
});
