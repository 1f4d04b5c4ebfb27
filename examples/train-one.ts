/**
 * Example: train one network of the paper and read its scores.
 *
 *   npm run build:ts && node dist/examples/train-one.js [path/to/cifar-10-binary.tar.gz]
 *
 * With no argument it trains Strided-CNN-A (Model A with strided convolutions
 * instead of max-pooling) on the 600-image CIFAR-10 sample that ships with
 * allcnn, 10 epochs on the CPU. On two cores (AMD EPYC, LibTorch 1.13.1,
 * 2026-12-01) it took 14 s; the training loss fell from 2.31 (chance is
 * ln 10 = 2.30) to 2.13, and it scored 20% on the 50 validation images and 9%
 * on the 100 test images (chance is 10%): 450 training images are far too few
 * to learn from, but every step of a real run is here. For the paper's result use model 'all-cnn-c'
 * on the full data set (`ensureCifar10()` downloads it) with a GPU: after
 * 350 epochs with ZCA the paper reports 90.92% test accuracy (Table 3), and
 * 92.75% with flips and translations.
 *
 * In your own project, import from 'allcnn' instead of '../lib'.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backend, cudaAvailable, trainModel } from '../lib';

async function main(): Promise<void> {
  const data = process.argv[2]; // undefined: the bundled sample
  const b = backend();
  const device = cudaAvailable() ? 'cuda' : 'cpu';
  console.log(`LibTorch ${b.loadedVersion} (${b.builtWithCuda ? 'CUDA' : 'CPU'}), training on ${device}`);

  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'allcnn-train-one-'));
  const result = await trainModel(
    {
      model: 'strided-cnn-a', // any id of MODELS ('all-cnn-c', ...), or a NetworkSpec (see custom-network.ts)
      data,
      epochs: 10,
      lr: 0.05,
      batchSize: 32,
      finalRelu: false, // the paper has a ReLU on the class scores; without it small runs start faster
      stallEpochs: 0, // keep going through epochs at chance level
      prep: 'std', // per-channel standardisation; 'zca' is the paper's
      device,
      seed: 0,
    },
    {
      // Written after every epoch: `allcnn train --resume` or resume: true continue from it.
      checkpoint: path.join(out, 'checkpoint.safetensors'),
      onProgress: (p) => {
        if (p.type === 'start') console.log(`${p.config.model}: ${p.parameters.toLocaleString('en-US')} parameters, ${p.trainImages} training images`);
        if (p.type === 'epoch') {
          const r = p.record;
          console.log(`epoch ${r.epoch}: train loss ${r.loss.toFixed(3)}, validation accuracy ${(100 * r.valAccuracy).toFixed(1)}% (${r.seconds.toFixed(1)} s)`);
        }
      },
    },
  );
  console.log(`validation ${(100 * result.validation.accuracy).toFixed(1)}% on ${result.validation.count} images, ` +
    `test ${(100 * result.test.accuracy).toFixed(1)}% on ${result.test.count} images, ${result.seconds.toFixed(0)} s`);
  console.log(`checkpoint: ${path.join(out, 'checkpoint.safetensors')} (per-class accuracies: npx allcnn evaluate ${out})`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
