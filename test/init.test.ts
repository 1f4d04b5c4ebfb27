/**
 * Weight initialisation: the bounds and standard deviations of each scheme on
 * a large weight, zero biases, and reproducibility from the seed.
 */
import { liveTensors } from '../lib/backend';
import { manualSeed, zeros } from '../lib/creation';
import { InvalidArgumentError } from '../lib/errors';
import { fans, initWeight, INITS } from '../lib/init';
import { buildNetwork } from '../lib/model/network';
import { tidy } from '../lib/scope';
import { Tensor } from '../lib/tensor';
import { MODELS } from '../models';

/** A conv weight of 1.18M values: Cout 512, Cin 256, 3x3, so fan_in 2304 and fan_out 4608. */
const SHAPE = [512, 256, 3, 3];
const FAN_IN = 256 * 9;
const FAN_OUT = 512 * 9;

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  return tidy(() => {
    const d = t.to({ dtype: 'float64' });
    return { mean: d.mean().item(), std: d.std(undefined, { unbiased: false }).item(), min: d.min().item(), max: d.max().item() };
  });
}

/** Fills a fresh weight of SHAPE with `init` from seed 0 and returns its statistics. */
function sample(o: Parameters<typeof initWeight>[1], shape = SHAPE) {
  return tidy(() => {
    manualSeed(0);
    const w = zeros(shape);
    initWeight(w, o);
    return stats(w);
  });
}

describe('fans', () => {
  test('count the receptive field', () => {
    expect(fans(SHAPE)).toEqual({ fanIn: FAN_IN, fanOut: FAN_OUT });
    expect(fans([10, 192])).toEqual({ fanIn: 192, fanOut: 10 });
    expect(fans([96, 3, 5, 5])).toEqual({ fanIn: 75, fanOut: 2400 });
    expect(fans([10, 192, 1, 1])).toEqual({ fanIn: 192, fanOut: 10 });
  });
});

describe('initWeight', () => {
  const xavierStd = Math.sqrt(2 / (FAN_IN + FAN_OUT));

  test('xavier-uniform (the default): U(-b, b) with b = sqrt(6/(fanIn+fanOut)), std sqrt(2/(fanIn+fanOut))', () => {
    const bound = Math.sqrt(6 / (FAN_IN + FAN_OUT));
    for (const s of [sample({ init: 'xavier-uniform' }), sample({})]) {
      expect(s.min).toBeGreaterThanOrEqual(-bound);
      expect(s.max).toBeLessThanOrEqual(bound);
      // 1.18M draws reach the ends of the interval
      expect(s.min).toBeLessThan(-0.999 * bound);
      expect(s.max).toBeGreaterThan(0.999 * bound);
      expect(Math.abs(s.mean)).toBeLessThan(0.005 * bound);
      expect(s.std / xavierStd).toBeCloseTo(1, 2);
    }
  });

  test('xavier-normal: std sqrt(2/(fanIn+fanOut))', () => {
    const s = sample({ init: 'xavier-normal' });
    expect(s.std / xavierStd).toBeCloseTo(1, 2);
    expect(Math.abs(s.mean)).toBeLessThan(0.005 * xavierStd);
    // unbounded: a normal sample of this size exceeds 4 sigma
    expect(s.max).toBeGreaterThan(4 * xavierStd);
  });

  test('kaiming-normal: std sqrt(2/fanIn)', () => {
    const s = sample({ init: 'kaiming-normal' });
    expect(s.std / Math.sqrt(2 / FAN_IN)).toBeCloseTo(1, 2);
    expect(Math.abs(s.mean)).toBeLessThan(0.005 * Math.sqrt(2 / FAN_IN));
  });

  test('kaiming-uniform: U(-b, b) with b = sqrt(6/fanIn), std sqrt(2/fanIn)', () => {
    const bound = Math.sqrt(6 / FAN_IN);
    const s = sample({ init: 'kaiming-uniform' });
    expect(s.min).toBeGreaterThanOrEqual(-bound);
    expect(s.max).toBeLessThanOrEqual(bound);
    expect(s.max).toBeGreaterThan(0.999 * bound);
    expect(s.std / Math.sqrt(2 / FAN_IN)).toBeCloseTo(1, 2);
  });

  test('gaussian: std 0.01 by default, or the given std', () => {
    expect(sample({ init: 'gaussian' }).std / 0.01).toBeCloseTo(1, 2);
    const s = sample({ init: 'gaussian', std: 0.05 });
    expect(s.std / 0.05).toBeCloseTo(1, 2);
    expect(Math.abs(s.mean)).toBeLessThan(0.0005);
  });

  test('a fully connected weight [out, in] uses in and out as the fans', () => {
    const s = sample({ init: 'xavier-uniform' }, [1000, 3000]);
    expect(s.max).toBeLessThanOrEqual(Math.sqrt(6 / 4000));
    expect(s.std / Math.sqrt(2 / 4000)).toBeCloseTo(1, 2);
  });

  test('every scheme is listed and an unknown one is refused', () => {
    expect([...INITS]).toEqual(['xavier-uniform', 'xavier-normal', 'kaiming-uniform', 'kaiming-normal', 'gaussian']);
    const w = zeros([4, 4]);
    try {
      expect(() => initWeight(w, { init: 'he' as never })).toThrow(InvalidArgumentError);
      expect(() => initWeight(w, { init: 'he' as never })).toThrow(
        'Expected one of xavier-uniform, xavier-normal, kaiming-uniform, kaiming-normal, gaussian for init but received "he" of type string',
      );
      expect(w.toArray()).toEqual(new Array(16).fill(0));
    } finally {
      w.dispose();
    }
  });

  test('fills in place without recording a gradient, even on a parameter', () => {
    const w = zeros([64, 32]).requiresGrad_(true);
    try {
      initWeight(w);
      expect(w.requiresGrad).toBe(true);
      expect(w.grad).toBeNull();
      expect(tidy(() => w.abs().sum().item())).toBeGreaterThan(0);
    } finally {
      w.dispose();
    }
  });
});

