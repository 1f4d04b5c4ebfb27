/**
 * npm run bench:profile -- [--device cpu|cuda] [--model all-cnn-c] [--batch-size 128] [--steps 5] [--warmup 5]
 *   [--precision fp32|bf16|fp16] [--tf32] [--cuda-graph] [--layout auto|nchw|nhwc] [--foreach-sgd] [--fuse-conv-relu] [--top 15] [--trace FILE] [--json]
 *
 * Where one training step (the native step trainModel runs) spends its time,
 * from LibTorch's profiler (lib/profile.ts): on CUDA, GPU time per part of
 * the step (a layer kind's forward, a backward node, the SGD update), per op
 * and per kernel; on the CPU, the ops' own time. Before profiling, the same
 * steps are timed without the profiler, which slows the host.
 *
 * With --cuda-graph the step is a replay of one captured CUDA graph: the
 * kernels are the same but no op launches them, so only the kernel table
 * says where the time goes; compare the wall time with the GPU's busy time
 * to see what the graph removed. --trace writes a Chrome trace (chrome://tracing,
 * Perfetto), on a LibTorch built with Kineto (PyTorch's; not Debian's).
 */
import * as os from 'node:os';
import { backend, ensureDefaultThreads, synchronize } from '../lib/backend';
import { randint, randn } from '../lib/creation';
import { buildNetwork } from '../lib/model/network';
import { native } from '../lib/native';
import { profile, summarizeProfile, TimeRow } from '../lib/profile';
import { SGD } from '../lib/train/optim';
import { PRECISIONS } from '../lib/train/config';
import { createNativeNet } from '../lib/train/train';
import { candidateLabel, candidateOptions, CANDIDATE_DEFAULTS, deviceOption, modelOption, oneOf, parseArgs, positiveInt } from './args';

function table(title: string, rows: TimeRow[], total: number, top: number): void {
  if (!rows.length) return;
  console.log(`\n${title}`);
  console.log(`${'us/step'.padStart(10)} ${'share'.padStart(7)} ${'calls'.padStart(6)}  name`);
  for (const r of rows.slice(0, top)) {
    console.log(`${r.micros.toFixed(1).padStart(10)} ${`${((100 * r.micros) / total).toFixed(1)}%`.padStart(7)} ${r.calls.toFixed(0).padStart(6)}  ${r.name}`);
  }
  const rest = rows.slice(top);
  if (rest.length) {
    const micros = rest.reduce((s, r) => s + r.micros, 0);
    console.log(`${micros.toFixed(1).padStart(10)} ${`${((100 * micros) / total).toFixed(1)}%`.padStart(7)} ${''.padStart(6)}  (${rest.length} more)`);
  }
}

