import * as fs from 'node:fs';
import * as os from 'node:os';
import { backend, configureBackend, requireDevice } from '../lib/backend';
import { checkDevice } from '../lib/tensor';
import { NetworkSpec } from '../lib/model/spec';
import { MODELS } from '../models';

const TRUE = ['true', 'yes', 'on', '1'];
const FALSE = ['false', 'no', 'off', '0'];

/**
 * A tiny --key value / --flag parser for the benchmark scripts; unknown keys
 * are errors. --help (or -h) prints the usage, the script's leading comment,
 * and exits.
 */
export function parseArgs(argv: string[], defaults: Record<string, string | number | boolean>): Record<string, string | number | boolean> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage(defaults));
    process.exit(0);
  }
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(no-)?([\w-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !(m[2] in defaults)) throw new Error(`unknown option ${argv[i]} (known: ${Object.keys(defaults).map((k) => `--${k}`).join(', ')}; --help for more)`);
    const key = m[2];
    if (typeof defaults[key] === 'boolean') {
      // --json=false turned --json on: a value is read, and one that is no yes or no is refused.
      const v = m[3]?.toLowerCase();
      if (v !== undefined && (m[1] || ![...TRUE, ...FALSE].includes(v))) throw new Error(`--${m[1] ?? ''}${key} is a flag: give it alone, or as --${key}=true|false, not "${argv[i]}"`);
      out[key] = v !== undefined ? TRUE.includes(v) : !m[1];
    } else {
      const v = m[3] ?? argv[++i];
      if (v === undefined) throw new Error(`--${key} needs a value`);
      if (typeof defaults[key] === 'number' && (v.trim() === '' || Number.isNaN(Number(v)))) throw new Error(`--${key} must be a number, got "${v}"`);
      out[key] = typeof defaults[key] === 'number' ? Number(v) : v;
    }
  }
  return out;
}

/** The running script's leading comment (its usage and what it measures), or its options with their defaults. */
function usage(defaults: Record<string, string | number | boolean>): string {
  const options = `options (default):\n${Object.entries(defaults).map(([k, v]) => `  --${k}${typeof v === 'boolean' ? (v ? ' (on; --no-' + k + ' turns it off)' : '') : ` ${v === '' ? '(none)' : v}`}`).join('\n')}`;
  try {
    const text = fs.readFileSync(require.main?.filename ?? '', 'utf8');
    const doc = /\/\*\*\n([\s\S]*?)\n \*\//.exec(text)?.[1];
    return doc ? `${doc.replace(/^ \* ?/gm, '')}\n\n${options}` : options;
  } catch {
    return options;
  }
}

/** The value of a numeric option that must be a whole number >= 1. */
export function positiveInt(args: Record<string, string | number | boolean>, key: string): number {
  const v = Number(args[key]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${key} must be a whole number >= 1, got ${args[key]}`);
  return v;
}

/** The value of a string option that must be one of `values`. */
export function oneOf<V extends string>(args: Record<string, string | number | boolean>, key: string, values: readonly V[]): V {
  const v = String(args[key]);
  if (!(values as readonly string[]).includes(v)) throw new Error(`--${key} must be one of ${values.join(', ')}, got ${args[key]}`);
  return v as V;
}

/**
 * --device; on CUDA it also turns on cuDNN's autotuning, and TF32 if --tf32.
 * CUDA-only flags on the CPU are refused: a table titled "+ tf32" would not
 * say what was measured.
 */
export function deviceOption(args: Record<string, string | number | boolean>): { device: string; cuda: boolean } {
  // Checked first: --device gpu printed a header naming the CPU before its error.
  const device = checkDevice('device', String(args.device));
  const cuda = device.startsWith('cuda');
  for (const flag of ['tf32', 'cuda-graph', 'cuda-stream']) {
    if (args[flag] === true && !cuda) throw new Error(`--${flag} needs a CUDA device (--device cuda), but --device is ${device}`);
  }
  // LibTorch's CPU autocast knows bfloat16 only; it would fail at the first step, as an internal error.
  if (args.precision === 'fp16' && !cuda) throw new Error(`--precision fp16 needs a CUDA device (--device cuda): use bf16 on the CPU`);
  requireDevice(device); // before any header is printed
  if (cuda) configureBackend({ cudnnBenchmark: true, tf32: Boolean(args.tf32) });
  return { device, cuda };
}

/** What a benchmark ran on, for its header and JSON: the GPU's name, or the CPU's model and LibTorch's thread count. */
export function deviceName(cuda: boolean): string {
  const info = backend();
  return cuda ? info.cudaDevices[0] ?? 'CUDA device' : `${os.cpus()[0]?.model ?? 'CPU'} (${info.threads} threads)`;
}

/** The network a model id names (a, strided-cnn-a, ..., all-cnn-c). */
export function modelOption(id: string): NetworkSpec {
  const spec = MODELS[id];
  if (!spec) throw new Error(`unknown model ${JSON.stringify(id)} (known: ${Object.keys(MODELS).join(', ')})`);
  return spec;
}

/**
 * The candidates for the batch-512 target, off by default until a GPU
 * measures them: --foreach-sgd and --fuse-conv-relu, which both benchmarks
 * take. CANDIDATE_DEFAULTS goes into parseArgs' defaults; candidateOptions
 * gives them as NativeNetOptions, candidateLabel as words for a title line.
 */
export const CANDIDATE_DEFAULTS = { 'foreach-sgd': false, 'fuse-conv-relu': false };
export function candidateOptions(args: Record<string, string | number | boolean>): { foreachSgd: boolean; fuseConvRelu: boolean } {
  return { foreachSgd: Boolean(args['foreach-sgd']), fuseConvRelu: Boolean(args['fuse-conv-relu']) };
}
export function candidateLabel(c: { foreachSgd: boolean; fuseConvRelu: boolean }): string {
  return `${c.foreachSgd ? '; _foreach SGD' : ''}${c.fuseConvRelu ? '; fused conv + ReLU' : ''}`;
}