describe('buildNetwork', () => {
  test.each(INITS)('init %s: biases are zero and weights follow the scheme', (init) => {
    const base = liveTensors();
    const net = buildNetwork(MODELS['all-cnn-c'], { init, ...(init === 'gaussian' ? { initStd: 0.02 } : {}), seed: 3 });
    try {
      for (const [name, t] of net.parameters) {
        const s = stats(t);
        if (name.endsWith('.bias')) {
          expect(s.min).toBe(0);
          expect(s.max).toBe(0);
        } else {
          expect(s.std).toBeGreaterThan(0);
        }
      }
      // the largest weight: conv5, 192 x 192 x 3 x 3
      const w = net.parameters.get('conv5.weight')!;
      expect(w.shape).toEqual([192, 192, 3, 3]);
      const { fanIn, fanOut } = fans(w.shape);
      const expected = {
        'xavier-uniform': Math.sqrt(2 / (fanIn + fanOut)),
        'xavier-normal': Math.sqrt(2 / (fanIn + fanOut)),
        'kaiming-uniform': Math.sqrt(2 / fanIn),
        'kaiming-normal': Math.sqrt(2 / fanIn),
        gaussian: 0.02,
      }[init];
      expect(stats(w).std / expected).toBeCloseTo(1, 1);
    } finally {
      net.dispose();
    }
    expect(liveTensors()).toBe(base);
  });

  test('the same seed gives identical weights; another seed different ones', () => {
    const a = buildNetwork(MODELS.c, { seed: 9 });
    const b = buildNetwork(MODELS.c, { seed: 9 });
    const c = buildNetwork(MODELS.c, { seed: 10 });
    try {
      for (const [name, t] of a.parameters) {
        const same = tidy(() => t.sub(b.parameters.get(name)!).abs().max().item());
        expect(same).toBe(0);
        if (name.endsWith('.weight')) {
          const other = tidy(() => t.sub(c.parameters.get(name)!).abs().max().item());
          expect(other).toBeGreaterThan(0);
        }
      }
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });

  test('the default seed is 0, and building does not depend on the generator state before it', () => {
    manualSeed(777);
    const a = buildNetwork(MODELS.a);
    const b = buildNetwork(MODELS.a, { seed: 0 });
    try {
      for (const [name, t] of a.parameters) expect(tidy(() => t.sub(b.parameters.get(name)!).abs().max().item())).toBe(0);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
