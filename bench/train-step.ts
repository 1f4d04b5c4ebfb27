/**
 * npm run bench -- [--device cpu|cuda] [--batch-size 128] [--steps 5] [--rounds 3] [--models a,all-cnn-c] [--precision fp32|bf16|fp16] [--tf32] [--cuda-graph] [--layout auto|nchw|nhwc] [--foreach-sgd] [--fuse-conv-relu] [--json]
 *
 * Images/s of a full training step (forward, loss, backward, SGD) for each of
 * the 12 networks, measured three ways on the same data:
 *   cxx:    the step repeated inside one native call: the step written entirely in C++;
 *   driven: one awaited native call per step from TypeScript, as trainModel runs it;
 *   ops:    op by op from TypeScript (engine 'typescript'; fp32 only, skip with --no-ops).
 * The ratio driven/cxx is the cost of driving training from TypeScript (goal <= 1.05).
 * On CUDA the networks run channels-last (NHWC) with cuDNN's benchmark mode,
 * on the CPU in NCHW, as trainModel does by default; --layout picks one
 * (the native steps only: the ops way stays NCHW). With --cuda-graph each
 * step is a replay of one captured CUDA graph. --foreach-sgd does the native
 * steps' SGD update with LibTorch's _foreach ops (NativeNetOptions.foreachSgd);
 * --fuse-conv-relu runs each convolution and its ReLU as one node, on CUDA
 * cuDNN's fused kernel (NativeNetOptions.fuseConvRelu).
 * Each way is timed in --rounds interleaved rounds and the best round counts,
 * so that load from elsewhere on the machine does not land on one side only.
 */
import { backend, ensureDefaultThreads, synchronize } from '../lib/backend';
import { crossEntropy } from '../lib/functional';
import { randint, randn } from '../lib/creation';
import { buildNetwork } from '../lib/model/network';
import { countFlops } from '../lib/model/flops';
import { native, NativeNet } from '../lib/native';
import { tidy } from '../lib/scope';
import { SGD } from '../lib/train/optim';
import { PRECISIONS } from '../lib/train/config';
import { createNativeNet } from '../lib/train/train';
import { MODELS } from '../models';
import { candidateLabel, candidateOptions, CANDIDATE_DEFAULTS, deviceName, deviceOption, modelOption, oneOf, parseArgs, positiveInt } from './args';

