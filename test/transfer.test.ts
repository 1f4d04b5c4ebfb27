/**
 * Transfer learning: CIFAR-100 subset selection and label remapping, the
 * split, head shapes for K classes, partial load + freeze (frozen tensors
 * unchanged, the head trained), checkpoints of another architecture, and the
 * transfer preset writing its report. Small and fast: Strided-CNN-A on the
 * bundled samples with 'std' preprocessing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readCifar100 } from '../lib/data/cifar';
import { BUNDLED_CIFAR100_SAMPLE, BUNDLED_SAMPLE } from '../lib/data/dataset';
import { loadCifar100Subset, selectSubset } from '../lib/data/subsets';
import { CheckpointError, InvalidArgumentError, ModelDeclarationError } from '../lib/errors';
import { lockFolder } from '../lib/experiments/lock';
import { reproduceTransfer, TRANSFER_PRESETS, TransferSummary } from '../lib/experiments/transfer';
import { reportTransferFolder } from '../lib/experiments/transfer-folder';
import { loadSafetensors, saveSafetensors } from '../lib/io/safetensors';
import { declareNetwork } from '../lib/model/spec';
import { buildNetwork } from '../lib/model/network';
import { nearFarSection, transferGains } from '../lib/report/transfer';
import { liveTensors } from '../lib/backend';
import { trainModel } from '../lib/train/train';
import { transferSpec } from '../lib/transfer/heads';
import { readPretrained } from '../lib/transfer/pretrained';
import { pretrainCifar10 } from '../lib/transfer/pretrain';
import { transfer } from '../lib/transfer/transfer';
import { MODELS } from '../models';
import { tempDirs } from './tmp';

const tmp = tempDirs('transfer');
process.env.ALLCNN_DATA = tmp();
const SHARED = process.env.ALLCNN_SHARED_DATASETS ?? path.resolve(__dirname, '../../../shared/datasets');
const SUBSETS = path.join(SHARED, 'cifar-100-subsets-binary.tar.gz');
const BIN = path.resolve(__dirname, '../../bin/allcnn.js');

const VEHICLES = ['bicycle', 'bus', 'lawn_mower', 'motorcycle', 'pickup_truck', 'rocket', 'streetcar', 'tank', 'tractor', 'train'];
const FLORA = ['maple_tree', 'oak_tree', 'orchid', 'palm_tree', 'pine_tree', 'poppy', 'rose', 'sunflower', 'tulip', 'willow_tree'];

// A real (if barely trained) CIFAR-10 checkpoint of Strided-CNN-A, as `allcnn train` writes it.
let checkpoint: string;
beforeAll(async () => {
  checkpoint = path.join(tmp(), 'checkpoint.safetensors');
  await trainModel({ model: 'strided-cnn-a', epochs: 1, limit: 64, batchSize: 32, lr: 0.05, prep: 'std', stallEpochs: 0 }, { checkpoint });
});

const SMALL = { subset: 'vehicles', epochs: 2, batchSize: 32, prep: 'std' as const, stallEpochs: 0 };

describe('subset selection', () => {
  test('the presets select their 10 fine classes, labelled 0..9 in the official order, pixels untouched', async () => {
    const data = await readCifar100(BUNDLED_CIFAR100_SAMPLE);
    for (const [name, names] of [['vehicles', VEHICLES], ['flora', FLORA]] as const) {
      const s = selectSubset(data, name);
      expect(s.classNames).toEqual(names);
      expect(s.selection.classes.map((c) => c.label)).toEqual([...names.keys()]);
      expect(s.selection.classes.map((c) => data.fineNames[c.fine])).toEqual(names);
      // Every selected image is the original record's, with its fine class mapped to the new label.
      const wanted = new Set(s.selection.classes.map((c) => c.fine));
      const originals = [...data.train.labels.keys()].filter((i) => wanted.has(data.train.labels[i]));
      expect(s.train.count).toBe(originals.length);
      originals.forEach((src, j) => {
        expect(s.classNames[s.train.labels[j]]).toBe(data.fineNames[data.train.labels[src]]);
        if (j < 5) expect(Buffer.from(s.train.images.subarray(j * 3072, (j + 1) * 3072)).equals(Buffer.from(data.train.images.subarray(src * 3072, (src + 1) * 3072)))).toBe(true);
      });
      expect(Math.max(...s.test.labels)).toBe(9);
    }
  });

  test('superclass and fine-class names mix; labels follow the official order, not the order asked', async () => {
    const data = await readCifar100(BUNDLED_CIFAR100_SAMPLE);
    const s = selectSubset(data, 'tulip,rose, bus');
    expect(s.selection.name).toBe('tulip+rose+bus');
    expect(s.selection.classes).toEqual([
      { label: 0, fine: data.fineNames.indexOf('bus'), name: 'bus', superclass: 'vehicles_1' },
      { label: 1, fine: data.fineNames.indexOf('rose'), name: 'rose', superclass: 'flowers' },
      { label: 2, fine: data.fineNames.indexOf('tulip'), name: 'tulip', superclass: 'flowers' },
    ]);
    expect(selectSubset(data, ['flowers', 'train']).classNames).toEqual(['orchid', 'poppy', 'rose', 'sunflower', 'train', 'tulip']);
    expect(selectSubset(data, 'vehicles,flora').classNames).toHaveLength(20);
  });

  test('a bad name is an error listing the valid ones', async () => {
    const data = await readCifar100(BUNDLED_CIFAR100_SAMPLE);
    const valid = `valid names for ${BUNDLED_CIFAR100_SAMPLE}: the presets vehicles, flora; superclasses flowers, trees, vehicles_1, vehicles_2; ` +
      `fine classes bicycle, bus, lawn_mower, maple_tree, motorcycle, oak_tree, orchid, palm_tree, pickup_truck, pine_tree, poppy, rocket, rose, streetcar, sunflower, tank, tractor, train, tulip, willow_tree`;
    expect(() => selectSubset(data, 'bikes')).toThrow(`unknown CIFAR-100 class or superclass "bikes"; ${valid}`);
    // A real CIFAR-100 class that this (subsets-only) archive does not hold.
    expect(() => selectSubset(data, 'fish')).toThrow(`"fish" has no images in ${BUNDLED_CIFAR100_SAMPLE}; ${valid}`);
    expect(() => selectSubset(data, 'rose')).toThrow('subset "rose" has 1 class; a classifier needs at least 2');
    expect(() => selectSubset(data, 'rose')).toThrow(InvalidArgumentError); // the names asked for are at fault: the CLI exits 2
    expect(() => selectSubset(data, 123 as never)).toThrow('Expected vehicles, flora or CIFAR-100 class names (a string or an array of them) for subset but received 123 of type number');
    // A record whose superclass byte disagrees with its class's other records would move that class into another subset.
    const bicycle = data.fineNames.indexOf('bicycle');
    const k = data.train.labels.indexOf(bicycle);
    data.train.coarseLabels[k] = data.coarseNames.indexOf('flowers');
    expect(() => selectSubset(data, 'flora')).toThrow(new RegExp(`^${BUNDLED_CIFAR100_SAMPLE}: bicycle is under (vehicles_1|flowers) in train record \\d+ but under (vehicles_1|flowers) in train record \\d+ \\(a corrupt archive\\?\\)$`));
    expect(() => selectSubset(data, 'flora')).toThrow(`train record ${k}`);
  });

  test('a class with test images but no training images is refused: it could never be learnt', async () => {
    const data = await readCifar100(BUNDLED_CIFAR100_SAMPLE);
    const bus = data.fineNames.indexOf('bus');
    const rose = data.fineNames.indexOf('rose');
    // Every training record of bus relabelled as rose (a cut archive would lose them): bus is left with test images only.
    data.train.labels.forEach((label, i) => {
      if (label === bus) {
        data.train.labels[i] = rose;
        data.train.coarseLabels[i] = data.coarseNames.indexOf('flowers');
      }
    });
    expect(() => selectSubset(data, 'bus,rose')).toThrow(`${BUNDLED_CIFAR100_SAMPLE}: bus in subset "bus+rose" has test images but no training images (a cut or corrupt archive?)`);
  });

  test('any CIFAR-100 archive, e.g. the full one: superclasses are read from the records', async () => {
    const names = await readCifar100(BUNDLED_CIFAR100_SAMPLE); // its name files list all 100 + 20 classes
    const fish = ['aquarium_fish', 'flatfish', 'ray', 'shark', 'trout'].map((n) => names.fineNames.indexOf(n));
    const set = (fine: number[]) => ({
      images: new Uint8Array(fine.length * 3072).map((_, i) => i % 251), labels: Uint8Array.from(fine), count: fine.length,
      coarseLabels: Uint8Array.from(fine.map((f) => (fish.includes(f) ? names.coarseNames.indexOf('fish') : names.coarseNames.indexOf('people')))),
    });
    const baby = names.fineNames.indexOf('baby');
    const data = { ...names, train: set([...fish, baby, ...fish]), test: set([baby, fish[2]]), source: 'full' };
    const s = selectSubset(data, 'fish');
    expect(s.classNames).toEqual(['aquarium_fish', 'flatfish', 'ray', 'shark', 'trout']);
    expect([...s.train.labels]).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    expect([...s.test.labels]).toEqual([2]);
    expect(selectSubset(data, 'people,shark').classNames).toEqual(['baby', 'shark']);
  });

  test('90/10 train/validation split of the subset, deterministic by seed, and its test images', async () => {
    const a = await loadCifar100Subset(undefined, 'flora', { prep: 'std', seed: 0 });
    const b = await loadCifar100Subset(undefined, 'flora', { prep: 'std', seed: 0 });
    const c = await loadCifar100Subset(undefined, 'flora', { prep: 'std', seed: 1 });
    try {
      const n = a.dataset.train.count + a.dataset.validation.count;
      expect(a.dataset.validation.count).toBe(Math.round(n / 10));
      expect(a.dataset.classes).toBe(10);
      expect(a.dataset.classNames).toEqual(FLORA);
      expect(a.dataset.validation.y.toArray()).toEqual(b.dataset.validation.y.toArray());
      expect(a.dataset.train.x.toArray()).toEqual(b.dataset.train.x.toArray());
      expect(a.dataset.train.y.toArray()).not.toEqual(c.dataset.train.y.toArray());
      expect(new Set(a.dataset.test.y.toArray())).toEqual(new Set(FLORA.keys()));
    } finally {
      for (const d of [a, b, c]) d.dataset.dispose();
    }
  });

  (fs.existsSync(SUBSETS) ? test : test.skip)('the real subsets archive: 4,500 / 500 / 1,000 images per subset', async () => {
    const { dataset, selection } = await loadCifar100Subset(SUBSETS, 'vehicles', { prep: 'none', testLimit: 1000 });
    try {
      expect([dataset.train.count, dataset.validation.count, dataset.test.count]).toEqual([4500, 500, 1000]);
      expect(selection.classes.map((c) => c.name)).toEqual(VEHICLES);
      // Class-balanced validation: 50 per class.
      const counts = new Map<number, number>();
      for (const l of dataset.validation.y.toArray()) counts.set(l, (counts.get(l) ?? 0) + 1);
      expect([...counts.values()]).toEqual(Array(10).fill(50));
    } finally {
      dataset.dispose();
    }
  });
});

describe('heads', () => {
  test('conv head: the 1x1 classifier for K classes, body names and shapes as pretrained', () => {
    const t = transferSpec(MODELS['all-cnn-c'], 'conv');
    expect(t.headLayer).toBe('conv9');
    const net = buildNetwork(t.spec, { classes: 7 });
    const base = buildNetwork(MODELS['all-cnn-c'], { classes: 10 });
    try {
      expect(net.parameters.get('conv9.weight')!.shape).toEqual([7, 192, 1, 1]);
      expect(net.parameters.get('conv9.bias')!.shape).toEqual([7]);
      expect(net.shapes[net.shapes.length - 1]).toEqual([7]);
      const body = [...base.parameters].filter(([k]) => !k.startsWith('conv9.')).map(([k, v]) => [k, v.shape]);
      expect([...net.parameters].filter(([k]) => !k.startsWith('conv9.')).map(([k, v]) => [k, v.shape])).toEqual(body);
    } finally {
      net.dispose();
      base.dispose();
    }
  });

  test('fc head: no 1x1 classifier; a K-way fully connected layer on the 192 averaged features', () => {
    const t = transferSpec(MODELS['all-cnn-c'], 'fc');
    expect(t.headLayer).toBe('fc1');
    expect(t.spec.layers.slice(-3).map((l) => l.kind)).toEqual(['gap', 'fc', 'softmax']);
    const net = buildNetwork(t.spec, { classes: 13 });
    try {
      expect(net.parameters.has('conv9.weight')).toBe(false);
      expect(net.parameters.get('fc1.weight')!.shape).toEqual([13, 192]);
      expect(net.parameters.get('fc1.bias')!.shape).toEqual([13]);
      expect(net.shapes.slice(-3)).toEqual([[192], [13], [13]]);
    } finally {
      net.dispose();
    }
  });

  test('a network without a 1x1 convolutional classifier is refused', () => {
    const spec = declareNetwork('FC-NET', 'flatten and fc', ['conv 3x3 8 /2 relu', 'flatten', 'fc classes', 'softmax']);
    expect(() => transferSpec(spec, 'conv')).toThrow(ModelDeclarationError);
    expect(() => transferSpec(spec, 'conv')).toThrow("FC-NET: transfer needs a network whose classifier is a 'conv 1x1 classes' layer followed by 'gap' (as in all twelve of the paper's)");
  });
});

describe('transfer', () => {
  const BODY = ['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'conv3.weight', 'conv3.bias', 'conv4.weight', 'conv4.bias'];

  /** Runs `mode` and returns, per tensor, whether it still equals the checkpoint's (head: its fresh initialisation). */
  async function unchanged(config: Parameters<typeof transfer>[0]) {
    const r = await transfer(config, { keepModel: true });
    const pre = readPretrained(checkpoint);
    const t = transferSpec(MODELS['strided-cnn-a'], config.head ?? 'conv');
    const init = buildNetwork(t.spec, { classes: 10, seed: 0, finalRelu: r.config.finalRelu });
    try {
      const same = new Map<string, boolean>();
      for (const [k, v] of r.network!.parameters) {
        const before = k.startsWith(`${t.headLayer}.`) ? init.parameters.get(k)! : pre.tensors.get(k)!;
        same.set(k, JSON.stringify(v.toArray()) === JSON.stringify(before.toArray()));
      }
      return { r, same };
    } finally {
      r.network!.dispose();
      pre.dispose();
      init.dispose();
    }
  }

  test('fixed features: frozen body unchanged, new conv head trained; what was loaded is reported', async () => {
    const before = liveTensors();
    const { r, same } = await unchanged({ ...SMALL, from: checkpoint, mode: 'features' });
    for (const k of BODY) expect([k, same.get(k)]).toEqual([k, true]);
    expect(same.get('conv5.weight')).toBe(false);
    expect(same.get('conv5.bias')).toBe(false);
    expect(r.load).toEqual({ loaded: BODY, fresh: ['conv5.weight', 'conv5.bias'], unused: ['conv5.weight', 'conv5.bias'], frozen: BODY });
    expect(r.trainableParameters).toBe(192 * 10 + 10);
    expect(r.config.model).toBe('strided-cnn-a'); // from the checkpoint
    expect(r.config.prep).toBe('std');
    expect(r.config.bodyLrScale).toBeNull(); // no body trains at its own rate
    expect(r.history).toHaveLength(2);
    expect(r.classes.map((c) => c.name)).toEqual(VEHICLES);
    expect(r.pretrained).toMatchObject({ file: checkpoint, kind: 'checkpoint', model: 'Strided-CNN-A', epochs: 1 });
    expect(liveTensors()).toBe(before);
  });

  test('fixed features with the fc head: old classifier unused, fc1 trained', async () => {
    const { r, same } = await unchanged({ ...SMALL, from: checkpoint, mode: 'features', head: 'fc' });
    for (const k of BODY) expect(same.get(k)).toBe(true);
    expect(same.get('fc1.weight')).toBe(false);
    expect(r.load).toEqual({ loaded: BODY, fresh: ['fc1.weight', 'fc1.bias'], unused: ['conv5.weight', 'conv5.bias'], frozen: BODY });
  });

  test('fine-tuning trains the body at lr * bodyLrScale: with scale 0 it stays put, with 0.1 it moves', async () => {
    const still = await unchanged({ ...SMALL, from: checkpoint, mode: 'finetune', bodyLrScale: 0, weightDecay: 0 });
    for (const k of BODY) expect(still.same.get(k)).toBe(true);
    expect(still.same.get('conv5.weight')).toBe(false);
    expect(still.r.load!.frozen).toEqual([]);
    const moved = await unchanged({ ...SMALL, from: checkpoint, mode: 'finetune' });
    for (const k of BODY) expect([k, moved.same.get(k)]).toEqual([k, false]);
    expect(moved.r.trainableParameters).toBe(moved.r.parameters);
    expect([still.r.config.bodyLrScale, moved.r.config.bodyLrScale]).toEqual([0, 0.1]);
  });

  test('scratch loads nothing and needs no checkpoint', async () => {
    const r = await transfer({ ...SMALL, model: 'strided-cnn-a', mode: 'scratch', epochs: 1 });
    expect(r.load).toBeNull();
    expect(r.pretrained).toBeNull();
    expect(r.trainableParameters).toBe(r.parameters);
    expect(r.config.bodyLrScale).toBeNull();
    await expect(transfer({ ...SMALL, mode: 'features' })).rejects.toThrow("Expected a checkpoint or weights file for mode 'features' (only 'scratch' trains without one) for from but received undefined");
  });

  test('a checkpoint of another architecture is rejected clearly', async () => {
    await expect(transfer({ ...SMALL, from: checkpoint, model: 'all-cnn-c' })).rejects.toThrow(
      `${checkpoint} is a checkpoint of Strided-CNN-A, not of ALL-CNN-C (model 'all-cnn-c'); pass a checkpoint of ALL-CNN-C, or leave out the model to use the checkpoint's`,
    );
    // Without metadata to go by, the shapes give it away, named tensor by tensor.
    const bare = path.join(tmp(), 'bare.safetensors');
    const pre = readPretrained(checkpoint);
    saveSafetensors(bare, pre.tensors);
    pre.dispose();
    const err = await transfer({ ...SMALL, from: bare, model: 'all-cnn-c' }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toBe(`${bare}: conv1.weight has shape [96,3,5,5] but ALL-CNN-C needs [96,3,3,3] (a checkpoint of another architecture?)`);
    await expect(transfer({ ...SMALL, from: bare })).rejects.toThrow(`Expected a model id (${bare} does not say which network it holds) for model but received undefined`);
    // A network of the user's own (metadata 'model' not one of the twelve) needs the model id to build; so does a scratch run.
    const own = path.join(tmp(), 'own.safetensors');
    const weights = readPretrained(checkpoint);
    saveSafetensors(own, weights.tensors, { model: 'Tiny' });
    weights.dispose();
    await expect(transfer({ ...SMALL, from: own })).rejects.toThrow(`Expected a model id: ${own} holds "Tiny", which is not one of the twelve networks for model but received undefined`);
    await expect(transfer({ ...SMALL, mode: 'scratch' })).rejects.toThrow('Expected a model id for a scratch run without a checkpoint for model but received undefined');
    await expect(transfer({ ...SMALL, from: checkpoint, engine: 'typescript' } as never)).rejects.toThrow('Expected no engine option (transfer picks its step itself) for engine but received "typescript"');
    await expect(transfer(SMALL, { keepmodel: true } as never)).rejects.toThrow('Expected one of onProgress, signal, data, keepModel for hooks key but received "keepmodel"');
    await expect(transfer(null as never)).rejects.toThrow('Expected a TransferConfig object for config but received null');
    // A misspelt key is shown the transfer options, not only the training ones.
    await expect(transfer({ ...SMALL, from: checkpoint, subsets: 'x' } as never)).rejects.toThrow(/^Expected one of model, .*, from, subset, mode, head, bodyLrScale for config key but received "subsets"/);
    // A run's folder stands for its checkpoint, as in evaluateCheckpoint and --from.
    const viaFolder = readPretrained(path.dirname(checkpoint));
    expect(viaFolder.file).toBe(checkpoint);
    viaFolder.dispose();
    const empty = tmp();
    await expect(transfer({ ...SMALL, from: empty })).rejects.toThrow(`${empty} is a folder without a checkpoint.safetensors: pass a checkpoint file, or the --out folder of an \`allcnn train\` run`);
    await expect(transfer({ ...SMALL, from: checkpoint, mode: 'features', bodyLrScale: 0.5 })).rejects.toThrow("Expected no bodyLrScale for mode 'features' (it is the pretrained body's rate in mode 'finetune') for bodyLrScale but received 0.5");
    await expect(pretrainCifar10({ model: 'a', dataset: 'cifar100' }, path.join(tmp(), 'p.safetensors'))).rejects.toThrow("Expected 'cifar10' or none (pretrainCifar10 pretrains on CIFAR-10");
    await expect(pretrainCifar10({ model: 'a' }, path.join(tmp(), 'p.safetensors'), { onProgres: 1 } as never)).rejects.toThrow('Expected one of onProgress, signal for hooks key but received "onProgres"');
  });

  test('a finished pretraining is reused on the same images wherever they are, and not on other images at its path', async () => {
    const dir = tmp();
    const data = path.join(dir, 'cifar.tar.gz');
    const tar = zlib.gunzipSync(fs.readFileSync(BUNDLED_SAMPLE));
    fs.writeFileSync(data, zlib.gzipSync(tar, { level: 0 }));
    const file = path.join(dir, 'pretrain', 'checkpoint.safetensors');
    const options = { model: 'strided-cnn-a', data, epochs: 1, limit: 32, prep: 'std' as const, stallEpochs: 0 };
    expect(await pretrainCifar10(options, file)).toBe(true);
    const repacked = path.join(dir, 'repacked.tar.gz');
    fs.writeFileSync(repacked, zlib.gzipSync(tar, { level: 1 }));
    expect(await pretrainCifar10({ ...options, data: repacked }, file)).toBe(false);
    tar[100000] ^= 0xff; // a pixel of data_batch_1.bin: the same path and size, other images
    fs.writeFileSync(data, zlib.gzipSync(tar, { level: 0 }));
    await expect(pretrainCifar10(options, file)).rejects.toThrow(`${file}: trained on other data (its data recipe differs in: data (${data} holds other images than it did))`);
    // Cut short (a disk that failed, a copy stopped part-way): what to do is said, as when train resumes one.
    fs.truncateSync(file, 100000);
    await expect(pretrainCifar10({ ...options, data: repacked }, file)).rejects.toThrow(/: not a valid safetensors file \(.*truncated\); it cannot be resumed: delete it to train the run again from its first epoch$/);
    fs.truncateSync(file, 0);
    await expect(pretrainCifar10({ ...options, data: repacked }, file)).rejects.toThrow(`${file}: not a valid safetensors file (too short); it cannot be resumed: delete it to train the run again from its first epoch`);
    fs.rmSync(file);
    expect(await pretrainCifar10({ ...options, data: repacked }, file)).toBe(true);
  });
});

