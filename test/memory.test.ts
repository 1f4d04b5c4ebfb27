/**
 * Lifetimes: dispose(), tidy(), keep(), and that a long training-like loop
 * neither leaks tensor handles nor grows the process.
 */
import { liveTensors, memory } from '../lib/backend';
import { fromArray, manualSeed, ones, randint, randn, zeros } from '../lib/creation';
import { conv2d, crossEntropy, globalAvgPool, maxPool2d } from '../lib/functional';
import { native } from '../lib/native';
import { dispose, keep, scopeDepth, tidy } from '../lib/scope';
import { Tensor } from '../lib/tensor';
import { noGrad } from '../lib/autograd';

const DISPOSED = 'This Tensor was disposed (by dispose() or by the tidy() scope it was made in); keep() it to use it later';
const cpuBytes = (): number => memory().live.cpu?.bytes ?? 0;

describe('dispose', () => {
  test('frees at once and is idempotent', () => {
    const base = liveTensors();
    const t = zeros([1000]);
    expect(liveTensors()).toBe(base + 1);
    expect(t.isDisposed).toBe(false);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(liveTensors()).toBe(base);
    t.dispose();
    t.dispose();
    expect(liveTensors()).toBe(base);
    expect(t.isDisposed).toBe(true);
  });

  test('live bytes follow the tensors', () => {
    const before = cpuBytes();
    const t = zeros([256], { dtype: 'float64' });
    expect(cpuBytes()).toBe(before + 256 * 8);
    t.dispose();
    expect(cpuBytes()).toBe(before);
  });

  test('a view counts no more bytes than its storage holds (an expanded 1e12-element view is 4 bytes, not 4 TB)', () => {
    const before = cpuBytes();
    const z = zeros([1]);
    const e = z.expand([1e12]);
    expect(cpuBytes()).toBe(before + 8);
    const whole = zeros([1000]);
    const half = whole.narrow(0, 0, 10);
    whole.dispose(); // the view keeps the storage of 1000 floats, and counts its own 10
    expect(cpuBytes()).toBe(before + 8 + 40);
    dispose([z, e, half]);
    expect(cpuBytes()).toBe(before);
  });

  test('using a disposed tensor throws a clear message', () => {
    const t = ones([2]);
    const other = ones([2]);
    t.dispose();
    expect(() => t.add(1)).toThrow(DISPOSED);
    expect(() => t.shape).toThrow(DISPOSED);
    expect(() => t.toArray()).toThrow(DISPOSED);
    expect(() => other.add(t)).toThrow(DISPOSED);
    expect(() => t.handle).toThrow(DISPOSED);
    expect(String(t)).toBe('Tensor(disposed)');
    other.dispose();
    // Its shape read before: the cached info answered after dispose() too.
    const read = ones([2, 3]);
    expect([read.shape, read.dtype]).toEqual([[2, 3], 'float32']);
    read.dispose();
    for (const get of [() => read.shape, () => read.dtype, () => read.device, () => read.rank, () => read.numel]) expect(get).toThrow(DISPOSED);
  });

  test('a disposed native handle is refused by the addon', () => {
    const t = ones([2]);
    const h = t.handle;
    t.dispose();
    expect(h.isDisposed()).toBe(true);
    expect(() => native().tensor_info(h)).toThrow(
      'tensor_info: argument 0 is a disposed Tensor (it was freed by dispose() or a scope); keep() it or clone it before the scope ends',
    );
  });

  test('dispose() of nested values frees every tensor in them', () => {
    const base = liveTensors();
    const a = zeros([1]);
    const b = zeros([1]);
    const c = zeros([1]);
    dispose({ a, list: [b, { c }], n: 3, s: 'x' });
    expect([a, b, c].every((t) => t.isDisposed)).toBe(true);
    expect(liveTensors()).toBe(base);
  });
});

