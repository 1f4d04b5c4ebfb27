/**
 * npm run bench:concurrency -- [--device cuda] [--model all-cnn-c] [--runs 1,2,4] [--batch-size 128] [--steps 50]
 *   [--precision fp32|bf16|fp16] [--tf32] [--cuda-graph] [--cuda-stream] [--json]
 *
 * Aggregate training images/s of several networks trained at once in one
 * process, as `allcnn reproduce --concurrency N` runs them: each network's
 * steps are awaited native calls on libuv worker threads, so one network's
 * host work overlaps another's GPU work; with --cuda-stream each network
 * queues its work on a CUDA stream of its own, so that their kernels can also
 * run side by side on the GPU. Data are random and GPU-resident.
 */
import { backend, ensureDefaultThreads, synchronize } from '../lib/backend';
import { randint, randn } from '../lib/creation';
import { buildNetwork } from '../lib/model/network';
import { native } from '../lib/native';
import { SGD } from '../lib/train/optim';
import { PRECISIONS } from '../lib/train/config';
import { createNativeNet } from '../lib/train/train';
import { deviceName, deviceOption, modelOption, oneOf, parseArgs, positiveInt } from './args';

async function main() {
  const a = parseArgs(process.argv.slice(2), { device: 'cpu', model: 'all-cnn-c', runs: '1,2,4', 'batch-size': 128, steps: 50, precision: 'fp32', tf32: false, 'cuda-graph': false, 'cuda-stream': false, json: false });
  const precision = oneOf(a, 'precision', PRECISIONS);
  ensureDefaultThreads();
  const { device, cuda } = deviceOption(a);
  const spec = modelOption(String(a.model));
  const bs = positiveInt(a, 'batch-size');
  const steps = positiveInt(a, 'steps');
  const info = backend();
  const machine = deviceName(cuda);
  const rows = [];
  const counts = String(a.runs).split(',').map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--runs must list whole numbers >= 1, e.g. 1,2,4; got ${a.runs}`);
  const meta = {
    device: machine, libtorch: info.loadedVersion, model: spec.name, batchSize: bs, steps, precision: a.precision, tf32: a.tf32,
    cudaGraph: a['cuda-graph'], cudaStream: a['cuda-stream'], date: new Date().toISOString(),
  };
  if (!a.json) {
    console.log(`${spec.name} on ${machine}; LibTorch ${meta.libtorch}; batch ${bs}; ${steps} steps per run; ${a.precision}${a.tf32 ? ' + tf32' : ''}` +
      `${meta.cudaGraph ? '; CUDA graph' : ''}${meta.cudaStream ? '; a CUDA stream per run' : ''}; ${meta.date}`);
  }
  for (const n of counts) {
    const runs = Array.from({ length: n }, (_, i) => {
      const network = buildNetwork(spec, { device, seed: i, channelsLast: cuda });
      const sgd = new SGD(network.parameterList());
      const net = createNativeNet(network, sgd, { momentum: 0.9, weightDecay: 0.001, labelSmoothing: 0, channelsLast: cuda, precision, cudaGraph: Boolean(a['cuda-graph']), cudaStream: Boolean(a['cuda-stream']) });
      return { network, sgd, net, x: randn([bs, 3, 32, 32], { device }), y: randint(0, 10, [bs], device) };
    });
    const train = (count: number) => Promise.all(runs.map(async (r) => {
      for (let i = 0; i < count; i++) await native().net_train_step(r.net, r.x.handle, r.y.handle, 0.01);
      native().net_take_metrics(r.net); // the loss read-back a training loop does
    }));
    await train(5); // warm-up: cuDNN autotuning and the CUDA graph capture
    synchronize();
    const t = process.hrtime.bigint();
    await train(steps);
    synchronize();
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    const row = { runs: n, aggregateImagesPerSecond: (n * steps * bs) / seconds, perRunImagesPerSecond: (steps * bs) / seconds };
    rows.push(row);
    if (!a.json) console.log(`${n} run(s) at once: ${row.aggregateImagesPerSecond.toFixed(0)} images/s in all, ${row.perRunImagesPerSecond.toFixed(0)} per run`);
    for (const r of runs) {
      native().net_release(r.net);
      r.x.dispose();
      r.y.dispose();
      r.sgd.dispose();
      r.network.dispose();
    }
  }
  if (a.json) console.log(JSON.stringify({ ...meta, rows }));
}

main().catch((err) => {
  console.error(err instanceof Error ? `error: ${err.message}` : err);
  process.exit(1);
});