describe('the transfer preset', () => {
  test('runs every mode on both subsets, writes its report, and resumes from runs.jsonl', async () => {
    const out = tmp();
    const o = { ...TRANSFER_PRESETS.cpu, device: 'cpu', from: checkpoint, model: 'strided-cnn-a', epochs: 1, limit: 48, batchSize: 16, prep: 'std' as const };
    const events: string[] = [];
    const { summary, report } = await reproduceTransfer('t', o, { out }, { onEvent: (e) => e.type === 'run-end' && events.push(`${e.cached}`) });
    expect(summary.rows.map((r) => r.label)).toEqual([
      'vehicles / features (conv head)', 'vehicles / features (fc head)', 'vehicles / finetune (conv head)', 'vehicles / scratch (conv head)',
      'flora / features (conv head)', 'flora / features (fc head)', 'flora / finetune (conv head)', 'flora / scratch (conv head)',
    ]);
    expect(events).toEqual(Array(8).fill('false'));
    const md = fs.readFileSync(report, 'utf8');
    for (const part of ['## Results', '## Near versus far', '## Learning curves', '| features (conv head) | vehicles | near |', 'Gain on vehicles (near)']) expect(md).toContain(part);
    expect(fs.readFileSync(path.join(out, 'runs.jsonl'), 'utf8').trim().split('\n')).toHaveLength(8);
    expect(fs.existsSync(path.join(out, 'figures', 'curves-flora-scratch-conv-head.png'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).rows).toHaveLength(8);

    expect(md).not.toContain('reused');
    const again: string[] = [];
    const second = await reproduceTransfer('t', o, { out }, { onEvent: (e) => again.push(e.type === 'run-end' ? `${e.cached}` : e.type) });
    expect(again).toEqual(Array(8).fill('true'));
    // Nothing trained: the timing stays the one of the invocation that trained the runs.
    expect([second.summary.totalSeconds, second.summary.reusedRuns]).toEqual([summary.totalSeconds, summary.reusedRuns]);
    expect(fs.readFileSync(second.report, 'utf8')).not.toContain('reused');
    await expect(reproduceTransfer('t', { ...o, epochs: 2 }, { out })).rejects.toThrow('holds an experiment made with other options (differs in: epochs; the folder\'s: epochs 1)');

    // An experiment recorded before `seeds` existed resumes as one seed.
    const file = path.join(out, 'experiment.json');
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    delete saved.options.seeds;
    fs.writeFileSync(file, JSON.stringify(saved));
    const older: string[] = [];
    await reproduceTransfer('t', o, { out }, { onEvent: (e) => e.type === 'run-end' && older.push(`${e.cached}`) });
    expect(older).toEqual(Array(8).fill('true'));
  });

  test('with seeds, repeats every run with its own split and head, and reports the mean ± sd', async () => {
    const out = tmp();
    const o = {
      ...TRANSFER_PRESETS.cpu, device: 'cpu', from: checkpoint, model: 'strided-cnn-a', epochs: 1, limit: 48, batchSize: 16, prep: 'std' as const,
      runs: [{ mode: 'features' as const, head: 'conv' as const }, { mode: 'scratch' as const, head: 'conv' as const }], seeds: 2,
    };
    const { summary, report } = await reproduceTransfer('t', o, { out });
    const records = fs.readFileSync(path.join(out, 'runs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => r.id)).toEqual([
      'transfer/vehicles/features/conv/seed=0', 'transfer/vehicles/scratch/conv/seed=0', 'transfer/vehicles/features/conv/seed=1000', 'transfer/vehicles/scratch/conv/seed=1000',
      'transfer/flora/features/conv/seed=0', 'transfer/flora/scratch/conv/seed=0', 'transfer/flora/features/conv/seed=1000', 'transfer/flora/scratch/conv/seed=1000',
    ]);
    expect(summary.seeds).toEqual([0, 1000]);
    expect(summary.rows).toHaveLength(4);
    // A row is the mean of its two seeds' runs, with their sample standard deviation.
    const [first, second] = [records[0], records[2]];
    const row = summary.rows[0];
    expect(row.testAccuracy).toBeCloseTo((first.test.accuracy + second.test.accuracy) / 2, 12);
    expect(row.overSeeds).toEqual({ runs: 2, validationSd: expect.any(Number), testSd: expect.any(Number), ids: [first.id, second.id], failed: 0 });
    expect(row.overSeeds!.testSd).toBeCloseTo(Math.abs(first.test.accuracy - second.test.accuracy) / Math.SQRT2, 12);
    expect(row.seconds).toBeCloseTo(first.seconds + second.seconds, 9);
    const md = fs.readFileSync(report, 'utf8');
    expect(md).toContain('seeds 0, 1000 (each its own split, head and batches; a row is the mean ± the standard deviation over them, its time their sum)');
    // No fine-tuning run: no body rate (the first run's null was printed as "body at null x lr").
    expect(md).toMatch(/lr [\d.]+ \(\w+ schedule\), momentum/);
    expect(md).toContain(`| features (conv head) | vehicles | near | ${first.transfer.trainImages} |`);
    expect(md).toMatch(/\| features \(conv head\) \| vehicles \| near \| \d+ \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \|/);
    // The split differs by seed: the two repeats did not see the same images.
    expect(first.test.accuracy === second.test.accuracy && first.validation.accuracy === second.validation.accuracy && first.history[0].trainLoss === second.history[0].trainLoss).toBe(false);
    await expect(reproduceTransfer('t', { ...o, seeds: 0 }, { out: tmp() })).rejects.toThrow('Expected an integer in [1, 100] for seeds but received 0');
    await expect(reproduceTransfer('t', o, { out: tmp(), data: 'x' } as never)).rejects.toThrow('Expected one of out, data10, data100 for where key but received "data"');

    // Stopped after 5 of its 8 runs: `allcnn report` reports what is recorded and names what is not; the same call finishes it.
    const journal = path.join(out, 'runs.jsonl');
    fs.writeFileSync(journal, `${fs.readFileSync(journal, 'utf8').trim().split('\n').slice(0, 5).join('\n')}\n`);
    fs.rmSync(path.join(out, 'REPORT.md'));
    const cli = spawnSync(process.execPath, [BIN, 'report', out], { encoding: 'utf8', env: process.env });
    expect(cli.status).toBe(0);
    expect(cli.stdout).toContain('5 of 8 planned transfer runs recorded; 3 rows; not finished: transfer/flora/features/conv/seed=1000, transfer/flora/scratch/conv/seed=0, transfer/flora/scratch/conv/seed=1000');
    const partial = fs.readFileSync(path.join(out, 'REPORT.md'), 'utf8');
    expect(partial).toContain('- **Not finished**: 3 planned runs have no record yet (transfer/flora/features/conv/seed=1000, ');
    expect(partial).toMatch(/\| features \(conv head\) \| flora \| far \| \d+ \| [\d.]+ \| [\d.]+ \(seed 0 only\) \|/); // one seed of two so far: no spread, and said so
    expect(partial).toContain('Not compared: needs the scratch run and a transfer run on both');
    const events: string[] = [];
    const finished = await reproduceTransfer('t', o, { out }, { onEvent: (e) => e.type === 'run-end' && events.push(`${e.cached}`) });
    expect(events.filter((e) => e === 'false')).toHaveLength(3);
    expect(finished.summary.missing).toBeUndefined();
    expect(finished.summary.rows.map((r) => r.overSeeds?.runs)).toEqual([2, 2, 2, 2]);

    // From code, the folder alone will do; before any run has finished, the report says so.
    expect((await reportTransferFolder(out)).summary.rows).toHaveLength(4);
    const empty = tmp();
    fs.copyFileSync(path.join(out, 'experiment.json'), path.join(empty, 'experiment.json'));
    const none = await reportTransferFolder(empty);
    expect(none.summary.missing).toHaveLength(8);
    expect(fs.readFileSync(none.report, 'utf8')).toContain('No transfer run has finished yet: the same `allcnn reproduce --preset transfer` command starts them.');
    const table3 = tmp();
    fs.writeFileSync(path.join(table3, 'experiment.json'), JSON.stringify({ options: { preset: 'smoke', lrs: [0.1], models: ['a'] } }));
    await expect(reportTransferFolder(table3)).rejects.toThrow('holds no transfer experiment (a Table 3 experiment is reported by reportFolder)');
  });

  test('a bad subset or CIFAR-100 archive fails before pretraining, leaving no folder', async () => {
    const out = path.join(tmp(), 'never');
    const o = { ...TRANSFER_PRESETS.cpu, device: 'cpu', pretrainEpochs: 1, subsets: ['vehicles', 'bikes'] };
    const events: string[] = [];
    await expect(reproduceTransfer('t', o, { out }, { onEvent: (e) => events.push(e.type) })).rejects.toThrow('unknown CIFAR-100 class or superclass "bikes"; valid names for');
    await expect(reproduceTransfer('t', { ...o, subsets: ['vehicles'] }, { out, data100: path.join(tmp(), 'missing.tar.gz') })).rejects.toThrow('missing.tar.gz');
    expect(events).toEqual([]);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('a --from of another network or trained on CIFAR-100 fails before the folder is claimed, so a rerun with a good one is not refused', async () => {
    const out = path.join(tmp(), 'never');
    const o = { ...TRANSFER_PRESETS.cpu, device: 'cpu', from: checkpoint, model: 'all-cnn-c', prep: null, epochs: 1, limit: 32, testLimit: 32 };
    await expect(reproduceTransfer('t', o, { out })).rejects.toThrow(`${checkpoint} is a checkpoint of Strided-CNN-A, not of ALL-CNN-C (model 'all-cnn-c')`);
    const cifar100 = path.join(tmp(), 'c100.safetensors');
    await trainModel({ model: 'strided-cnn-a', dataset: 'cifar100', epochs: 1, limit: 32, testLimit: 32, prep: 'std', stallEpochs: 0 }, { checkpoint: cifar100 });
    await expect(reproduceTransfer('t', { ...o, from: cifar100, model: 'strided-cnn-a' }, { out })).rejects.toThrow(`${cifar100} was trained on CIFAR-100`);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('a resume must start from the same --from file; a diverged run is not transferred from; given data must match the config', async () => {
    const from = path.join(tmp(), 'from.safetensors');
    fs.copyFileSync(checkpoint, from);
    const out = tmp();
    const o = { ...TRANSFER_PRESETS.cpu, device: 'cpu', from, model: 'strided-cnn-a', epochs: 1, limit: 48, batchSize: 16, prep: 'std' as const, subsets: ['vehicles'], runs: [{ mode: 'features' as const, head: 'conv' as const }] };
    await reproduceTransfer('t', o, { out });
    // The same path, other contents (trained again, say): the runs recorded came from the old network.
    const { tensors, metadata } = loadSafetensors(checkpoint);
    try {
      saveSafetensors(from, tensors, { ...metadata, history: JSON.stringify(JSON.parse(metadata.history).map((e: object) => ({ ...e, valAccuracy: 0.99 }))) });
      await expect(reproduceTransfer('t', o, { out })).rejects.toThrow(`${out} holds an experiment trained from another network (its from was ${from}, a file with other contents; now ${from})`);
      // A run that diverged: its weights are not numbers.
      saveSafetensors(from, tensors, { ...metadata, history: JSON.stringify(JSON.parse(metadata.history).map((e: object) => ({ ...e, loss: null }))) });
      expect(() => readPretrained(from)).toThrow(`${from}: its run diverged in epoch 1 (its training or validation loss became NaN or infinite), so its weights are not numbers`);
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
    // transfer() given loaded data: their seed and sizes are the config's, or it says which to set.
    const data = await loadCifar100Subset(undefined, 'vehicles', { prep: 'std', seed: 7, limit: 48 });
    try {
      const config = { from: checkpoint, subset: 'vehicles', epochs: 1, limit: 48, prep: 'std' as const };
      await expect(transfer({ ...config, seed: 0 }, { data })).rejects.toThrow('hooks.data was split with seed 7 but config.seed is 0: set seed: 7');
      await expect(transfer({ ...config, seed: 7, limit: 20 }, { data })).rejects.toThrow('hooks.dataset has 48 training images but config.limit is 20: set limit: 48');
    } finally {
      data.dataset.dispose();
    }
  });

  test('the near-versus-far comparison is computed from the numbers', () => {
    const row = (subset: string, relation: 'near' | 'far', mode: 'features' | 'scratch', test: number) => ({
      id: `transfer/${subset}/${mode}/conv/seed=0`, label: `${subset} / ${mode} (conv head)`, subset, relation, mode, head: 'conv' as const,
      validationAccuracy: test, testAccuracy: test, testCount: 1000, epochs: 30, seconds: 1, stalled: false, trainImages: 4500,
    });
    const summary: TransferSummary = {
      name: 't', preset: 'transfer', device: 'cpu', createdAt: '', model: 'ALL-CNN-C', totalSeconds: 1,
      pretrained: { file: 'c', model: 'ALL-CNN-C', epochs: 350, validationAccuracy: 0.9, trainedHere: false },
      rows: [row('vehicles', 'near', 'features', 0.7), row('vehicles', 'near', 'scratch', 0.5), row('flora', 'far', 'features', 0.6), row('flora', 'far', 'scratch', 0.55)],
    };
    const [g] = transferGains(summary);
    expect(g.near).toBeCloseTo(20, 9);
    expect(g.far).toBeCloseTo(5, 9);
    const text = nearFarSection(summary);
    expect(text).toContain('- **features (conv head)**: +20.00 points over scratch on vehicles (near; pretraining helped');
    expect(text).toContain('pretraining gained 15.00 points more on the near subset, as expected.');
    expect(text).not.toContain('Caveat');
    summary.rows[2].testAccuracy = 0.74; // far gain 19, near 20: 1 point apart, under the 3-point error
    expect(nearFarSection(summary)).toContain('within one standard error');

    // Means over seeds: a row's error is the larger of the binomial one and sd / sqrt(runs).
    summary.rows[2].testAccuracy = 0.6;
    const seeds = (id: string, runs: number) => Array.from({ length: runs }, (_, k) => id.replace('seed=0', `seed=${1000 * k}`));
    // Rows of different seeds are no comparison: vehicles features has 4 seeds, its scratch row seed 0 only (a run not recorded yet).
    summary.rows[0].overSeeds = { runs: 4, validationSd: 0.3, testSd: 0.3, ids: seeds(summary.rows[0].id, 4), failed: 1 };
    expect(transferGains(summary)[0].unmatched).toEqual(['vehicles / features (conv head): seeds 0, 1000, 2000, 3000; vehicles / scratch (conv head): seeds 0']);
    expect(nearFarSection(summary)).toContain('not a comparison: the rows subtracted come from different seeds (vehicles / features (conv head): seeds 0, 1000, 2000, 3000; vehicles / scratch (conv head): seeds 0); the same command trains the missing runs');
    expect(nearFarSection(summary)).toContain('| not compared: seeds differ |');
    summary.rows[1].overSeeds = { runs: 4, validationSd: 0, testSd: 0, ids: seeds(summary.rows[1].id, 4), failed: 0 }; // 15 points of error, the 15-point difference within it
    const [wide] = transferGains(summary);
    const binomial = (p: number) => 100 * Math.sqrt((p * (1 - p)) / 1000);
    expect(wide.nearMargin).toBeCloseTo(Math.hypot(30 / 2, binomial(0.5)), 9);
    expect(wide.farMargin).toBeCloseTo(Math.hypot(binomial(0.6), binomial(0.55)), 9);
    expect(nearFarSection(summary)).toContain(`within one standard error (±${wide.margin.toFixed(2)})`);
    // Every seed of a row failed: no comparison.
    summary.rows[0].overSeeds = { runs: 0, validationSd: NaN, testSd: NaN, ids: [], failed: 3 };
    expect(nearFarSection(summary)).toContain('not a comparison: vehicles / features (conv head) stalled or diverged with every seed');
    // One run that diverged (its accuracy that of NaN weights) is no comparison either.
    delete summary.rows[0].overSeeds;
    summary.rows[1].diverged = true;
    expect(nearFarSection(summary)).toContain('not a comparison: vehicles / scratch (conv head) diverged');
  });
});

describe('allcnn transfer', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [BIN, 'transfer', ...args], { encoding: 'utf8', env: { ...process.env }, timeout: 120000 });

  test('runs end to end on the bundled sample, printing what it loaded', () => {
    const out = tmp();
    const r = run('--from', checkpoint, '--subset', 'vehicles', '--mode', 'features', '--epochs', '1', '--out', out);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('data: the bundled CIFAR-100 sample');
    expect(r.stderr).toContain('loaded 8 tensors; new head, not loaded (Xavier init): conv5.weight, conv5.bias; unused from the file: conv5.weight, conv5.bias; frozen: 8 tensors (the whole body)');
    expect(r.stdout).toMatch(/vehicles \/ features \(conv head\): validation accuracy [\d.]+% \(\d+ images\), test accuracy/);
    expect(fs.readdirSync(out).sort()).toEqual(['result.json', 'weights.safetensors']);
    // Another run into the same folder does not overwrite it.
    const again = run('--from', checkpoint, '--subset', 'vehicles', '--mode', 'scratch', '--epochs', '1', '--out', out);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`${path.join(out, 'result.json')} exists: `);
    expect(again.stderr).toContain('holds a finished transfer run; pass another --out for this one (or delete that folder to redo it)');
    // That run's weights are no network to transfer from: a CIFAR-10 one is.
    const weights = path.join(out, 'weights.safetensors');
    const fromWeights = run('--from', weights, '--subset', 'vehicles', '--epochs', '1', '--out', tmp());
    expect(fromWeights.status).toBe(1);
    expect(fromWeights.stderr).toContain(`${weights}: the weights of an \`allcnn transfer\` run (Strided-CNN-A (conv head), trained on CIFAR-100 classes), not of a CIFAR-10 network: pass the checkpoint.safetensors of the \`allcnn train\` run it started from`);
    // An `allcnn train` folder as --out is said to be one.
    const trainRun = path.dirname(checkpoint);
    fs.writeFileSync(path.join(trainRun, 'result.json'), '{}');
    try {
      const intoTrain = run('--from', checkpoint, '--subset', 'vehicles', '--epochs', '1', '--out', trainRun);
      expect(intoTrain.stderr).toContain('holds an `allcnn train` run; pass another --out for this one\n');
    } finally {
      fs.rmSync(path.join(trainRun, 'result.json'));
    }
  });

  test("another command's folder is not written into: an experiment's, an unfinished train run's, one a process is training in", () => {
    const experiment = tmp();
    fs.writeFileSync(path.join(experiment, 'experiment.json'), '{}');
    const intoExperiment = run('--from', checkpoint, '--subset', 'vehicles', '--epochs', '1', '--out', experiment);
    expect([intoExperiment.status, intoExperiment.stderr]).toEqual([1, `allcnn: ${experiment} holds the results of \`allcnn reproduce\`: pass another --out for this run\n`]);
    expect(fs.readdirSync(experiment)).toEqual(['experiment.json']);
    // A train run stopped part-way (its checkpoint, no result.json yet): its --resume would write over this run's result.json.
    const unfinished = tmp();
    fs.copyFileSync(checkpoint, path.join(unfinished, 'checkpoint.safetensors'));
    const intoUnfinished = run('--from', checkpoint, '--subset', 'vehicles', '--epochs', '1', '--out', unfinished);
    expect([intoUnfinished.status, intoUnfinished.stderr]).toEqual([1, `allcnn: ${path.join(unfinished, 'checkpoint.safetensors')} exists: ${unfinished} holds an unfinished \`allcnn train\` run; pass another --out for this one\n`]);
    expect(fs.readdirSync(unfinished)).toEqual(['checkpoint.safetensors']);
    // A folder another process holds (this one, as a running `allcnn train` would).
    const busy = tmp();
    const lock = lockFolder(busy);
    try {
      const intoBusy = run('--from', checkpoint, '--subset', 'vehicles', '--epochs', '1', '--out', busy);
      expect(intoBusy.status).toBe(1);
      expect(intoBusy.stderr).toContain(`allcnn: ${busy} is in use: process ${process.pid} has been training in it since`);
      expect(fs.readdirSync(busy)).toEqual(['.lock']);
    } finally {
      lock.release();
    }
  });

  test('scratch with --from says that it takes the network and preprocessing, not the weights', () => {
    const r = run('--from', checkpoint, '--subset', 'vehicles', '--mode', 'scratch', '--epochs', '1', '--limit', '20', '--out', tmp());
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`scratch: random weights, with the network and preprocessing of ${checkpoint} (the baseline to set beside it; its weights are not loaded)`);
  });

  test('another --prep than the checkpoint was trained with gets a note', () => {
    const r = run('--from', checkpoint, '--subset', 'vehicles', '--mode', 'features', '--epochs', '1', '--limit', '20', '--prep', 'none', '--out', tmp());
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`note: ${checkpoint} was trained on std-prepared images, and --prep none prepares these otherwise: its features may transfer poorly (leave out --prep to use std)`);
  });

  test('usage errors exit 2; a bad subset exits 1 naming the valid ones', () => {
    const scratch = run('--mode', 'scratch', '--pretrain-epochs', '3'); // nothing is pretrained for it
    expect([scratch.status, scratch.stderr]).toEqual([2, 'allcnn: --pretrain-epochs is for pretraining a CIFAR-10 network, and --mode scratch trains from random weights: nothing is pretrained\n']);
    const bad = run('--mode', 'bogus');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("option '--mode <mode>' argument 'bogus' is invalid. Allowed choices are features, finetune, scratch.");
    const scale = run('--from', checkpoint, '--mode', 'features', '--body-lr-scale', '0.5'); // would be ignored
    expect(scale.status).toBe(2);
    expect(scale.stderr).toContain('--body-lr-scale applies to --mode finetune only (features trains no pretrained body at its own rate)');
    const subset = run('--from', checkpoint, '--subset', 'bikes'); // a bad option: exit 2
    expect(subset.status).toBe(2);
    expect(subset.stderr).toContain('unknown CIFAR-100 class or superclass "bikes"; valid names for');
    const missing = path.join(tmp(), 'missing.safetensors');
    const from = run('--from', missing);
    expect(from.status).toBe(1);
    expect(from.stderr).toContain(`${missing}: no such file (allcnn train writes <out>/checkpoint.safetensors and <out>/weights.safetensors)`);
  });

  test('without --from, a bad subset or CIFAR-100 archive fails before pretraining', () => {
    const out = path.join(tmp(), 'never');
    const subset = run('--subset', 'bikes', '--pretrain-epochs', '1', '--out', out);
    expect(subset.status).toBe(2);
    expect(subset.stderr).toContain('unknown CIFAR-100 class or superclass "bikes"; valid names for');
    const data = run('--data100', path.join(out, 'missing.tar.gz'), '--pretrain-epochs', '1', '--out', out);
    expect(data.status).toBe(1);
    expect(data.stderr).toContain('missing.tar.gz');
    for (const r of [subset, data]) expect(r.stderr).not.toContain('pretraining');
    expect(fs.existsSync(out)).toBe(false);
  });
});
