/**
 * Example: how often does the paper's ReLU on the class scores leave
 * ALL-CNN-C at chance?
 *
 *   npm run build:ts && node dist/examples/stalls.js [path/to/cifar-10-binary.tar.gz]
 *     [--limit 1000] [--epochs 4] [--seeds 3] [--lrs 0.25,0.1,0.05,0.01]
 *
 * The paper puts a ReLU after the last 1x1 convolution, before the global
 * average. If a large early step pushes all ten of its inputs below zero for
 * every image, the class scores are all 0, the loss is exactly ln 10 and
 * no gradient flows back: the run never leaves chance. This trains ALL-CNN-C
 * for each learning rate and seed, with and without that ReLU, from the same
 * data, and prints for each run:
 *
 * - `spread`: how much the class scores still differ between images (0: the
 *   network gives every image the same scores and can no longer learn);
 * - `stalled`: trainModel's verdict, which `allcnn reproduce` uses to restart
 *   a run with the next seed: the training loss within 0.02 of ln 10 for
 *   `stallEpochs` = 3 epochs and a spread of 0. A slow start also keeps the
 *   loss near ln 10 for a few short epochs; the spread tells the two apart.
 *
 * With no data argument it uses the 600-image sample that ships with allcnn:
 * 24 runs in 7 min 50 s on two CPU cores (2026-11-27). docs/RESULTS.md has
 * what it gave there and on the real archive.
 */
import { cudaAvailable, Dataset, loadCifar10, scoreSpread, trainModel } from '../lib';
import { parseArgs as parseNodeArgs } from 'node:util';

interface Options {
  data?: string;
  limit: number;
  epochs: number;
  seeds: number;
  lrs: number[];
}

/** --limit, --epochs, --seeds and --lrs, each checked; node:util refuses unknown options. */
function parseArgs(argv: string[]): Options {
  const { values, positionals } = parseNodeArgs({
    args: argv, allowPositionals: true,
    options: { limit: { type: 'string' }, epochs: { type: 'string' }, seeds: { type: 'string' }, lrs: { type: 'string' } },
  });
  const whole = (name: string, v: string | undefined, fallback: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number >= 1, got "${v}"`);
    return n;
  };
  const lrs = values.lrs?.split(',').map((v) => {
    const n = Number(v);
    if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--lrs must list positive numbers, got "${values.lrs}"`);
    return n;
  });
  return {
    data: positionals[0], limit: whole('limit', values.limit, 1000), epochs: whole('epochs', values.epochs, 4),
    seeds: whole('seeds', values.seeds, 3), lrs: lrs ?? [0.25, 0.1, 0.05, 0.01],
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  // One data set for every run: the runs differ only in seed, rate and the ReLU.
  const device = cudaAvailable() ? 'cuda' : 'cpu';
  const dataset: Dataset = await loadCifar10(o.data, { limit: o.limit, testLimit: 1000, device });
  console.log(`ALL-CNN-C, ${dataset.train.count} training images, ${o.epochs} epoch${o.epochs === 1 ? '' : 's'}, batch 128, GCN + ZCA, ${device}`);
  console.log('| final ReLU | lr | seed | training loss per epoch | val acc | spread | stalled |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  const stalled = { true: 0, false: 0 };
  const runs = { true: 0, false: 0 };
  try {
    for (const finalRelu of [true, false]) {
      for (const lr of o.lrs) {
        for (let seed = 0; seed < o.seeds; seed++) {
          const config = { model: 'all-cnn-c', epochs: o.epochs, lr, seed, finalRelu, device };
          const r = await trainModel(config, { dataset, keepModel: true });
          const spread = scoreSpread(r.network!, dataset.validation);
          r.network!.dispose();
          runs[`${finalRelu}`]++;
          if (r.stalled) stalled[`${finalRelu}`]++;
          const losses = r.history.map((h) => h.loss.toFixed(4)).join(', ');
          const acc = (100 * r.validation.accuracy).toFixed(1);
          console.log(`| ${finalRelu ? 'yes' : 'no'} | ${lr} | ${seed} | ${losses} | ${acc}% | ${spread.toPrecision(2)} | ${r.stalled ? 'yes' : 'no'} |`);
        }
      }
    }
  } finally {
    dataset.dispose();
  }
  console.log(`stalled: ${stalled.true} of ${runs.true} runs with the final ReLU, ${stalled.false} of ${runs.false} without`);
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
