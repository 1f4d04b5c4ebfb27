/**
 * Scoring trained networks: confusionMatrix against known predictions, and
 * evaluateCheckpoint / `allcnn evaluate` reproducing a run's own scores.
 */
import { otherDataNote } from '../lib/cli/util';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { noGrad } from '../lib/autograd';
import { fromArray } from '../lib/creation';
import { readCifar10 } from '../lib/data/cifar';
import { BUNDLED_SAMPLE as SAMPLE, Dataset, loadCifar10, prepareDataset } from '../lib/data/dataset';
import { CheckpointError, DataError, InvalidArgumentError } from '../lib/errors';
import { buildNetwork } from '../lib/model/network';
import { declareNetwork } from '../lib/model/spec';
import { loadSafetensors, saveSafetensors } from '../lib/io/safetensors';
import { exportWeights } from '../lib/train/checkpoint';
import { evaluate, evaluateByClass } from '../lib/train/evaluate';
import { evaluateCheckpoint, runCheckpoint } from '../lib/train/evaluate-checkpoint';
import { predictImages } from '../lib/train/predict-checkpoint';
import { visualizeCheckpoint } from '../lib/visualize/visualize';
import { trainModel, TrainResult } from '../lib/train/train';
import { tempDirs } from './tmp';

const BIN = path.resolve(__dirname, '../../bin/allcnn.js');
const tmp = tempDirs('evaluate');
process.env.ALLCNN_DATA = tmp();

let sample: Dataset;
let run: { dir: string; checkpoint: string; result: TrainResult };
beforeAll(async () => {
  sample = await loadCifar10(undefined, { prep: 'std' });
  // A short run on the bundled sample, checkpointed as `allcnn train` does it.
  const dir = tmp();
  const checkpoint = path.join(dir, 'checkpoint.safetensors');
  const result = await trainModel(
    { model: 'strided-cnn-a', epochs: 2, limit: 200, batchSize: 50, lr: 0.05, prep: 'std', stallEpochs: 0 },
    { checkpoint },
  );
  run = { dir, checkpoint, result };
});
afterAll(() => sample.dispose());

const labelCounts = (y: number[]) => Array.from({ length: 10 }, (_, k) => y.filter((v) => v === k).length);

test('evaluateByClass of a network that always predicts class 3: every image in column 3, and the known loss', async () => {
  // A 1x1 convolution with zero weights and a one-hot bias: the logits are the bias, [0,0,0,5,0,...], for every image.
  const spec = declareNetwork('Const', 'predicts class 3', ['conv 1x1 classes', 'gap', 'softmax']);
  const net = buildNetwork(spec, { classes: 10, finalRelu: false });
  try {
    noGrad(() => {
      for (const [name, p] of net.parameters) {
        if (name.endsWith('bias')) p.copy_(fromArray([0, 0, 0, 5, 0, 0, 0, 0, 0, 0], [10]));
        else p.zero_();
      }
    });
    const counts = labelCounts(sample.test.y.toArray());
    const r = await evaluateByClass(net, sample.test, 10, { batchSize: 7 }); // batches that do not divide the 100 images
    expect(r.confusion.map((row) => row[3])).toEqual(counts);
    expect(r.confusion.flat().reduce((s, v) => s + v, 0)).toBe(100);
    expect(r.count).toBe(100);
    expect(r.accuracy).toBeCloseTo(counts[3] / 100, 12);
    // -log softmax: log(e^5 + 9) for the other classes, 5 less for class 3.
    const logZ = Math.log(Math.exp(5) + 9);
    expect(r.loss).toBeCloseTo((counts[3] * (logZ - 5) + (100 - counts[3]) * logZ) / 100, 5);
  } finally {
    net.dispose();
  }
});

