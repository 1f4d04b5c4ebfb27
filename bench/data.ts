/**
 * npm run bench:data -- [--archive path] [--repeats 3] [--json]
 *
 * Reading and decoding the CIFAR-10 binary archive against `gzip -dc archive
 * > /dev/null` on the same machine (goal: at most 1.5x). Then preparing it
 * (the split, GCN, the ZCA from the cache, float32 tensors) for scoring a
 * checkpoint (`limit: 1`, as evaluate, visualize and predict do) and for
 * training on all its training images (49,000); an untimed first
 * preparation fills the ZCA cache, so that every timed one reads it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCifar10 } from '../lib/data/cifar';
import { prepareDataset } from '../lib/data/dataset';
import { backend } from '../lib/backend';
import { deviceName, parseArgs, positiveInt } from './args';

async function main() {
  const a = parseArgs(process.argv.slice(2), { archive: path.resolve(__dirname, '../../../shared/datasets/cifar-10-binary.tar.gz'), repeats: 3, json: false });
  const archive = String(a.archive);
  const repeats = positiveInt(a, 'repeats');
  if (!fs.existsSync(archive)) throw new Error(`no archive at ${archive}: pass --archive path/to/cifar-10-binary.tar.gz`);
  // The goal is a ratio to gzip's own time, which needs the .tar.gz itself.
  if (!fs.statSync(archive).isFile()) throw new Error(`${archive} is a folder: pass the archive, --archive path/to/cifar-10-binary.tar.gz (this benchmark compares reading it with gzip -dc)`);
  const gzip: number[] = [];
  const ours: number[] = [];
  for (let i = 0; i < repeats; i++) {
    let t = process.hrtime.bigint();
    execFileSync('sh', ['-c', `gzip -dc "${archive}" > /dev/null`]);
    gzip.push(Number(process.hrtime.bigint() - t) / 1e9);
    t = process.hrtime.bigint();
    const data = await readCifar10(archive);
    ours.push(Number(process.hrtime.bigint() - t) / 1e9);
    if (data.train.count + data.test.count === 0) throw new Error('empty archive');
  }
  const raw = await readCifar10(archive);
  const warm = prepareDataset(raw, { limit: 1 }); // fills the ZCA cache: the times below are of cache hits
  const trainImages = raw.train.count - warm.validation.count;
  warm.dispose();
  const prepare = (limit?: number) => {
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t = process.hrtime.bigint();
      prepareDataset(raw, { limit }).dispose();
      times.push(Number(process.hrtime.bigint() - t) / 1e9);
    }
    return times;
  };
  const scoring = prepare(1);
  const training = prepare();
  const best = (xs: number[]) => Math.min(...xs);
  const result = {
    archive, device: deviceName(false), libtorch: backend().loadedVersion, gzipSeconds: best(gzip), readSeconds: best(ours), ratio: best(ours) / best(gzip),
    prepareForScoringSeconds: best(scoring), prepareForTrainingSeconds: best(training), trainImages, repeats, date: new Date().toISOString(),
  };
  if (a.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log([
      `${archive}; ${result.device}; LibTorch ${result.libtorch}; ${result.date}`,
      `  gzip -dc > /dev/null: ${result.gzipSeconds.toFixed(2)} s`,
      `  readCifar10:          ${result.readSeconds.toFixed(2)} s`,
      `  ratio:                ${result.ratio.toFixed(2)} (goal <= 1.5; best of ${result.repeats})`,
      `  prepareDataset, GCN + cached ZCA, for scoring (limit 1): ${result.prepareForScoringSeconds.toFixed(2)} s`,
      `  prepareDataset, GCN + cached ZCA, for training (${trainImages.toLocaleString('en-US')}): ${result.prepareForTrainingSeconds.toFixed(2)} s`,
    ].join('\n'));
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? `error: ${err.message}` : err);
  process.exit(1);
});
