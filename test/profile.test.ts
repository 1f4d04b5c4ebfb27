/**
 * The profiler (lib/profile.ts): the sums on hand-made events, against
 * values worked out by hand; then a real training step profiled on the CPU.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { backend, liveTensors } from '../lib/backend';
import { randint, randn } from '../lib/creation';
import { buildNetwork } from '../lib/model/network';
import { declareNetwork } from '../lib/model/spec';
import { native } from '../lib/native';
import { coveredMicros, profile, ProfileEvent, summarizeProfile } from '../lib/profile';
import { SGD } from '../lib/train/optim';
import { createNativeNet } from '../lib/train/train';

let nextId = 1;
function op(name: string, start: number, duration: number, thread = 1): ProfileEvent {
  return { name, kind: 'op', start, duration, thread, id: nextId++, linkedId: 0 };
}
function launched(kind: 'gpu' | 'other', name: string, by: ProfileEvent | null, start: number, duration: number): ProfileEvent {
  return { name, kind, start, duration, thread: 99, id: nextId++, linkedId: by ? by.id : 0 };
}
const row = (rows: Array<{ name: string; micros: number; calls: number }>, name: string) => rows.find((r) => r.name === name);

describe('summarizeProfile', () => {
  // One step on one thread:   conv2d [0, 100) > convolution [5, 95) > add_ [80, 90)
  // then, on the autograd thread, ConvolutionBackward0's node [200, 400) > convolution_backward [210, 390),
  // and the update allcnn::sgd [500, 530) > add_ [505, 515).
  const conv2d = op('aten::conv2d', 0, 100);
  const convolution = op('aten::convolution', 5, 90);
  const bias = op('aten::add_', 80, 10);
  const node = op('autograd::engine::evaluate_function: ConvolutionBackward0', 200, 200, 2);
  const backward = op('aten::convolution_backward', 210, 180, 2);
  const sgd = op('allcnn::sgd', 500, 30);
  const update = op('aten::add_', 505, 10);
  const launch = launched('other', 'cudaLaunchKernel', backward, 215, 4);

  test('host clock: each op counted without the ops inside it, in the top-level op it ran in', () => {
    const s = summarizeProfile([update, sgd, backward, node, bias, convolution, conv2d, launch], 1, 'host');
    // self times: conv2d 10, convolution 80, add_ 10 (bias) + 10 (update), node 20, backward 176, launch 4, sgd 20
    expect(row(s.byOp, 'aten::conv2d')).toEqual({ name: 'aten::conv2d', calls: 1, micros: 10 });
    expect(row(s.byOp, 'aten::convolution')?.micros).toBe(80);
    expect(row(s.byOp, 'aten::add_')).toEqual({ name: 'aten::add_', calls: 2, micros: 20 });
    expect(row(s.byOp, 'aten::convolution_backward')?.micros).toBe(176);
    expect(row(s.byOp, 'cudaLaunchKernel')?.micros).toBe(4);
    // parts: the forward's 100, the backward node's 200 (its wrapper's name shortened), the update's 30
    expect(row(s.byPart, 'aten::conv2d')?.micros).toBe(100);
    expect(row(s.byPart, 'ConvolutionBackward0')?.micros).toBe(200);
    expect(row(s.byPart, 'allcnn::sgd')?.micros).toBe(30);
    expect(s.byPart.map((r) => r.name)).toEqual(['ConvolutionBackward0', 'aten::conv2d', 'allcnn::sgd']);
    expect(s.total).toBe(330);
    expect(s.byKernel).toEqual([]);
    expect(s.deviceBusy).toBe(0);
  });

  test('device clock: each kernel counted in the op that launched it; overlapping kernels make busy time once', () => {
    const k1 = launched('gpu', 'cudnn_fwd', convolution, 1000, 50);
    const k2 = launched('gpu', 'elementwise_add', bias, 1040, 20); // overlaps k1 by 10
    const k3 = launched('gpu', 'cudnn_bwd', backward, 1100, 100);
    const k4 = launched('gpu', 'elementwise_add', update, 1300, 10);
    const copy = launched('gpu', 'Memcpy HtoD', null, 1400, 6);
    const s = summarizeProfile([conv2d, convolution, bias, node, backward, sgd, update, launch, k1, k2, k3, k4, copy], 2, 'device');
    // per step: everything halved (2 steps)
    expect(row(s.byPart, 'aten::conv2d')?.micros).toBe(35);
    expect(row(s.byPart, 'ConvolutionBackward0')?.micros).toBe(50);
    expect(row(s.byPart, 'allcnn::sgd')?.micros).toBe(5);
    expect(row(s.byPart, '(no op: a CUDA graph replay, or a copy)')?.micros).toBe(3);
    expect(row(s.byOp, 'aten::add_')).toEqual({ name: 'aten::add_', calls: 1, micros: 15 });
    expect(row(s.byKernel, 'elementwise_add')).toEqual({ name: 'elementwise_add', calls: 1, micros: 15 });
    expect(s.total).toBe(93);
    expect(s.deviceBusy).toBe((60 + 100 + 10 + 6) / 2);
  });

  test('an op the profiler has end a microsecond after its parent still ran inside it: counted once', () => {
    const outer = op('aten::linear', 1000, 50);
    const inner = op('aten::addmm', 1010, 41); // ends at 1051, the parent at 1050
    const next = op('aten::relu', 1050, 5); // starts as the parent ends: a sibling
    const s = summarizeProfile([outer, inner, next], 1, 'host');
    expect(row(s.byPart, 'aten::linear')).toEqual({ name: 'aten::linear', calls: 1, micros: 50 });
    expect(row(s.byPart, 'aten::relu')).toEqual({ name: 'aten::relu', calls: 1, micros: 5 });
    expect(s.total).toBe(55);
  });

  test('bad step counts are refused', () => {
    expect(() => summarizeProfile([], 0, 'host')).toThrow('steps must be a whole number >= 1, got 0');
    expect(() => summarizeProfile([], 1.5, 'device')).toThrow('steps must be a whole number >= 1, got 1.5');
  });
});

describe('profile (CPU)', () => {
  const spec = declareNetwork('Profiled', 'dropout, two convolutions and a 1x1 classifier', [
    'dropout 0.2', 'conv 3x3 8 relu', 'conv 3x3 8 /2 relu', 'conv 1x1 classes', 'gap', 'softmax',
  ]);

  test('a native training step: its convolutions, backward nodes, loss and update are all seen', async () => {
    const before = liveTensors();
    const network = buildNetwork(spec, { seed: 1 });
    const sgd = new SGD(network.parameterList());
    const x = randn([4, 3, 8, 8]);
    const y = randint(0, 10, [4]);
    const net = createNativeNet(network, sgd, { momentum: 0.9, weightDecay: 0.001, labelSmoothing: 0, channelsLast: false, precision: 'fp32' });
    try {
      const p = profile(() => {
        for (let i = 0; i < 2; i++) native().net_train_step_sync(net, x.handle, y.handle, 0.01);
      });
      expect(p.seconds).toBeGreaterThan(0);
      const s = summarizeProfile(p.events, 2, 'host');
      const parts = s.byPart.map((r) => r.name);
      // (allcnn::dropout: the addon's CPU dropout, native/nn_ops.cc)
      for (const part of ['aten::conv2d', 'aten::relu', 'allcnn::dropout', 'ConvolutionBackward0', 'ReluBackward0', 'allcnn::loss', 'allcnn::sgd', 'allcnn::metrics']) {
        expect(parts).toContain(part);
      }
      // the 3 convolutions, forward and backward, once per step each
      expect(s.byPart.find((r) => r.name === 'aten::conv2d')?.calls).toBe(3);
      expect(s.byOp.find((r) => r.name === 'aten::convolution_backward')?.calls).toBe(3);
      // Self times add up to the time the thread was inside an op: each op
      // counted once, not also in its parent (2.44x when they were). Checked
      // against the events' own clock: against the wall time around fn, a
      // busy CI machine once measured 1.28x.
      const inside = busyPerThread(p.events) / 2;
      expect(s.total).toBeGreaterThan(0.9 * inside);
      expect(s.total).toBeLessThanOrEqual(inside);
      expect(s.byKernel).toEqual([]);
    } finally {
      native().net_release(net);
      x.dispose();
      y.dispose();
      sgd.dispose();
      network.dispose();
    }
    expect(liveTensors()).toBe(before);
  });

  test('fn throwing stops the profiler, and the error comes through', () => {
    const thrown = new Error('inside');
    expect(() => profile(() => { throw thrown; })).toThrow(thrown);
    expect(profile(() => undefined).events).toEqual(expect.any(Array));
    // An async fn: its work after the first await ran after the profiler stopped (0 events, no error).
    expect(() => profile(async () => { await null; })).toThrow('profile() takes a synchronous function, but this one returned a Promise');
  });

  test('one profile at a time', () => {
    expect(() => profile(() => profile(() => undefined))).toThrow('profiler_run: the profiler is already running (a profiled function cannot profile)');
    expect(profile(() => randn([2]).dispose()).events.map((e) => e.name)).toContain('aten::randn');
  });

  test('a process that profiled exits cleanly, by the end of its script or by process.exit', () => {
    // With start and stop functions, a profiler left running crashed LibTorch 2.6 at exit (SIGSEGV); found by the fuzzer.
    const lib = JSON.stringify(path.resolve(__dirname, '../lib'));
    for (const [end, status] of [['', 0], ['process.exit(3);', 3]] as const) {
      const code = `const lib = require(${lib}); lib.profile(() => lib.randn([4]).dispose()); ${end}`;
      const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 60000, env: process.env });
      // (stderr only on failure: Kineto builds print their profiler's stages there)
      expect({ status: r.status, signal: r.signal, stderr: r.status === status ? '' : r.stderr }).toEqual({ status, signal: null, stderr: '' });
    }
  });

  const kineto = !backend().loadedVersion.startsWith('1.13');
  (kineto ? test.skip : test)('a trace on a LibTorch without Kineto: the reason, and the events all the same', () => {
    const p = profile(() => randn([4]).dispose(), { trace: '/tmp/allcnn-never-written.json' });
    expect(p.traceError).toMatch(/Kineto/);
    expect(p.events.map((e) => e.name)).toContain('aten::randn');
  });

  (backend().builtWithCuda ? test.skip : test)('cuda on a CPU build is refused', () => {
    expect(() => profile(() => undefined, { cuda: true })).toThrow('profiler_run: argument 0 must be false: this addon was built without CUDA');
  });
});

/** Microseconds in which a thread was inside at least one host event, summed over threads. */
function busyPerThread(events: ProfileEvent[]): number {
  const threads = new Set(events.map((e) => e.thread));
  return [...threads].reduce((sum, t) => sum + coveredMicros(events.filter((e) => e.kind !== 'gpu' && e.thread === t)), 0);
}
