/**
 * Example: what drives a unit of a trained network, by guided
 * backpropagation (the paper's section 3.4).
 *
 *   npm run build:ts && node dist/examples/guided-backprop.js [run folder ...]
 *
 * With no argument it trains Strided-CNN-A for 3 epochs on the bundled
 * 600-image sample (15 s in all on two CPU cores, 2026-12-02) and looks at that; give it the
 * --out folders of `allcnn train` runs to look at those instead. For each
 * network it
 *  1. writes, with visualizeCheckpoint(), the figure of each class map's
 *     strongest test images and their reconstructions by all three methods;
 *  2. steps back, with reconstruct(), from the class score "cat" to 100 test
 *     images by each method, and measures how alike
 *     the reconstructions of different images are: the mean cosine
 *     similarity over all pairs. The paper's figure 4 argues that without
 *     max-pooling, whose switches tie it to the image, "deconvnet" shows the
 *     same pattern whatever the image: 1.000 here, where guided
 *     backpropagation stays image-specific.
 *
 * In your own project, import from 'allcnn' instead of '../lib'.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  buildNetwork, loadCheckpoint, loadCifar10, MODELS, Network, readSafetensorsMetadata, reconstruct, RECONSTRUCTION_METHODS, Tensor, tidy,
  trainModel, visualizeCheckpoint,
} from '../lib';

/** Mean cosine similarity between the reconstructions of all pairs of images. */
function alike(network: Network, images: Tensor, method: (typeof RECONSTRUCTION_METHODS)[number]): number {
  return tidy(() => {
    const n = images.shape[0];
    const r = reconstruct(network, images, { layer: 'gap1', channel: 3, method }).reshape([n, -1]);
    const unit = r.div(r.square().sum(1, true).sqrt().add(1e-12));
    const cosines = unit.matmul(unit.transpose(0, 1)); // [n, n], ones on the diagonal
    return cosines.sum().sub(n).div(n * (n - 1)).item();
  });
}

async function look(checkpoint: string): Promise<void> {
  // 1. The figure, as `allcnn visualize` makes it.
  const v = await visualizeCheckpoint(checkpoint, { top: 6, methods: [...RECONSTRUCTION_METHODS], images: 1000 });
  const figure = path.join(path.dirname(checkpoint), 'classes-all-methods.png');
  fs.writeFileSync(figure, v.png);
  console.log(`${v.name}: ${figure}`);

  // 2. The same network and test images as the figure, rebuilt from the checkpoint's recipe.
  const { network, images, dispose } = await reload(checkpoint, v.data ?? undefined);
  for (const method of RECONSTRUCTION_METHODS) {
    console.log(`  ${method.padEnd(10)} mean cosine similarity between images: ${alike(network, images, method).toFixed(3)}`);
  }
  dispose();
}

/** The checkpoint's network and its first 100 test images, prepared as the run prepared them. */
async function reload(checkpoint: string, data: string | undefined) {
  const metadata = readSafetensorsMetadata(checkpoint);
  const config = JSON.parse(metadata.config!);
  const recipe = JSON.parse(metadata.data!);
  const dataset = await loadCifar10(data, { prep: recipe.prep, seed: recipe.seed, validation: recipe.validation, limit: 1, testLimit: 100 });
  const network = buildNetwork(MODELS[config.model], { finalRelu: config.finalRelu });
  loadCheckpoint(checkpoint, network, null, config);
  return { network, images: dataset.test.x, dispose: () => (network.dispose(), dataset.dispose()) };
}

async function main(): Promise<void> {
  const runs = process.argv.slice(2);
  if (runs.length === 0) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allcnn-guided-'));
    const checkpoint = path.join(dir, 'checkpoint.safetensors');
    await trainModel({ model: 'strided-cnn-a', epochs: 3, lr: 0.05, stallEpochs: 0 }, { checkpoint });
    runs.push(dir);
  }
  for (const run of runs) await look(path.join(run, 'checkpoint.safetensors'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