test('evaluateByClass agrees with the native evaluate()', async () => {
  const spec = declareNetwork('Tiny', 'two convolutions', ['conv 3x3 16 /2 relu', 'conv 1x1 classes', 'gap', 'softmax']);
  const net = buildNetwork(spec, { classes: 10, seed: 3 });
  try {
    const r = await evaluateByClass(net, sample.validation, 10);
    const score = await evaluate(net, sample.validation);
    expect(r.count).toBe(score.count);
    expect(r.accuracy).toBeCloseTo(score.accuracy, 10);
    expect(r.loss).toBeCloseTo(score.loss, 5);
    expect(r.confusion.map((row) => row.reduce((s, v) => s + v, 0))).toEqual(labelCounts(sample.validation.y.toArray()));
    for (const batchSize of [0, -1, 2.5]) {
      await expect(evaluateByClass(net, sample.validation, 10, { batchSize })).rejects.toThrow('for batchSize but received');
      await expect(evaluate(net, sample.validation, { batchSize })).rejects.toThrow('for batchSize but received');
    }
  } finally {
    net.dispose();
  }
});

test("evaluateCheckpoint gives back the run's own test and validation scores", async () => {
  const test = await evaluateCheckpoint(run.checkpoint);
  expect(test).toMatchObject({ model: 'strided-cnn-a', name: 'Strided-CNN-A', epoch: 2, epochs: 2, split: 'test', data: null, trainedInPrecision: 'fp32' });
  expect(test.count).toBe(run.result.test.count);
  expect(test.accuracy).toBe(run.result.test.accuracy);
  expect(test.loss).toBeCloseTo(run.result.test.loss, 5);
  expect(test.confusion.reduce((s, row, k) => s + row[k], 0) / test.count).toBeCloseTo(test.accuracy, 10);
  expect(test.perClass.map((c) => c.count)).toEqual(labelCounts(sample.test.y.toArray()));
  expect(test.classNames).toEqual(sample.classNames);

  const validation = await evaluateCheckpoint(run.checkpoint, { split: 'validation' });
  expect(validation.count).toBe(run.result.validation.count);
  expect(validation.accuracy).toBe(run.result.validation.accuracy);
  // The run folder stands for its checkpoint, as on the command line.
  expect(await evaluateCheckpoint(run.dir)).toEqual(test);
});

test('a bf16 run is scored in fp32, and says so: near its result.json, which autocast scored', async () => {
  const dir = tmp();
  const checkpoint = path.join(dir, 'checkpoint.safetensors');
  const result = await trainModel(
    { model: 'strided-cnn-a', epochs: 1, limit: 100, batchSize: 50, lr: 0.05, prep: 'std', stallEpochs: 0, precision: 'bf16' },
    { checkpoint },
  );
  const test = await evaluateCheckpoint(checkpoint);
  expect(test.trainedInPrecision).toBe('bf16');
  expect(test.count).toBe(result.test.count);
  // bf16 keeps 8 bits of mantissa: the losses agree to about 1e-2, not to the last digit.
  expect(Math.abs(test.loss - result.test.loss)).toBeLessThan(2e-2);
  const cli = spawnSync(process.execPath, [BIN, 'evaluate', dir], { encoding: 'utf8', env: { ...process.env } });
  expect(cli.status).toBe(0);
  expect(cli.stdout).toContain('scored in fp32; the run trained in bf16');
});

