/**
 * npm run bench:ops -- [--device cpu|cuda] [--size 16] [--calls 20000] [--json]
 *
 * The cost of one binding call: a small op (t + 1 on a tiny tensor) called
 * from JavaScript through the addon, against the same op in a C++ loop.
 * The difference per call is what TypeScript adds to every op it drives.
 */
import { backend, ensureDefaultThreads } from '../lib/backend';
import { randn } from '../lib/creation';
import { native } from '../lib/native';
import { deviceName, deviceOption, parseArgs, positiveInt } from './args';

function main() {
  const a = parseArgs(process.argv.slice(2), { device: 'cpu', size: 16, calls: 20000, json: false });
  const size = positiveInt(a, 'size');
  const n = positiveInt(a, 'calls');
  const { device, cuda } = deviceOption(a);
  ensureDefaultThreads();
  const t = randn([size], { device });
  const addon = native();
  addon.backend_bench_add_loop(t.handle, 1000); // warm-up
  const cxx = addon.backend_bench_add_loop(t.handle, n);
  let start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) addon.tensor_binary('add', t.handle, 1).dispose();
  const js = Number(process.hrtime.bigint() - start) / 1e9;
  // The same through the typed Tensor layer (a wrapper object and scope bookkeeping per result).
  start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) t.add(1).dispose();
  const ts = Number(process.hrtime.bigint() - start) / 1e9;
  const us = (s: number) => (1e6 * s) / n;
  const result = {
    device: deviceName(cuda), size, calls: n, libtorch: backend().loadedVersion, date: new Date().toISOString(),
    cxxMicrosecondsPerOp: us(cxx), addonMicrosecondsPerOp: us(js), tensorMicrosecondsPerOp: us(ts),
    addonOverCxx: js / cxx, tensorOverCxx: ts / cxx, overheadMicroseconds: us(ts) - us(cxx),
  };
  if (a.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`t + 1 on ${result.size} floats, ${result.device}, ${n} calls, LibTorch ${result.libtorch}, ${result.date}`);
    console.log(`  C++ loop:            ${result.cxxMicrosecondsPerOp.toFixed(2)} us/op`);
    console.log(`  addon call from JS:  ${result.addonMicrosecondsPerOp.toFixed(2)} us/op  (${result.addonOverCxx.toFixed(2)}x)`);
    console.log(`  Tensor.add from TS:  ${result.tensorMicrosecondsPerOp.toFixed(2)} us/op  (${result.tensorOverCxx.toFixed(2)}x)`);
    console.log(`  overhead per op driven from TypeScript: ${result.overheadMicroseconds.toFixed(2)} us`);
  }
  t.dispose();
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? `error: ${err.message}` : err);
  process.exit(1);
}
