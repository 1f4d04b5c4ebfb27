#!/usr/bin/env node
'use strict';
/**
 * npm run fuzz: random calls to every function the addon exports, to check
 * its promise that no input crashes the process. test/bad-input.test.ts
 * holds the hand-picked cases; this finds the ones nobody thought of.
 *
 * Each function's parameters are read from the NativeAddon interface in
 * lib/native.ts; arguments are drawn mostly from values of the declared type
 * (tensors of every dtype and odd shapes, disposed and non-contiguous ones,
 * nets, layer programs, op names) and sometimes from anything at all. Every
 * call either returns or throws a JS Error: that is fine. A child process
 * that dies (a signal, an abort, an uncaught throw) or hangs is a finding;
 * its last calls are kept in fuzz-findings/.
 *
 * Children run CALLS calls each, with seeds SEED, SEED+1, ... until SECONDS
 * have passed. A child with one seed makes the same calls every time:
 *   node scripts/fuzz-addon.js [--seconds 300] [--calls 3000] [--seed 1]
 *   node scripts/fuzz-addon.js --child SEED CALLS LOGFILE     (one child, by hand)
 * With FUZZ_STATS=1 a child prints, per function, how many calls succeeded
 * (a fuzzer whose calls all fail at the argument checks tests little);
 * FUZZ_ERRORS=<prefix> prints the errors of the functions with that prefix.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');

// ---- the parent: children, one seed each --------------------------------

function parent(argv) {
  const opt = (name, d) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : d;
  };
  const seconds = opt('seconds', 300);
  const calls = opt('calls', 3000);
  let seed = opt('seed', 1);
  const out = path.join(ROOT, 'fuzz-findings');
  const started = Date.now();
  let children = 0;
  let total = 0;
  const findings = [];
  while ((Date.now() - started) / 1000 < seconds) {
    const log = path.join(require('node:os').tmpdir(), `allcnn-fuzz-${process.pid}-${seed}.log`);
    const r = spawnSync(process.execPath, [__filename, '--child', String(seed), String(calls), log], { encoding: 'utf8', timeout: 120000 });
    children++;
    const done = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    total += done.length;
    if (r.status !== 0) {
      const why = r.error?.code === 'ETIMEDOUT' ? 'hung (120 s)' : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
      fs.mkdirSync(out, { recursive: true });
      const file = path.join(out, `seed-${seed}.txt`);
      fs.writeFileSync(file, `${why}\nreplay: node scripts/fuzz-addon.js --child ${seed} ${calls} /tmp/replay.log\n\nlast calls:\n${done.slice(-20).join('\n')}\n\nstderr:\n${(r.stderr || '').slice(-4000)}\n`);
      findings.push(`seed ${seed}: ${why}; last call: ${done[done.length - 1] ?? '(none)'} -> ${path.relative(process.cwd(), file)}`);
      console.log(`seed ${seed}: ${why}`);
    }
    fs.rmSync(log, { force: true });
    seed++;
  }
  console.log(`${children} children, ${total} calls in ${((Date.now() - started) / 1000).toFixed(0)} s: ${findings.length} finding(s)`);
  for (const f of findings) console.log(`- ${f}`);
  process.exit(findings.length ? 1 : 0);
}

// ---- the child: random calls ----------------------------------------------

/** xorshift32: the same seed gives the same calls. */
function rng(seed) {
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  };
}

/** Parameter lists of the addon's functions, read from the NativeAddon interface in lib/native.ts. */
function signatures() {
  const src = fs.readFileSync(path.join(ROOT, 'lib', 'native.ts'), 'utf8');
  const body = src.slice(src.indexOf('export interface NativeAddon'));
  const sigs = {};
  for (const m of body.matchAll(/^ {2}(\w+)\((.*)\):/gm)) {
    sigs[m[1]] = (m[2] ? m[2].split(/,\s*(?![^<[(]*[>\])])/) : []).map((p) => {
      const [, name, type] = /^(\w+)\??:\s*(.*)$/.exec(p.trim());
      return { name, type };
    });
  }
  return sigs;
}