async function main() {
  const a = parseArgs(process.argv.slice(2), { device: 'cpu', model: 'all-cnn-c', 'batch-size': 128, steps: 5, warmup: 5, precision: 'fp32', tf32: false, 'cuda-graph': false, layout: 'auto', top: 15, trace: '', json: false, ...CANDIDATE_DEFAULTS });
  const candidates = candidateOptions(a);
  const precision = oneOf(a, 'precision', PRECISIONS);
  ensureDefaultThreads();
  const { device, cuda } = deviceOption(a);
  const spec = modelOption(String(a.model));
  const graph = Boolean(a['cuda-graph']);
  if (graph && !cuda) throw new Error('--cuda-graph needs --device cuda');
  const layout = a.layout === 'auto' ? (cuda ? 'nhwc' : 'nchw') : String(a.layout);
  if (layout !== 'nchw' && layout !== 'nhwc') throw new Error(`--layout must be auto, nchw or nhwc, got ${a.layout}`);
  const bs = positiveInt(a, 'batch-size');
  const steps = positiveInt(a, 'steps');
  const warmup = positiveInt(a, 'warmup');
  const top = positiveInt(a, 'top');
  const info = backend();
  const deviceName = cuda ? info.cudaDevices[0] ?? 'CUDA device' : `${os.cpus()[0]?.model ?? 'CPU'} (${info.threads} threads)`;

  // As trainModel builds it: weights in the layout of the activations.
  const network = buildNetwork(spec, { device, channelsLast: layout === 'nhwc' });
  const sgd = new SGD(network.parameterList());
  const x = randn([bs, 3, 32, 32], { device });
  const y = randint(0, 10, [bs], device);
  const net = createNativeNet(network, sgd, { momentum: 0.9, weightDecay: 0.001, labelSmoothing: 0, channelsLast: layout === 'nhwc', precision, cudaGraph: graph, ...candidates });
  try {
    // cuDNN autotuning, and with --cuda-graph the eager steps before the capture and the capture itself.
    await native().net_train_step(net, x.handle, y.handle, 0.01, warmup);
    const status = native().net_take_metrics(net).graph;
    if (graph && status !== 'captured') throw new Error(`CUDA graph ${status} after ${warmup} warm-up steps`);
    const steady = (): void => {
      for (let i = 0; i < steps; i++) native().net_train_step_sync(net, x.handle, y.handle, 0.01);
    };
    // One more on this thread, which runs the measured steps: cuDNN's handles are per thread.
    native().net_train_step_sync(net, x.handle, y.handle, 0.01);
    synchronize();
    const t0 = process.hrtime.bigint();
    steady();
    synchronize();
    const plainSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const p = profile(steady, { cuda, trace: a.trace ? String(a.trace) : undefined });
    const s = summarizeProfile(p.events, steps, cuda ? 'device' : 'host');
    const result = {
      device: deviceName, libtorch: info.loadedVersion, model: spec.name, batchSize: bs, steps, precision: a.precision, tf32: a.tf32, cudaGraph: graph, layout, ...candidates, date: new Date().toISOString(),
      imagesPerSecond: (bs * steps) / plainSeconds, stepMicros: (plainSeconds / steps) * 1e6, profiledStepMicros: (p.seconds / steps) * 1e6, ...s,
      ...(p.traceError ? { traceError: p.traceError } : {}),
    };
    if (a.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    console.log(`${spec.name} on ${deviceName}; LibTorch ${info.loadedVersion}; batch ${bs}; ${a.precision}${a.tf32 ? ' + tf32' : ''}; ${layout.toUpperCase()}${graph ? '; CUDA graph' : ''}${candidateLabel(candidates)}; ${steps} steps after ${warmup} warm-up; ${result.date}`);
    console.log(`step: ${result.stepMicros.toFixed(0)} us (${result.imagesPerSecond.toFixed(0)} images/s) without the profiler, ${result.profiledStepMicros.toFixed(0)} us with it`);
    if (cuda) {
      console.log(`GPU busy ${s.deviceBusy.toFixed(0)} us per step (${((100 * s.deviceBusy) / result.stepMicros).toFixed(0)}% of the unprofiled step); kernels ${s.total.toFixed(0)} us (overlapping kernels counted each)`);
      console.log(`if the GPU never waited: ${((bs * 1e6) / s.deviceBusy).toFixed(0)} images/s`);
    } else {
      console.log(`ops' self time ${s.total.toFixed(0)} us per step (wall time: an op's ${info.threads} threads work inside it)`);
    }
    const clock = cuda ? 'GPU time' : 'host time';
    table(`${clock} by part of the step (the top-level op each op ran in)`, s.byPart, s.total, top);
    table(`${clock} by op`, s.byOp, s.total, top);
    table('GPU time by kernel', s.byKernel, s.total, top);
    if (a.trace) console.log(p.traceError ? `\nno trace written: ${p.traceError}` : `\nChrome trace: ${a.trace}`);
  } finally {
    native().net_release(net);
    x.dispose();
    y.dispose();
    sgd.dispose();
    network.dispose();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? `error: ${err.message}` : err);
  process.exit(1);
});
