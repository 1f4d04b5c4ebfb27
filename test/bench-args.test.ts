/** The benchmarks' argument parser: a mistyped flag or value fails before anything is measured. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { deviceOption, modelOption, parseArgs, positiveInt } from '../bench/args';

const DEFAULTS = { device: 'cpu', steps: 5, precision: 'fp32', tf32: false, 'cuda-graph': false };

test('values are parsed by the type of their default', () => {
  expect(parseArgs(['--steps', '7', '--tf32', '--device=cuda:1'], DEFAULTS)).toEqual({ device: 'cuda:1', steps: 7, precision: 'fp32', tf32: true, 'cuda-graph': false });
  expect(parseArgs(['--no-tf32'], { ...DEFAULTS, tf32: true }).tf32).toBe(false);
});

test('a flag may be given a yes or no: --json=false is off (it used to turn --json on)', () => {
  expect(parseArgs(['--tf32=false', '--cuda-graph=yes'], DEFAULTS)).toMatchObject({ tf32: false, 'cuda-graph': true });
  expect(parseArgs(['--tf32=TRUE'], DEFAULTS).tf32).toBe(true);
  expect(() => parseArgs(['--tf32=maybe'], DEFAULTS)).toThrow('--tf32 is a flag: give it alone, or as --tf32=true|false, not "--tf32=maybe"');
  expect(() => parseArgs(['--no-tf32=true'], DEFAULTS)).toThrow('--no-tf32 is a flag');
});

test('--help prints the script\'s usage and exits', () => {
  const bin = path.resolve(__dirname, '../bench/ops.js');
  const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('npm run bench:ops -- [--device cpu|cuda] [--size 16] [--calls 20000] [--json]');
  expect(r.stdout).toContain('options (default):\n  --device cpu\n  --size 16\n  --calls 20000\n  --json');
});

test('bad flags and values are refused with what was given', () => {
  expect(() => parseArgs(['--stpes', '7'], DEFAULTS)).toThrow('unknown option --stpes (known: --device, --steps, --precision, --tf32, --cuda-graph; --help for more)');
  expect(() => parseArgs(['--steps', 'x'], DEFAULTS)).toThrow('--steps must be a number, got "x"');
  expect(() => parseArgs(['--steps='], DEFAULTS)).toThrow('--steps must be a number, got ""');
  expect(() => parseArgs(['--steps'], DEFAULTS)).toThrow('--steps needs a value');
  expect(() => positiveInt({ steps: 2.5 }, 'steps')).toThrow('--steps must be a whole number >= 1, got 2.5');
});

test('CUDA-only flags are refused on the CPU, so that no table is titled with what did not run', () => {
  expect(deviceOption(parseArgs([], DEFAULTS))).toEqual({ device: 'cpu', cuda: false });
  // Checked before the header, which named the CPU for --device gpu.
  expect(() => deviceOption(parseArgs(['--device', 'gpu'], DEFAULTS))).toThrow('Expected a device ("cpu", "cuda" or "cuda:N") for device but received "gpu"');
  expect(() => deviceOption(parseArgs(['--tf32'], DEFAULTS))).toThrow('--tf32 needs a CUDA device (--device cuda), but --device is cpu');
  expect(() => deviceOption(parseArgs(['--cuda-graph'], DEFAULTS))).toThrow('--cuda-graph needs a CUDA device');
  // LibTorch's own message came at the first step: "AutocastCPU only support Bfloat16".
  expect(() => deviceOption(parseArgs(['--precision', 'fp16'], DEFAULTS))).toThrow('--precision fp16 needs a CUDA device (--device cuda): use bf16 on the CPU');
  expect(() => modelOption('')).toThrow('unknown model "" (known: a, strided-cnn-a,'); // --models a, (a trailing comma)
});