describe('tidy', () => {
  test('frees intermediates and returns the result', () => {
    const base = liveTensors();
    let inner: Tensor[] = [];
    const r = tidy(() => {
      const a = ones([3]);
      const b = a.add(1);
      const c = b.mul(2);
      inner = [a, b];
      return c;
    });
    expect(inner.every((t) => t.isDisposed)).toBe(true);
    expect(r.isDisposed).toBe(false);
    expect(r.toArray()).toEqual([4, 4, 4]);
    expect(liveTensors()).toBe(base + 1);
    r.dispose();
    expect(liveTensors()).toBe(base);
  });

  test('returns tensors inside arrays and plain objects; plain values pass through', () => {
    const base = liveTensors();
    let scratch: Tensor | undefined;
    const out = tidy(() => {
      scratch = zeros([1]);
      return { list: [ones([1]), ones([2])], nested: { deep: [fromArray([5])] }, n: 42 };
    });
    expect(scratch!.isDisposed).toBe(true);
    expect(out.n).toBe(42);
    expect(out.list[1].shape).toEqual([2]);
    expect(out.nested.deep[0].item()).toBe(5);
    expect(liveTensors()).toBe(base + 3);
    dispose(out);
    expect(liveTensors()).toBe(base);
    expect(tidy(() => 'plain')).toBe('plain');
    expect(tidy(() => undefined)).toBeUndefined();
  });

  test('nested tidy: the inner result moves to the outer scope and is freed there unless returned', () => {
    const base = liveTensors();
    let innerResult: Tensor | undefined;
    let innerTemp: Tensor | undefined;
    const outer = tidy(() => {
      expect(scopeDepth()).toBe(1);
      innerResult = tidy(() => {
        expect(scopeDepth()).toBe(2);
        innerTemp = zeros([1]);
        return ones([1]);
      });
      expect(innerTemp!.isDisposed).toBe(true);
      expect(innerResult.isDisposed).toBe(false);
      const kept = tidy(() => ones([2]));
      return kept;
    });
    expect(scopeDepth()).toBe(0);
    expect(innerResult!.isDisposed).toBe(true);
    expect(outer.isDisposed).toBe(false);
    expect(liveTensors()).toBe(base + 1);
    outer.dispose();
    expect(liveTensors()).toBe(base);
  });

  test('keep() exempts a tensor from every scope', () => {
    const base = liveTensors();
    let k: Tensor | undefined;
    tidy(() => {
      tidy(() => {
        k = keep(zeros([4]));
        zeros([4]);
      });
    });
    expect(k!.isDisposed).toBe(false);
    expect(liveTensors()).toBe(base + 1);
    k!.dispose();
    expect(liveTensors()).toBe(base);
    // keep([t]) kept nothing, and t was freed at the scope's end.
    expect(() => tidy(() => keep([zeros([1])] as never))).toThrow('Expected a Tensor (keep each tensor of an array or object) for keep but received [');
    expect(() => keep(undefined as never)).toThrow('for keep but received undefined');
    expect(liveTensors()).toBe(base);
  });

  test('tensors returned inside Maps, null-prototype objects and deep nesting survive the scope', () => {
    const base = liveTensors();
    const { map, bare, deep } = tidy(() => {
      const bareObject = Object.assign(Object.create(null), { t: zeros([1]) });
      return { map: new Map([['t', zeros([1])]]), bare: bareObject as { t: Tensor }, deep: { a: { b: { c: { d: { e: zeros([1]) } } } } } };
    });
    expect([map.get('t')!.isDisposed, bare.t.isDisposed, deep.a.b.c.d.e.isDisposed]).toEqual([false, false, false]);
    dispose([map, bare, deep]);
    expect(liveTensors()).toBe(base);
  });

  test('a throwing function frees its tensors and rethrows', () => {
    const base = liveTensors();
    let made: Tensor | undefined;
    expect(() =>
      tidy(() => {
        made = zeros([10]);
        throw new Error('inside tidy');
      }),
    ).toThrow('inside tidy');
    expect(made!.isDisposed).toBe(true);
    expect(scopeDepth()).toBe(0);
    expect(liveTensors()).toBe(base);
  });

  test('an async function throws TypeError and frees what it made', () => {
    const base = liveTensors();
    let made: Tensor | undefined;
    expect(() =>
      tidy(async () => {
        made = zeros([10]); // runs synchronously, before the first await
        await Promise.resolve();
        return 1;
      }),
    ).toThrow(TypeError);
    expect(() => tidy(async () => 1)).toThrow(/tidy\(\) takes a synchronous function, but this one returned a Promise/);
    expect(made!.isDisposed).toBe(true);
    expect(scopeDepth()).toBe(0);
    expect(liveTensors()).toBe(base);
  });

  test('an async function that fails after its first await is no unhandled rejection (it ended the process)', async () => {
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);
    try {
      expect(() => tidy(async () => {
        await null;
        throw new Error('after the await');
      })).toThrow(TypeError);
      expect(() => noGrad(async () => {
        await null;
        throw new Error('after the await');
      })).toThrow(TypeError);
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});

describe('a training-like loop', () => {
  test('1000 steps (conv net, crossEntropy, backward, optim_sgd_step) leak no tensors and keep RSS flat', () => {
    const addon = native();
    const start = liveTensors();
    manualSeed(0);
    // conv 3->8 (3x3, pad 1) -> relu -> maxpool 2 -> conv 8->10 (1x1) -> global average: logits [8,10]
    const w1 = randn([8, 3, 3, 3]).mul_(0.2).requiresGrad_();
    const b1 = zeros([8]).requiresGrad_();
    const w2 = randn([10, 8, 1, 1]).mul_(0.3).requiresGrad_();
    const b2 = zeros([10]).requiresGrad_();
    const params = [w1, b1, w2, b2];
    const bufs = params.map((p) => zeros(p.shape));
    const x = randn([8, 3, 8, 8]);
    const y = randint(0, 10, [8]);
    const base = liveTensors();
    expect(base).toBe(start + params.length + bufs.length + 2);

    const losses: number[] = [];
    let rss200 = 0;
    const gc = (globalThis as { gc?: () => void }).gc;
    for (let i = 1; i <= 1000; i++) {
      const loss = tidy(() => {
        for (const p of params) p.zeroGrad();
        const h = maxPool2d(conv2d(x, w1, b1, { padding: 1 }).relu(), 2);
        const logits = globalAvgPool(conv2d(h, w2, b2));
        const l = crossEntropy(logits, y);
        l.backward();
        addon.optim_sgd_step(params.map((p) => p.handle), bufs.map((b) => b.handle), 0.05, 0.9, 5e-4, false);
        return l.item();
      });
      losses.push(loss);
      if (i % 100 === 0) expect(liveTensors()).toBe(base);
      if (i === 200) {
        gc?.();
        rss200 = process.memoryUsage().rss;
      }
    }
    gc?.();
    const rss1000 = process.memoryUsage().rss;
    expect(liveTensors()).toBe(base);
    expect(rss1000 - rss200).toBeLessThan(50 * 1024 * 1024);
    // and it did train: the loss on the fixed batch went down
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.5);

    dispose([params, bufs, x, y]);
    expect(liveTensors()).toBe(start);
  });

  test('grad handles are independent tensors and are counted while alive', () => {
    const base = liveTensors();
    const w = ones([3]).requiresGrad_();
    tidy(() => w.mul(2).sum().backward());
    const g1 = w.grad!;
    const g2 = w.grad!;
    expect(g1).not.toBe(g2);
    expect(liveTensors()).toBe(base + 3);
    g1.dispose();
    expect(g2.toArray()).toEqual([2, 2, 2]);
    dispose([g2, w]);
    expect(liveTensors()).toBe(base);
  });
});
