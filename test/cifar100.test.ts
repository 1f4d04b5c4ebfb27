/**
 * Training on CIFAR-100's 100 fine classes (the paper's CIFAR-100 row):
 * the data set, the config, checkpoints that say what they were trained on,
 * evaluate / compare / transfer reading them, and older checkpoints (which
 * do not say) read as CIFAR-10. The full official archive is not on these
 * machines, so a synthetic one with all 100 classes stands in for it; the
 * real images are those of the bundled sample and the subsets archive.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CIFAR_IMAGE_BYTES, CIFAR100_RECORD_BYTES, readCifar100 } from '../lib/data/cifar';
import { BUNDLED_CIFAR100_SAMPLE, BUNDLED_SAMPLE, loadCifar10, loadCifar100 } from '../lib/data/dataset';
import { splitTrainValidation } from '../lib/data/split';
import { loadSafetensors, saveSafetensors } from '../lib/io/safetensors';
import { countParameters } from '../lib/model/spec';
import { PRESETS } from '../lib/experiments/presets';
import { reproduce } from '../lib/experiments/runner';
import { compareRuns } from '../lib/report/compare';
import { configHash } from '../lib/train/checkpoint';
import { resolveConfig } from '../lib/train/config';
import { evaluateCheckpoint, readRun } from '../lib/train/evaluate-checkpoint';
import { trainModel } from '../lib/train/train';
import { resolveTransferConfig } from '../lib/transfer/config';
import { transfer } from '../lib/transfer/transfer';
import { MODELS } from '../models';
import { tempDirs } from './tmp';

const BIN = path.resolve(__dirname, '../../bin/allcnn.js');
const SHARED = process.env.ALLCNN_SHARED_DATASETS ?? path.resolve(__dirname, '../../../shared/datasets');
const SUBSETS = path.join(SHARED, 'cifar-100-subsets-binary.tar.gz');
const tmp = tempDirs('cifar100');
process.env.ALLCNN_DATA = tmp();

/** A CIFAR-100 binary folder with all 100 fine classes: `perClass` training and one test image each, random pixels. */
async function fullCifar100(perClass: number): Promise<string> {
  const { fineNames, coarseNames } = await readCifar100(BUNDLED_CIFAR100_SAMPLE);
  const dir = path.join(tmp(), 'cifar-100-binary');
  fs.mkdirSync(dir);
  const records = (n: number, seed: number) => {
    const buf = Buffer.alloc(100 * n * CIFAR100_RECORD_BYTES);
    let s = seed;
    for (let i = 0; i < 100 * n; i++) {
      const at = i * CIFAR100_RECORD_BYTES;
      buf[at] = (i % 100) % 20; // coarse
      buf[at + 1] = i % 100; // fine
      for (let b = 0; b < CIFAR_IMAGE_BYTES; b++) buf[at + 2 + b] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
    }
    return buf;
  };
  fs.writeFileSync(path.join(dir, 'train.bin'), records(perClass, 1));
  fs.writeFileSync(path.join(dir, 'test.bin'), records(1, 2));
  fs.writeFileSync(path.join(dir, 'fine_label_names.txt'), `${fineNames.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'coarse_label_names.txt'), `${coarseNames.join('\n')}\n`);
  return dir;
}

test('the validation images are spread over the classes that have images', () => {
  // Classes 3 and 7 of 10 only, as the subsets archive has 20 of CIFAR-100's 100.
  const labels = Uint8Array.from([...Array(20).fill(3), ...Array(20).fill(7)]);
  const { train, validation } = splitTrainValidation(labels, { validation: 10, classes: 10 });
  expect(validation.length).toBe(10);
  expect([...validation].filter((i) => labels[i] === 3).length).toBe(5);
  expect(train.length).toBe(30);
  // With every class present the split is the one it always was (the first classes take the remainder).
  const all = Uint8Array.from(Array.from({ length: 30 }, (_, i) => i % 3));
  const v = splitTrainValidation(all, { validation: 4, classes: 3 }).validation;
  expect([0, 1, 2].map((c) => [...v].filter((i) => all[i] === c).length)).toEqual([2, 1, 1]);
  // Large data sets: the labels were spread into function arguments, which overflowed the call stack past about 120,000.
  const many = new Uint8Array(300000).map((_, i) => i % 2);
  const big = splitTrainValidation(many);
  expect([big.train.length, big.validation.length, new Set([...big.train, ...big.validation]).size]).toEqual([299000, 1000, 300000]);
});

test('loadCifar100 gives the 100 fine classes, and names those the data lack', async () => {
  const set = await loadCifar100(undefined, { prep: 'std' });
  try {
    expect(set.classes).toBe(100);
    expect(set.classNames.slice(0, 3)).toEqual(['apple', 'aquarium_fish', 'baby']);
    // The bundled sample holds the 20 classes of the two transfer subsets: 180 + 20 training, 100 test images.
    expect(set.absentClasses.length).toBe(80);
    expect(set.absentClasses).not.toContain('bicycle');
    expect(set.absentClasses).toContain('apple');
    expect([set.train.count, set.validation.count, set.test.count]).toEqual([180, 20, 100]);
    expect(set.recipe).toEqual({ dataset: 'cifar100', data: null, prep: 'std', seed: 0, validation: 20, limit: 180, testLimit: 100, digest: expect.stringMatching(/^[0-9a-f]{24}$/) });
    // Labels are the official fine labels: bicycle is 8.
    const labels = set.test.y.toArray();
    expect(Math.max(...labels)).toBeLessThan(100);
    expect(labels).toContain(set.classNames.indexOf('bicycle'));
    expect(set.classNames.indexOf('bicycle')).toBe(8);
  } finally {
    set.dispose();
  }
  const ten = await loadCifar10(undefined, { prep: 'std', limit: 10 });
  expect(ten.absentClasses).toEqual([]);
  expect(ten.recipe!.dataset).toBe('cifar10');
  ten.dispose();
});

(fs.existsSync(SUBSETS) ? test : test.skip)('the subsets archive as CIFAR-100: 1,000 validation images, 50 from each of its 20 classes', async () => {
  const set = await loadCifar100(SUBSETS, { prep: 'none', device: 'cpu' });
  try {
    expect([set.train.count, set.validation.count, set.test.count]).toEqual([9000, 1000, 2000]);
    expect(set.absentClasses.length).toBe(80);
    const counts = new Map<number, number>();
    for (const l of set.validation.y.toArray()) counts.set(l, (counts.get(l) ?? 0) + 1);
    expect([...counts.values()]).toEqual(Array(20).fill(50));
  } finally {
    set.dispose();
  }
});

test('the config takes dataset cifar10 (the default) or cifar100, and nothing else', () => {
  expect(resolveConfig({ model: 'all-cnn-c' }).dataset).toBe('cifar10');
  expect(resolveConfig({ model: 'all-cnn-c', dataset: 'cifar100' }).dataset).toBe('cifar100');
  expect(() => resolveConfig({ model: 'all-cnn-c', dataset: 'cifar1000' as never })).toThrow('Expected one of cifar10, cifar100 for dataset');
});

test('a transfer config takes no dataset: it trains on the subset it names', () => {
  expect(() => resolveTransferConfig({ subset: 'flora', mode: 'scratch', model: 'all-cnn-c', dataset: 'cifar100' } as never, null))
    .toThrow('Expected no dataset option (a transfer run trains on the CIFAR-100 subset named by subset) for dataset but received "cifar100"');
});

test('checkpoints written before CIFAR-100 keep their config hash; a CIFAR-100 run gets another', () => {
  const c = resolveConfig({ model: 'all-cnn-c' });
  const { dataset: _, ...old } = c;
  expect(configHash(c)).toBe(configHash(old));
  expect(configHash({ ...c, dataset: 'cifar100' })).not.toBe(configHash(c));
});

describe('ALL-CNN-C on a full (synthetic) CIFAR-100', () => {
  let data: string;
  let checkpoint: string;
  let result: Awaited<ReturnType<typeof trainModel>>;
  beforeAll(async () => {
    data = await fullCifar100(3);
    checkpoint = path.join(tmp(), 'checkpoint.safetensors');
    result = await trainModel({ model: 'all-cnn-c', dataset: 'cifar100', data, epochs: 1, prep: 'std', stallEpochs: 0 }, { checkpoint });
  });

  test('the network has 100 outputs, and the run says what it was trained on', () => {
    expect(result.parameters).toBe(countParameters(MODELS['all-cnn-c'], { classes: 100 }));
    expect(result.config.dataset).toBe('cifar100');
    expect(result.absentClasses).toEqual([]);
    // 300 images, a tenth for validation: one from each of the first 30 classes.
    expect([result.validation.count, result.test.count]).toEqual([30, 100]);
    expect(readRun(checkpoint).recipe.dataset).toBe('cifar100');
  });

  test('evaluateCheckpoint scores it again on the same 100 classes', async () => {
    const r = await evaluateCheckpoint(checkpoint);
    expect(r.dataset).toBe('cifar100');
    expect(r.classNames.length).toBe(100);
    expect(r.confusion.length).toBe(100);
    expect(r.count).toBe(100);
    expect(r.accuracy).toBeCloseTo(result.test.accuracy, 10);
    // CIFAR-10 given in its place: the error says what the run needs.
    await expect(evaluateCheckpoint(checkpoint, { data: BUNDLED_SAMPLE })).rejects.toThrow(/: this is CIFAR-10, not CIFAR-100.*\(this run was trained on CIFAR-100: it is scored on that data set's archive or folder\)$/);
  });

  test('compare sets it beside the paper\'s CIFAR-100 result and leaves it out of the CIFAR-10 claims', () => {
    const { network: _, ...record } = result;
    const c = compareRuns([{ label: 'c100', result: record }]);
    expect(c.rows[0].dataset).toBe('cifar100');
    expect(c.rows[0].paperTestAccuracy).toBeCloseTo(100 - 33.71, 10);
    expect(c.bases).toEqual([]);
    // Data that lack classes get no paper number.
    const partial = compareRuns([{ label: 'subsets', result: { ...record, absentClasses: ['apple'] } }]);
    expect(partial.rows[0].paperTestAccuracy).toBeNaN();
  });

  test('transfer refuses it: its training images hold every subset\'s classes', async () => {
    await expect(transfer({ from: checkpoint, subset: 'flora', epochs: 1 })).rejects.toThrow(/was trained on CIFAR-100, whose training images hold every subset's classes/);
  });

  test('reproduce\'s extra cifar100 adds the paper\'s CIFAR-100 row, beside its 33.71%', async () => {
    const out = path.join(tmp(), 'r');
    const o = { ...PRESETS.smoke, device: 'cpu', models: ['all-cnn-c'], lrs: [0.05], epochs: 1, probeEpochs: 1, limit: 100, testLimit: 100, prep: 'std' as const, extras: ['cifar100' as const] };
    const { summary, report } = await reproduce('t', o, { out, data100: data });
    const row = summary.rows.find((r) => r.group === 'cifar100')!;
    expect(row.label).toBe('ALL-CNN-C on CIFAR-100');
    expect(row.lr).toBe(0.05); // ALL-CNN-C's rate on CIFAR-10
    expect(row.paperTestAccuracy).toBeCloseTo(0.6629, 10);
    expect(row.absentClasses).toBeUndefined();
    const md = fs.readFileSync(report, 'utf8');
    expect(md).toContain('## CIFAR-100');
    expect(md).toMatch(/\| ALL-CNN-C on CIFAR-100 \| 0.05 \| 1 \| [\d.]+ \| [\d.]+ \| 66.29 \|/);
    const records = fs.readFileSync(path.join(out, 'runs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const rec = records.find((r) => r.group === 'cifar100');
    expect(rec.config.dataset).toBe('cifar100');
    expect(rec.test.count).toBe(100);
    // Its checkpoint is scored again on CIFAR-100.
    const scored = await evaluateCheckpoint(path.join(out, 'checkpoints', 'cifar100_all-cnn-c_lr=0.05_seed=0.safetensors'));
    expect(scored.dataset).toBe('cifar100');
    expect(scored.accuracy).toBeCloseTo(rec.test.accuracy, 10);
    // data100 without the extra is a mistake, not ignored.
    await expect(reproduce('t', { ...o, extras: [] }, { out: path.join(tmp(), 'r2'), data100: data })).rejects.toThrow("where.data100 is read only with the extra 'cifar100'");
  });

  test('a data set of the other kind in hooks.dataset is refused', async () => {
    const set = await loadCifar100(data, { prep: 'std' });
    try {
      await expect(trainModel({ model: 'strided-cnn-a', epochs: 1 }, { dataset: set })).rejects.toThrow("hooks.dataset holds CIFAR-100 but config.dataset is 'cifar10': set dataset: 'cifar100'");
    } finally {
      set.dispose();
    }
  });
});

test('a checkpoint written before CIFAR-100 (no dataset recorded) is read, scored and resumed as CIFAR-10', async () => {
  const checkpoint = path.join(tmp(), 'checkpoint.safetensors');
  const config = { model: 'strided-cnn-a', epochs: 2, limit: 60, testLimit: 50, prep: 'std' as const, stallEpochs: 0 };
  const first = await trainModel(config, { checkpoint, stopAfterEpoch: 1 });
  // Take `dataset` out of the saved config and recipe, as the older versions wrote them.
  const { tensors, metadata } = loadSafetensors(checkpoint);
  const { dataset: _c, ...oldConfig } = JSON.parse(metadata.config);
  const { dataset: _d, ...oldRecipe } = JSON.parse(metadata.data);
  saveSafetensors(checkpoint, tensors, { ...metadata, config: JSON.stringify(oldConfig), data: JSON.stringify(oldRecipe) });
  for (const t of tensors.values()) t.dispose();

  expect(readRun(checkpoint).config.dataset).toBe('cifar10');
  const scored = await evaluateCheckpoint(checkpoint);
  expect(scored.dataset).toBe('cifar10');
  expect(scored.accuracy).toBeCloseTo(first.test.accuracy, 10);
  const resumed = await trainModel(config, { checkpoint, resume: true });
  expect(resumed.resumedFrom).toBe(1);
  expect(resumed.history.length).toBe(2);
});

test('real CIFAR-100 images (the bundled sample): training lowers the loss', async () => {
  const r = await trainModel({ model: 'strided-cnn-a', dataset: 'cifar100', epochs: 4, batchSize: 20, lr: 0.05, prep: 'std', schedule: 'constant', stallEpochs: 0 });
  expect(r.history[3].loss).toBeLessThan(r.history[0].loss - 0.2);
  expect(r.absentClasses.length).toBe(80);
});

test('`allcnn train --dataset cifar100` and `allcnn evaluate` on it, as a user runs them', () => {
  const cwd = tmp();
  const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env } });
  const train = run('train', '--dataset', 'cifar100', '--model', 'strided-cnn-a', '--epochs', '1', '--prep', 'std');
  expect(train.stderr).toContain('180 training images of CIFAR-100');
  expect(train.stderr).toContain("note: only 20 of CIFAR-100's 100 classes have images in these data; the network keeps all 100 outputs");
  expect(train.status).toBe(0);
  const out = path.join(cwd, 'results', 'train-strided-cnn-a-cifar100');
  expect(fs.existsSync(path.join(out, 'checkpoint.safetensors'))).toBe(true);
  expect(JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8')).config.dataset).toBe('cifar100');

  const evaluate = run('evaluate', out);
  expect(evaluate.status).toBe(0);
  expect(evaluate.stdout).toContain('(80 of the 100 classes have no images in this split)');
  expect(evaluate.stdout).toContain('confusion matrix: 100 x 100, too wide to print; --json gives it');
  expect(evaluate.stdout).toMatch(/\nbicycle +\d+ /);
  expect(evaluate.stdout).not.toMatch(/\napple /);

  // visualize shows, by default, the classes that have images: not apple, aquarium_fish, ... which have none here.
  const shown = run('visualize', out, '--top', '2', '--out', 'v.png');
  expect(shown.status).toBe(0);
  const units = JSON.parse(fs.readFileSync(path.join(cwd, 'v.json'), 'utf8')).units as { className: string }[];
  expect(units).toHaveLength(10);
  const absent = JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8')).absentClasses as string[];
  expect(units.filter((u) => absent.includes(u.className))).toEqual([]);
  expect(shown.stdout).toContain('channel 8 (bicycle)');

  // transfer takes the run's folder for --from, and refuses a CIFAR-100 network, as a checkpoint or as weights.
  const moved = run('transfer', '--from', out, '--subset', 'flora', '--epochs', '1');
  expect(moved.status).toBe(1);
  expect(moved.stderr).toContain(`${path.join(out, 'checkpoint.safetensors')} was trained on CIFAR-100`);
  const weights = run('transfer', '--from', path.join(out, 'weights.safetensors'), '--subset', 'flora', '--epochs', '1');
  expect(weights.status).toBe(1);
  expect(weights.stderr).toContain(`${path.join(out, 'weights.safetensors')} was trained on CIFAR-100`);

  const stray = run('reproduce', '--preset', 'smoke', '--data100', 'x.tar.gz');
  expect(stray.status).toBe(2);
  expect(stray.stderr).toContain('--data100 is read by --preset transfer and by the CIFAR-100 row: add cifar100 to --extras');

  const bad = run('train', '--dataset', 'cifar1000');
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/--dataset.*cifar1000.*cifar10, cifar100/);
});