async function main() {
  const a = parseArgs(process.argv.slice(2), { device: 'cpu', 'batch-size': 128, steps: 5, rounds: 3, models: Object.keys(MODELS).join(','), precision: 'fp32', tf32: false, 'cuda-graph': false, layout: 'auto', json: false, ops: true, ...CANDIDATE_DEFAULTS });
  const candidates = candidateOptions(a);
  const precision = oneOf(a, 'precision', PRECISIONS);
  ensureDefaultThreads();
  const { device, cuda } = deviceOption(a);
  const info = backend();
  const machine = deviceName(cuda);
  const bs = positiveInt(a, 'batch-size');
  const steps = positiveInt(a, 'steps');
  const rounds = positiveInt(a, 'rounds');
  const rows = [];
  const graph = Boolean(a['cuda-graph']);
  const layout = a.layout === 'auto' ? (cuda ? 'nhwc' : 'nchw') : String(a.layout);
  if (layout !== 'nchw' && layout !== 'nhwc') throw new Error(`--layout must be auto, nchw or nhwc, got ${a.layout}`);
  const specs = String(a.models).split(',').map(modelOption); // before the header: a typo prints no table
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  if (!a.json) {
    console.log(`device: ${machine}; LibTorch ${info.loadedVersion}; batch ${bs}; best of ${plural(rounds, 'round')} of ${plural(steps, 'step')}; precision ${a.precision}${a.tf32 ? ' + tf32' : ''}; ${layout.toUpperCase()}${graph ? '; CUDA graph' : ''}${candidateLabel(candidates)}; ${new Date().toISOString()}`);
    console.log('driven/cxx and ops/cxx: time per step against cxx\'s (1.000: driving from TypeScript costs nothing)');
    console.log(`${'model'.padEnd(16)} ${'cxx img/s'.padStart(10)} ${'driven img/s'.padStart(13)} ${'driven/cxx'.padStart(10)} ${'ops img/s'.padStart(10)} ${'ops/cxx'.padStart(8)} ${'GFLOP/img'.padStart(10)} ${'TFLOP/s'.padStart(8)}`);
  }
  // One network's failure (out of memory, a graph that cannot be captured)
  // is recorded in its row and the others are still measured: GPU time is
  // scarce, and a partial table beats none. The exit status still says so.
  let failures = 0;
  for (const spec of specs) {
    // As trainModel builds it: the weights in the activations' layout (with NCHW
    // weights each convolution would convert them, every step).
    const network = buildNetwork(spec, { device, channelsLast: layout === 'nhwc' });
    const sgd = new SGD(network.parameterList());
    const x = randn([bs, 3, 32, 32], { device });
    const y = randint(0, 10, [bs], device);
    let net: NativeNet | null = null;
    try {
      const n = createNativeNet(network, sgd, { momentum: 0.9, weightDecay: 0.001, labelSmoothing: 0, channelsLast: layout === 'nhwc', precision, cudaGraph: graph, ...candidates });
      net = n;
      // warm-up: cuDNN autotuning, and with --cuda-graph 3 eager steps and the capture
      await native().net_train_step(n, x.handle, y.handle, 0.01, 5);
      const seconds = async (f: () => Promise<void> | void) => {
        const t = process.hrtime.bigint();
        await f();
        synchronize();
        return Number(process.hrtime.bigint() - t) / 1e9;
      };
      let cxxSeconds = Infinity;
      let drivenSeconds = Infinity;
      let opsSeconds = a.ops && a.precision === 'fp32' ? Infinity : NaN;
      for (let round = 0; round < rounds; round++) {
        // cxx: the loop inside C++
        cxxSeconds = Math.min(cxxSeconds, await native().net_train_step(n, x.handle, y.handle, 0.01, steps));
        // driven: one awaited call per step
        drivenSeconds = Math.min(drivenSeconds, await seconds(async () => {
          for (let i = 0; i < steps; i++) await native().net_train_step(n, x.handle, y.handle, 0.01);
        }));
        // ops: op by op from TypeScript
        if (!Number.isNaN(opsSeconds)) {
          opsSeconds = Math.min(opsSeconds, await seconds(() => {
            for (let i = 0; i < steps; i++) {
              tidy(() => {
                sgd.zeroGrad();
                const loss = crossEntropy(network.forward(x, true), y);
                loss.backward();
                sgd.step(0.01);
              });
            }
          }));
        }
      }
      // With --cuda-graph, figures from the eager fallback would be mislabelled.
      const status = native().net_take_metrics(n).graph;
      if (graph && status !== 'captured') throw new Error(`CUDA graph ${status}`);
      const flops = countFlops(spec, { classes: 10 }).training;
      const ips = (s: number) => (bs * steps) / s;
      const row = {
        model: spec.name, cxxImagesPerSecond: ips(cxxSeconds), drivenImagesPerSecond: ips(drivenSeconds), drivenOverCxx: drivenSeconds / cxxSeconds,
        opsImagesPerSecond: ips(opsSeconds), opsOverCxx: opsSeconds / cxxSeconds, trainingGflopPerImage: flops / 1e9, tflops: (flops * ips(drivenSeconds)) / 1e12,
      };
      rows.push(row);
      if (!a.json) {
        console.log(`${spec.name.padEnd(16)} ${row.cxxImagesPerSecond.toFixed(0).padStart(10)} ${row.drivenImagesPerSecond.toFixed(0).padStart(13)} ${row.drivenOverCxx.toFixed(3).padStart(10)} ` +
          `${Number.isNaN(opsSeconds) ? '-'.padStart(10) : row.opsImagesPerSecond.toFixed(0).padStart(10)} ${Number.isNaN(opsSeconds) ? '-'.padStart(8) : row.opsOverCxx.toFixed(3).padStart(8)} ` +
          `${row.trainingGflopPerImage.toFixed(3).padStart(10)} ${row.tflops.toFixed(3).padStart(8)}`);
      }
    } catch (err) {
      failures++;
      const error = err instanceof Error ? err.message : String(err);
      rows.push({ model: spec.name, error });
      console.error(`${spec.name}: ${error}`);
    } finally {
      if (net !== null) native().net_release(net);
      x.dispose();
      y.dispose();
      sgd.dispose();
      network.dispose();
    }
  }
  if (a.json) console.log(JSON.stringify({ device: machine, libtorch: info.loadedVersion, batchSize: bs, steps, rounds, precision: a.precision, tf32: a.tf32, cudaGraph: graph, layout, ...candidates, date: new Date().toISOString(), rows }, null, 2));
  if (failures) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err instanceof Error ? `error: ${err.message}` : err);
  process.exit(1);
});