const DTYPES = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'uint8', 'bool'];
const DEVICES = ['cpu', 'cuda', 'cuda:0', 'cpu:0', 'cuda:99', 'tpu', ''];
const STRINGS = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logical_and', 'logical_or', 'copy',
  'exp', 'log', 'sqrt', 'rsqrt', 'neg', 'abs', 'square', 'relu', 'sigmoid', 'tanh', 'floor', 'round', 'sign', 'logical_not', 'isnan', 'detach',
  'sum', 'mean', 'max', 'min', 'var', 'std', 'argmax', 'constant', 'reflect', 'replicate', 'circular', 'bilinear', 'nearest', 'zeros', 'border',
  'reflection', 'float16', 'bfloat16', ...DTYPES, ...DEVICES, 'nope', 'x'.repeat(1000),
];
const NUMBERS = [0, 1, -1, 2, 3, 0.5, -0.5, 1e-8, 255, 2 ** 31, -(2 ** 31), 2 ** 53, -(2 ** 63), 1e300, NaN, Infinity, -Infinity, -0];
const DIMS = [0, 1, 2, 3, 4, 5, 8];
// Shapes that are not sizes, or past int32 and int64. A dimension of 2^31 comes with a 0 beside it: alone it is
// a tensor that can be made (8 GB of int32 took 24 s, and would kill the process where memory is short).
const BAD_SHAPES = [[-1], [1.5], [NaN], [2 ** 31, 0], [2 ** 62], [Infinity]];
const KINDS = ['conv', 'relu', 'maxpool', 'avgpool', 'dropout', 'gap', 'batchnorm', 'linear', 'flatten', 'bogus'];