test("a run on a shared data set (as reproduce trains) is scored on that data set's split, not on its own seed's", async () => {
  const dir = tmp();
  const copy = path.join(dir, 'copy.tar.gz');
  fs.copyFileSync(SAMPLE, copy);
  // The split's seed (7) is not the run's (0): the validation images differ between the two.
  const shared = await loadCifar10(copy, { prep: 'std', seed: 7, validation: 100, limit: 150 });
  expect(shared.recipe).toEqual({ dataset: 'cifar10', data: copy, prep: 'std', seed: 7, validation: 100, limit: 150, testLimit: 100, digest: expect.stringMatching(/^[0-9a-f]{24}$/) });
  const checkpoint = path.join(dir, 'checkpoint.safetensors');
  try {
    const result = await trainModel({ model: 'strided-cnn-a', epochs: 1, lr: 0.05, prep: 'std', stallEpochs: 0 }, { dataset: shared, checkpoint });
    const validation = await evaluateCheckpoint(checkpoint, { split: 'validation' });
    expect(validation.data).toBe(copy);
    expect(validation.count).toBe(100);
    expect(validation.accuracy).toBe(result.validation.accuracy);
    expect(validation.loss).toBeCloseTo(result.validation.loss, 5);
  } finally {
    shared.dispose();
  }

  // A data set made by hand has no recipe: the checkpoint says so, and evaluate refuses it.
  const own = prepareDataset(await readCifar10(SAMPLE), { prep: 'std' });
  try {
    await trainModel({ model: 'strided-cnn-a', epochs: 1, prep: 'std', stallEpochs: 0 }, { dataset: own, checkpoint: path.join(dir, 'own.safetensors') });
  } finally {
    own.dispose();
  }
  await expect(evaluateCheckpoint(path.join(dir, 'own.safetensors'))).rejects.toThrow(/trained on a data set passed in by the caller \(hooks.dataset\)/);
});

