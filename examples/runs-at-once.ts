/**
 * Example: several trainModel() runs in flight at once in one process, on
 * one loaded data set, as `allcnn reproduce --concurrency N` trains them.
 *
 *   npm run build:ts && node dist/examples/runs-at-once.js [path/to/cifar-10-binary.tar.gz]
 *
 * Three seeds of Strided-CNN-A train together; then the first seed trains
 * again alone. Each run draws its batch order, augmentation and dropout masks
 * from generators of its own, so on the CPU the run trained alone repeats the
 * one trained beside the others bit for bit. On a GPU each run gets a CUDA
 * stream of its own (cudaStream), so that their kernels overlap; there the
 * two agree only up to cuDNN's autotuned kernels, which are not
 * bit-reproducible.
 *
 * On two CPU cores (AMD EPYC, LibTorch 1.13.1, 2026-12-01, bundled sample)
 * the three runs took 11.8 s together and the first seed 2.7 s alone, with
 * the same losses bit for bit: on a CPU, runs at once only compete for the
 * cores (one after another would take about 8 s); the point of them is a GPU
 * that one small network leaves partly idle.
 *
 * In your own project, import from 'allcnn' instead of '../lib'.
 */
import { cudaAvailable, loadCifar10, trainModel } from '../lib';

async function main(): Promise<void> {
  const data = process.argv[2]; // undefined: the bundled sample
  const device = cudaAvailable() ? 'cuda' : 'cpu';
  // Loaded (and preprocessed) once, shared by every run: nothing is copied per run.
  const dataset = await loadCifar10(data, { prep: 'std', limit: data ? 4000 : undefined, device });
  const config = {
    model: 'strided-cnn-a', epochs: 4, lr: 0.05, batchSize: 32, augment: true, finalRelu: false, stallEpochs: 0, prep: 'std' as const,
    device, cudaStream: device === 'cuda',
  };
  try {
    const seeds = [1, 2, 3];
    let started = Date.now();
    const together = await Promise.all(seeds.map((seed) => trainModel({ ...config, seed }, { dataset })));
    console.log(`${seeds.length} runs at once on ${device}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const [k, r] of together.entries()) {
      console.log(`  seed ${seeds[k]}: train loss ${r.history.map((e) => e.loss.toFixed(4)).join(' → ')}, test ${(100 * r.test.accuracy).toFixed(1)}%`);
    }
    const tests = together.map((r) => 100 * r.test.accuracy);
    const mean = tests.reduce((a, b) => a + b, 0) / tests.length;
    const sd = Math.sqrt(tests.reduce((a, b) => a + (b - mean) ** 2, 0) / (tests.length - 1));
    console.log(`  test accuracy over the seeds: ${mean.toFixed(1)} ± ${sd.toFixed(1)}% (the spread one seed hides)`);

    started = Date.now();
    const alone = await trainModel({ ...config, seed: seeds[0] }, { dataset });
    console.log(`seed ${seeds[0]} alone: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const same = alone.history.every((e, i) => e.loss === together[0].history[i].loss) && alone.test.loss === together[0].test.loss;
    const largest = Math.max(...alone.history.map((e, i) => Math.abs(e.loss - together[0].history[i].loss)));
    console.log(same ? '  the same losses, bit for bit, as when it trained beside the others' : `  losses differ by at most ${largest.toExponential(1)} (cuDNN's kernels)`);
  } finally {
    dataset.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