function child(seed, calls, logFile) {
  const { native } = require(path.join(ROOT, 'dist', 'lib', 'native'));
  const addon = native();
  const r = rng(seed);
  const sigs = signatures();
  const names = Object.keys(sigs).filter((n) => typeof addon[n] === 'function');
  const fd = fs.openSync(logFile, 'w');
  const made = []; // every handle made, freed now and then
  const nets = [];
  const stats = {};
  const pending = []; // async calls still in flight
  let batch = 2; // the batch size of this call's plausible net inputs

  const shape = () => (r.chance(0.05) ? [...r.pick(BAD_SHAPES)] : Array.from({ length: r.int(5) }, () => r.pick(DIMS)));
  const tensor = () => {
    const t = r.chance(0.85)
      ? addon.tensor_zeros(Array.from({ length: r.int(5) }, () => r.pick([1, 2, 3, 4, 8, 0])), r.pick(DTYPES), 'cpu')
      : addon.tensor_randn([r.pick([1, 2, 4]), r.pick([1, 3]), r.pick([4, 8]), r.pick([4, 8])], 'float32', 'cpu');
    made.push(t);
    const { dtype } = addon.tensor_info(t);
    if (r.chance(0.3) && dtype.startsWith('float')) addon.tensor_uniform_(t, -2, 2);
    // Integer tensors are often indices: values out of range in either direction, not just zeros.
    if (r.chance(0.3) && /int|uint8/.test(dtype)) addon.tensor_fill_(t, r.pick([-1, 1, 3, 7, 100, -100, 255]));
    if (r.chance(0.1) && addon.tensor_info(t).shape.length >= 2) { const v = addon.tensor_transpose(t, 0, 1); made.push(v); return v; }
    if (r.chance(0.1) && addon.tensor_info(t).dtype === 'float32') addon.tensor_set_requires_grad(t, true);
    if (r.chance(0.03)) t.dispose();
    return t;
  };
  const layer = () => {
    const l = { kind: r.pick(KINDS) };
    if (r.chance(0.7)) l.weight = r.chance(0.9) ? r.int(4) : r.pick(NUMBERS);
    if (r.chance(0.4)) l.bias = r.int(4);
    for (const k of ['kernel', 'stride', 'padding', 'p', 'momentum', 'eps', 'runningMean', 'runningVar']) if (r.chance(0.2)) l[k] = r.chance(0.7) ? r.int(4) : r.pick(NUMBERS);
    return l;
  };
  const options = () => ({
    momentum: r.pick([0, 0.9, NaN]), weightDecay: r.pick([0, 1e-3, -1]), nesterov: r.chance(0.5), labelSmoothing: r.pick([0, 0.1, 2]),
    channelsLast: r.chance(0.3), autocast: r.pick([null, 'bfloat16', 'float16', 'int64', 'bogus']),
    ...(r.chance(0.2) ? { cudaGraph: true } : {}), ...(r.chance(0.2) ? { cudaStream: true } : {}),
    ...(r.chance(0.3) ? { foreachSgd: true } : {}), ...(r.chance(0.3) ? { fuseConvRelu: true } : {}),
    ...(r.chance(0.2) ? { lrScales: Array.from({ length: r.int(5) }, () => r.pick([1, 0.1, NaN, -1])) } : {}),
    ...(r.chance(0.2) ? { generator: r.chance(0.8) ? generator() : wild() } : {}),
  });
  const net = () => {
    if (nets.length && r.chance(0.7)) return r.pick(nets);
    // Mostly a net that can train: conv 3->4 (3x3, pad 1), relu, global average.
    const w = addon.tensor_randn([4, 3, 3, 3], 'float32', 'cpu');
    const b = addon.tensor_zeros([4], 'float32', 'cpu');
    made.push(w, b);
    for (const p of [w, b]) addon.tensor_set_requires_grad(p, true);
    const good = r.chance(0.6);
    const layers = good ? [{ kind: 'conv', weight: 0, bias: 1, kernel: 3, stride: 1, padding: 1 }, { kind: 'relu' }, { kind: 'gap' }] : Array.from({ length: r.int(4) }, layer);
    const n = addon.net_create(layers, [w, b], good ? [addon.tensor_zeros([4, 3, 3, 3], 'float32', 'cpu'), addon.tensor_zeros([4], 'float32', 'cpu')] : [tensor()], [], good ? { momentum: 0.9, weightDecay: 0, nesterov: false, labelSmoothing: 0, channelsLast: false, autocast: null, foreachSgd: r.chance(0.5), fuseConvRelu: r.chance(0.5) } : options());
    nets.push(n);
    if (r.chance(0.05)) addon.net_release(n);
    return n;
  };
  const generators = [];
  const generator = () => {
    if (generators.length && r.chance(0.7)) return r.pick(generators);
    const g = addon.generator_create(r.chance(0.8) ? r.int(100) : r.pick(NUMBERS), r.chance(0.9) ? 'cpu' : r.pick(DEVICES));
    generators.push(g);
    return g;
  };
  const wild = () => r.pick([undefined, null, {}, [], 'x', 3, -1, NaN, true, () => 1, 10n, [1, 'a'], { length: 2 }, new Float32Array(3), Symbol('s')]);
  const typed = () => {
    const n = r.pick([0, 1, 3, 4, 12, 48]);
    return r.pick([() => new Float32Array(n), () => new Float64Array(n), () => new Int32Array(n), () => new BigInt64Array(n), () => new Uint8Array(n), () => new Uint16Array(n), () => new Int8Array(n), () => new DataView(new ArrayBuffer(n))])();
  };

  /** A value of a declared parameter (its name and TypeScript type as written in lib/native.ts). */
  const value = ({ name, type }) => {
    // Repeat counts: a huge valid count is honest work that takes forever, not a bug; bad ones are still tried.
    if (name === 'n' || name === 'repeat') return r.chance(0.8) ? 1 + r.int(3) : r.pick([0, -1, NaN, 1.5, 'x', Infinity]);
    if (name === 'device' && r.chance(0.7)) return 'cpu';
    // Where a profiler trace goes: never a random string, which would be a file written in the working folder.
    // What a profiled function does: nothing, some work, or throw.
    if (name === 'fn' && r.chance(0.8)) return r.pick([() => undefined, () => addon.tensor_randn([2, 3], 'float32', 'cpu').dispose(), () => { throw new Error('fuzz'); }]);
    if (name === 'tracePath') return r.chance(0.7) ? undefined : r.chance(0.5) ? path.join(require('node:os').tmpdir(), `allcnn-fuzz-trace-${process.pid}.json`) : r.pick([3, null, {}, true]);
    if (name === 'dtype' && r.chance(0.7)) return r.pick(DTYPES);
    // The nets' inputs: often a batch they can take (images, labels 0-3), so that steps run to the end.
    if (name === 'x' && type === 'T' && r.chance(0.7)) { const t = addon.tensor_randn([batch, 3, r.pick([4, 8]), 4], 'float32', 'cpu'); made.push(t); return t; }
    if (name === 'y' && type === 'T' && r.chance(0.7)) {
      const t = addon.tensor_randint(0, r.chance(0.9) ? 4 : 9, [r.chance(0.9) ? batch : batch + 1], 'cpu');
      made.push(t);
      return t;
    }
    if (r.chance(0.08)) return wild();
    const alts = type.split('|').map((s) => s.trim());
    const t = r.pick(alts);
    if (t === 'T' || t === 'NativeTensor') return tensor();
    if (t === 'T[]') return Array.from({ length: r.int(4) }, () => (r.chance(0.9) ? tensor() : wild()));
    if (t === 'Shape' || t === 'number[]') return shape();
    if (t === 'number') return r.chance(0.6) ? r.int(5) - 1 : r.pick(NUMBERS);
    if (t === 'string') return r.pick(STRINGS);
    if (t === 'boolean') return r.chance(0.5);
    if (t === 'null' || t === 'undefined') return t === 'null' ? null : undefined;
    if (t === 'NativeNet') return net();
    if (t === 'NativeGenerator') return generator();
    if (t === 'NativeLayer[]') return Array.from({ length: r.int(4) }, layer);
    if (t === 'NativeNetOptions') return options();
    if (t === 'ArrayBufferView') return typed();
    if (t.startsWith('{')) return r.chance(0.5) ? { cudnnBenchmark: r.chance(0.5), tf32: r.chance(0.5) } : { tf32: wild() };
    return wild();
  };

  const describe = (v) => {
    if (v instanceof addon.NativeGenerator) return 'Generator';
    if (v && typeof v === 'object' && typeof v.isDisposed === 'function') {
      if (v.isDisposed()) return 'Tensor(disposed)';
      try { const i = addon.tensor_info(v); return `Tensor(${i.dtype}[${i.shape}]${i.requiresGrad ? ' grad' : ''})`; } catch { return 'Tensor(?)'; }
    }
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'symbol' || typeof v === 'function') return String(v);
    if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.byteLength} bytes)`;
    try { return JSON.stringify(v, (k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x && typeof x === 'object' && typeof x.isDisposed === 'function' ? 'Tensor' : x instanceof addon.NativeGenerator ? 'Generator' : typeof x === 'bigint' ? `${x}n` : x)) ?? String(v); } catch { return String(v); }
  };

  /** Keeps what a call returned, to be disposed with the rest. */
  const own = (v) => {
    if (v && typeof v === 'object') {
      if (typeof v.dispose === 'function' && typeof v.isDisposed === 'function') made.push(v);
      else if (Array.isArray(v)) v.forEach(own);
    }
  };
  /** A call may throw, but only a JS Error (anything else is a finding). */
  const expectError = (name, e) => {
    if (!(e instanceof Error)) throw new Error(`${name} threw a non-Error: ${String(e)}`);
  };

  (async () => {
    for (let i = 0; i < calls; i++) {
      const name = r.pick(names);
      if (name === 'backend_set_num_threads' || name === 'tensor_set_grad_enabled') {
        // Process-wide settings: valid values would slow or change every later call; bad ones are still tried.
        const arg = r.chance(0.5) ? r.pick([0, -1, NaN, 1.5, 2 ** 40, 'x']) : wild();
        fs.writeSync(fd, `${i} ${name}(${describe(arg)})\n`);
        try { addon[name](arg); } catch (e) { expectError(name, e); }
        addon.backend_set_num_threads(2);
        addon.tensor_set_grad_enabled(true);
        continue;
      }
      let args;
      batch = r.pick([1, 2, 5]);
      try {
        const params = sigs[name].slice(0, r.chance(0.1) ? r.int(sigs[name].length + 1) : sigs[name].length);
        args = params.map(value);
        if (r.chance(0.03)) args.push(wild());
      } catch (e) {
        continue; // building the arguments failed (e.g. a random net): not the call under test
      }
      fs.writeSync(fd, `${i} ${name}(${args.map(describe).join(', ')})\n`);
      const stat = (stats[name] ??= { ok: 0, threw: 0 });
      const settle = (e) => {
        expectError(name, e);
        stat.threw++;
        if (process.env.FUZZ_ERRORS && name.startsWith(process.env.FUZZ_ERRORS)) console.error(name, e.message.slice(0, 150));
      };
      try {
        const out = addon[name](...args);
        if (out instanceof Promise && r.chance(0.3)) {
          // Not awaited at once: later calls (a release, an in-place op, another step) meet it in flight.
          pending.push(out.then((v) => { own(v); stat.ok++; }, settle));
        } else {
          own(await out);
          stat.ok++;
        }
      } catch (e) {
        settle(e);
      }
      if (pending.length && (r.chance(0.1) || made.length > 200)) await Promise.all(pending.splice(0));
      if (made.length > 200) {
        for (const t of made.splice(0)) t.dispose();
        for (const n of nets.splice(0)) addon.net_release(n);
      }
    }
    await Promise.all(pending);
    for (const t of made) t.dispose();
    for (const n of nets) addon.net_release(n);
    fs.closeSync(fd);
    if (process.env.FUZZ_STATS) console.log(JSON.stringify(stats));
  })().catch((e) => {
    console.error(e);
    process.exit(3);
  });
}

if (process.argv[2] === '--child') child(Number(process.argv[3]), Number(process.argv[4]), process.argv[5]);
else parent(process.argv.slice(2));
