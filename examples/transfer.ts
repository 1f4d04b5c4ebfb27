/**
 * Example: transfer learning. Train Strided-CNN-A on CIFAR-10, then move its
 * convolutional body to a small CIFAR-100 subset (the 10 vehicle classes)
 * with a new classifier, and compare with the same network trained from
 * scratch on the subset alone.
 *
 *   npm run build:ts && node dist/examples/transfer.js [cifar-10-binary.tar.gz cifar-100-binary.tar.gz]
 *
 * With no arguments it uses the samples bundled with allcnn (600 CIFAR-10 and
 * 300 CIFAR-100 images): 17 s on a two-core CPU (2026-12-01). Expect three
 * lines: pretrain (validation 20% there), features (only the new head's 1,930
 * of 839,242 parameters trained) and scratch, the last two with test
 * accuracies of 5.8% and 15.4% there (chance is 10% for the 10 vehicle
 * classes): on a few hundred
 * images the comparison is noise; it means something on the full data sets
 * (`allcnn reproduce --preset transfer --data ... --data100 ...`).
 *
 * In your own project, import from 'allcnn' instead of '../lib'.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainModel, transfer } from '../lib';

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

async function main(): Promise<void> {
  const [cifar10, cifar100] = process.argv.slice(2);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'allcnn-transfer-'));
  try {
    await run(path.join(out, 'cifar10.safetensors'), cifar10, cifar100);
  } finally {
    fs.rmSync(out, { recursive: true, force: true }); // the pretrained checkpoint served its purpose
  }
}

async function run(checkpoint: string, cifar10: string | undefined, cifar100: string | undefined): Promise<void> {

  // 1. Pretrain on CIFAR-10 (the same checkpoint file `allcnn train` writes).
  const pre = await trainModel({ model: 'strided-cnn-a', data: cifar10, epochs: 10, lr: 0.05, batchSize: 32, finalRelu: false, stallEpochs: 0, prep: 'std' }, { checkpoint });
  console.log(`pretrain  CIFAR-10:           validation ${pct(pre.validation.accuracy)} (${pre.seconds.toFixed(0)} s)`);

  // 2. Its body, frozen, under a new 1x1-convolution head for the subset's classes.
  const features = await transfer({ from: checkpoint, data: cifar100, subset: 'vehicles', mode: 'features', epochs: 5, batchSize: 32, stallEpochs: 0 });
  console.log(`features  CIFAR-100 vehicles: test ${pct(features.test.accuracy)}, ` +
    `${features.trainableParameters.toLocaleString('en-US')} of ${features.parameters.toLocaleString('en-US')} parameters trained`);

  // 3. The baseline: the same network from random weights on the subset alone.
  const scratch = await transfer({ model: 'strided-cnn-a', data: cifar100, subset: 'vehicles', mode: 'scratch', epochs: 5, batchSize: 32, finalRelu: false, stallEpochs: 0, prep: 'std' });
  console.log(`scratch   CIFAR-100 vehicles: test ${pct(scratch.test.accuracy)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