test('evaluateCheckpoint refuses what it cannot score, saying what to pass instead', async () => {
  const dir = tmp();
  await expect(evaluateCheckpoint(path.join(dir, 'none.safetensors'))).rejects.toThrow(/no such file/);
  await expect(evaluateCheckpoint(dir)).rejects.toThrow(new CheckpointError(`${dir} is a folder without a checkpoint.safetensors: pass a checkpoint file, or the --out folder of an \`allcnn train\` run (\`allcnn reproduce\` keeps one checkpoint per run in its checkpoints/ folder)`));
  await expect(evaluateCheckpoint(run.checkpoint, { split: 'train' as never })).rejects.toThrow(InvalidArgumentError);
  // A batch size of 0 used to loop for ever; a misspelt option used to be ignored.
  await expect(evaluateCheckpoint(run.checkpoint, { batchSize: 0 })).rejects.toThrow('Expected an integer in [1, 65536] for batchSize but received 0 of type number');
  await expect(evaluateCheckpoint(run.checkpoint, { splt: 'validation' } as never)).rejects.toThrow(
    'Expected one of data, split, device, batchSize for options key but received "splt" of type string',
  );

  // A weights file has no record of the preprocessing.
  const trained = await trainModel({ model: 'strided-cnn-a', epochs: 1, limit: 64, prep: 'std', stallEpochs: 0 }, { keepModel: true });
  const weights = path.join(dir, 'weights.safetensors');
  exportWeights(weights, trained.network!);
  trained.network!.dispose();
  await expect(evaluateCheckpoint(weights)).rejects.toThrow(new CheckpointError(
    `${weights}: a weights file, which does not record how the data were prepared; pass the checkpoint.safetensors of an \`allcnn train\` or \`allcnn reproduce\` run (an \`allcnn transfer\` run keeps none: its scores are in its result.json) (format allcnn-checkpoint-v1)`,
  ));
  // The folder of an `allcnn transfer` run, given to the CLI.
  const transferRun = tmp();
  for (const f of ['weights.safetensors', 'result.json']) fs.writeFileSync(path.join(transferRun, f), '');
  expect(() => runCheckpoint(transferRun)).toThrow('has weights but no checkpoint.safetensors (an `allcnn transfer` run keeps none: its scores are in its result.json)');
  const empty = tmp();
  expect(() => runCheckpoint(empty)).toThrow(`${empty} is a folder without a checkpoint.safetensors: pass a checkpoint file, or the --out folder of an \`allcnn train\` run`);
  // Beside a checkpoint (an `allcnn train` folder), it points at that.
  const besideRun = path.join(run.dir, 'weights-copy.safetensors');
  fs.copyFileSync(weights, besideRun);
  await expect(evaluateCheckpoint(besideRun)).rejects.toThrow(`pass the checkpoint written beside it, ${run.checkpoint} (format allcnn-checkpoint-v1)`);

  // A data recipe that contradicts the config, or names no preparation: CIFAR-100's class names would label a CIFAR-10 network's outputs.
  const edited = path.join(dir, 'edited.safetensors');
  const { tensors, metadata } = loadSafetensors(run.checkpoint);
  try {
    const recipe = JSON.parse(metadata.data);
    saveSafetensors(edited, tensors, { ...metadata, data: JSON.stringify({ ...recipe, dataset: 'cifar100' }) });
    await expect(evaluateCheckpoint(edited)).rejects.toThrow(new CheckpointError(`${edited}: its data recipe names CIFAR-100 but its config CIFAR-10 (a corrupt checkpoint?)`));
    saveSafetensors(edited, tensors, { ...metadata, data: JSON.stringify({ ...recipe, prep: 'bogus' }) });
    await expect(evaluateCheckpoint(edited)).rejects.toThrow(`${edited}: its data recipe's preparation "bogus" is none of zca, std, none (a corrupt checkpoint?)`);
    // Recorded values the scoring reads: the file's fault (exit 1), not an option of the caller's.
    const config = JSON.parse(metadata.config);
    saveSafetensors(edited, tensors, { ...metadata, data: JSON.stringify({ ...recipe, testLimit: -5 }), config: JSON.stringify({ ...config, evalBatchSize: 0 }) });
    await expect(evaluateCheckpoint(edited)).rejects.toThrow(new CheckpointError(`${edited}: it records testLimit -5, evalBatchSize 0, which allcnn never writes (a corrupt or edited checkpoint?)`));
    // Data too small for the run's split: other data, said so (not "Expected an integer ... for validation").
    saveSafetensors(edited, tensors, { ...metadata, data: JSON.stringify({ ...recipe, validation: 100000 }) });
    await expect(evaluateCheckpoint(edited)).rejects.toThrow(new DataError(
      "the run's data recipe does not fit the bundled sample (Expected an integer in [0, 499] for validation (the images held out of the 500 training images) but received 100000 of type number): is it the data the run was trained on? Pass those (--data, or options.data from code)",
    ));
    // A checkpoint's format with no config: corruption, not another file's format nor a run that differs in every option.
    const { config: _config, ...noConfig } = metadata;
    saveSafetensors(edited, tensors, noConfig);
    const corrupt = new CheckpointError(`${edited}: metadata "config" is missing (a corrupt checkpoint?)`);
    await expect(evaluateCheckpoint(edited)).rejects.toThrow(corrupt);
    await expect(trainModel(JSON.parse(metadata.config), { checkpoint: edited, resume: true })).rejects.toThrow(corrupt);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }

  // A run trained on data that is not there any more.
  const moved = path.join(dir, 'moved.safetensors');
  const copy = path.join(dir, 'copy.tar.gz');
  fs.copyFileSync(SAMPLE, copy);
  await trainModel({ model: 'strided-cnn-a', data: copy, epochs: 1, limit: 64, prep: 'std', stallEpochs: 0 }, { checkpoint: moved });
  fs.rmSync(copy);
  await expect(evaluateCheckpoint(moved)).rejects.toThrow(DataError);
  await expect(evaluateCheckpoint(moved)).rejects.toThrow(/copy\.tar\.gz, which is not there from here: pass the CIFAR-10 archive or folder \(--data, or options.data from code\)/);
  expect((await evaluateCheckpoint(moved, { data: SAMPLE })).count).toBe(100);

  // A network of one's own: rebuilt from the layers its checkpoint records, and scored as training scored it.
  const own = path.join(dir, 'own.safetensors');
  const tiny = declareNetwork('Tiny', 'one convolution', ['conv 3x3 8 bn relu', 'conv 1x1 classes', 'gap', 'softmax']);
  const tinyRun = await trainModel({ model: tiny, epochs: 1, limit: 64, prep: 'std', stallEpochs: 0 }, { checkpoint: own });
  const scored = await evaluateCheckpoint(own);
  expect([scored.name, scored.count, scored.accuracy, scored.loss]).toEqual(['Tiny', tinyRun.test.count, tinyRun.test.accuracy, expect.closeTo(tinyRun.test.loss, 5)]);
  // ... and one declared under a paper network's name, by its own layers.
  const namesake = path.join(dir, 'namesake.safetensors');
  const fake = declareNetwork('Strided-CNN-A', 'not the paper\'s', ['conv 3x3 16 /2 relu', 'conv 1x1 classes', 'gap', 'softmax']);
  const fakeRun = await trainModel({ model: fake, epochs: 1, limit: 64, prep: 'std', stallEpochs: 0 }, { checkpoint: namesake });
  expect((await evaluateCheckpoint(namesake)).accuracy).toBe(fakeRun.test.accuracy);
  // Layers that declare no network, and (as written before the layers were kept) none for a network not of the paper.
  const { tensors: ownTensors, metadata: ownMetadata } = loadSafetensors(own);
  try {
    const edited = path.join(dir, 'own-edited.safetensors');
    saveSafetensors(edited, ownTensors, { ...ownMetadata, layers: JSON.stringify([{ kind: 'conv', kernel: 0 }]) });
    await expect(evaluateCheckpoint(edited)).rejects.toThrow(new RegExp(`^${edited.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the layers it records do not declare a network \\(.*\\): a corrupt or edited checkpoint\\?$`));
    const { layers: _layers, ...withoutLayers } = ownMetadata;
    saveSafetensors(edited, ownTensors, withoutLayers);
    await expect(evaluateCheckpoint(edited)).rejects.toThrow(/a checkpoint of "Tiny", neither one of the twelve networks nor one of reproduce's ablations, and it does not record its layers/);
  } finally {
    for (const t of ownTensors.values()) t.dispose();
  }
  // No validation images held out: nothing to score on that split.
  const noValidation = path.join(dir, 'no-validation.safetensors');
  await trainModel({ model: 'strided-cnn-a', epochs: 1, limit: 64, validation: 0, prep: 'std', stallEpochs: 0 }, { checkpoint: noValidation });
  await expect(evaluateCheckpoint(noValidation, { split: 'validation' })).rejects.toThrow(new InvalidArgumentError(`${noValidation}: the run held out no validation images (validation 0), so there is no validation split to score: score the test split`));
});

test('a run that diverged through its validation loss is diverged here too: evaluate says so, predict and visualize refuse its weights', async () => {
  // As a run at lr 100 ends (2.3e34 training loss, NaN validation loss), written into a checkpoint's history: the weights are what the check does not read.
  const file = path.join(tmp(), 'diverged.safetensors');
  const { tensors, metadata } = loadSafetensors(run.checkpoint);
  try {
    const history = JSON.parse(metadata.history);
    history[history.length - 1] = { ...history[history.length - 1], loss: 2.3e34, valLoss: null };
    saveSafetensors(file, tensors, { ...metadata, history: JSON.stringify(history) });
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  expect((await evaluateCheckpoint(file)).diverged).toBe(true);
  const refused = `${file}: this run diverged in epoch ${run.result.history.length} (its training or validation loss became NaN or infinite), so its weights are not numbers`;
  await expect(predictImages(file, [{ width: 1, height: 1, channels: 3, data: new Uint8Array(3) }])).rejects.toThrow(refused);
  await expect(visualizeCheckpoint(file)).rejects.toThrow(refused);
});

test('allcnn evaluate prints per-class accuracies and the confusion matrix, or JSON', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, 'evaluate', ...args], { encoding: 'utf8', env: process.env });
  const text = cli(run.dir); // the run folder stands for its checkpoint
  expect(text.status).toBe(0);
  expect(text.stdout).toContain(`Strided-CNN-A from ${run.checkpoint} (epoch 2 of 2), test split of the bundled sample: 100 images`);
  expect(text.stdout).toContain(`accuracy ${(100 * run.result.test.accuracy).toFixed(2)}%`);
  expect(text.stdout).toMatch(/^class +images +accuracy +most often mistaken for$/m);
  expect(text.stdout).toMatch(/^airplane +\d+ +\d+\.\d\d% /m);
  expect(text.stdout).toContain('confusion matrix (rows: true class, columns: predicted class)');
  // "Most often mistaken for" names every class tied for a row's largest error, as the confusion matrix has it.
  const scored = JSON.parse(cli(run.checkpoint, '--json').stdout) as { classNames: string[]; confusion: number[][] };
  scored.confusion.forEach((row, t) => {
    const errors = row.map((n, p) => (p === t ? -1 : n));
    const most = Math.max(...errors);
    if (row.reduce((a, b) => a + b, 0) === 0) return;
    const line = text.stdout.split('\n').find((l) => l.startsWith(`${scored.classNames[t]} `))!;
    const named = most > 0 ? errors.flatMap((n, p) => (n === most ? [scored.classNames[p]] : [])).join(' or ') : '-';
    expect(line.endsWith(most > 0 ? `  ${named} (${(100 * most / row.reduce((a, b) => a + b, 0)).toFixed(2)}%${named.includes(' or ') ? ' each' : ''})` : '  -')).toBe(true);
  });

  const json = cli(run.checkpoint, '--split', 'validation', '--json');
  expect(json.status).toBe(0);
  const r = JSON.parse(json.stdout);
  expect(r.accuracy).toBe(run.result.validation.accuracy);
  expect(r.confusion).toHaveLength(10);

  expect(r.sameData).toBe(true);

  // The same images elsewhere: nothing to note. Other images: scored, with a note that the preparation was fitted on them.
  const elsewhere = path.join(tmp(), 'copy.tar.gz');
  fs.copyFileSync(SAMPLE, elsewhere);
  expect(cli(run.checkpoint, '--data', elsewhere).stderr).not.toContain('note:');
  expect(cli(run.checkpoint, '--data', SAMPLE).stderr).not.toContain('note:');
  const tar = zlib.gunzipSync(fs.readFileSync(SAMPLE));
  tar[100000] ^= 0xff; // a pixel of data_batch_1.bin
  const changed = path.join(tmp(), 'other.tar.gz');
  fs.writeFileSync(changed, zlib.gzipSync(tar));
  const other = cli(run.checkpoint, '--data', changed);
  expect(other.status).toBe(0);
  expect(other.stderr).toContain(`note: ${changed} holds other images than the run was trained on (the bundled sample); they are prepared with statistics fitted on their own training images, and the scores are of those other data`);
  // A checkpoint written before the digest was kept: another path may be the same data or not, and the note says both.
  const old = path.join(tmp(), 'old.safetensors');
  const { tensors, metadata } = loadSafetensors(run.checkpoint);
  try {
    const { digest, ...recipe } = JSON.parse(metadata.data);
    expect(digest).toMatch(/^[0-9a-f]{24}$/);
    saveSafetensors(old, tensors, { ...metadata, data: JSON.stringify(recipe) });
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  // The file at the recorded path replaced (no --data): said so.
  expect(otherDataNote({ trainedOn: '/d/cifar.tar.gz', dataset: 'cifar10', sameData: false }, undefined, 'scores'))
    .toBe('note: /d/cifar.tar.gz holds other images now than when the run was trained on it; they are prepared with statistics fitted on their own training images, and the scores are of those other data');
  const unknown = cli(old, '--data', elsewhere, '--json');
  expect(JSON.parse(unknown.stdout).sameData).toBeNull();
  expect(unknown.stderr).toContain(`note: the run was trained on the bundled sample, and ${elsewhere} is read in its place, with the preparation fitted on its training images; if that is the same data moved, this is right; if not, the scores are of other data`);

  const bad = cli(run.checkpoint, '--split', 'train');
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('--split must be one of test, validation, got "train"');
  const missing = cli(path.join(run.dir, 'nope'));
  expect(missing.status).toBe(1);
  expect(missing.stderr).toContain('no such file');
});
