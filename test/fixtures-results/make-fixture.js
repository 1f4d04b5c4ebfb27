#!/usr/bin/env node
/**
 * Writes summary.json and runs.jsonl here: a hand-made, realistic results
 * folder for test/report.test.ts (a 'short' preset, 3 epochs per run).
 * Accuracies are fractions, as trainModel records them; the paper's and the
 * seed report's numbers are percents, as in shared/reference/all-cnn-paper.json.
 * Ten of the twelve Table 3 models (Strided-CNN-B and ConvPool-CNN-B were
 * not run), one stalled run with its restart, one augmentation row and two
 * ablations. Run: node test/fixtures-results/make-fixture.js
 */
const fs = require('fs');
const path = require('path');

const EPOCHS = 3;
const TRAIN = 45000;
const r4 = (x) => Math.round(x * 1e4) / 1e4;

const config = (model, lr, seed, extra = {}) => ({
  model, data: '/data/cifar-10-binary.tar.gz', epochs: EPOCHS, batchSize: 128, lr, momentum: 0.9, weightDecay: 0.001,
  schedule: 'paper', warmupEpochs: 0, prep: 'zca', augment: false, seed, device: 'cuda:0', limit: null, testLimit: null,
  validation: 5000, finalRelu: true, init: 'xavier-uniform', precision: 'bf16', tf32: true, channelsLast: true,
  labelSmoothing: 0, stallEpochs: 3, engine: 'native', evalBatchSize: 500, ...extra,
});

/** Three epochs rising to the final validation accuracy, or stuck at chance when stalled. */
function history(val, lr, stalled, ips) {
  return [1, 2, 3].map((epoch) => {
    const f = [0.62, 0.86, 1][epoch - 1];
    const v = stalled ? 0.1 + 0.0007 * epoch : val * f;
    const t = stalled ? 0.0995 + 0.0004 * epoch : v * 0.96;
    return {
      epoch, loss: r4(stalled ? 2.3027 - 0.00004 * epoch : 2.3 - 1.55 * t), trainAccuracy: r4(t),
      valLoss: r4(stalled ? 2.3026 : 2.3 - 1.6 * v), valAccuracy: r4(v), lr, seconds: r4(TRAIN / ips), imagesPerSecond: ips,
    };
  });
}

// model, label, group, params, config key, [lr, seed, val, test, stalled, restartOf]...
const PLAN = [
  ['A', 'A', 'table3', 839242, 'a', [[0.05, 0, 0.552, 0.548], [0.01, 0, 0.481, 0.4755]]],
  ['Strided-CNN-A', 'Strided-CNN-A', 'table3', 839242, 'strided-cnn-a', [[0.05, 0, 0.515, 0.512]]],
  ['ConvPool-CNN-A', 'ConvPool-CNN-A', 'table3', 1254250, 'convpool-cnn-a', [[0.05, 0, 0.5905, 0.585], [0.01, 0, 0.523, 0.519]]],
  ['ALL-CNN-A', 'ALL-CNN-A', 'table3', 1254250, 'all-cnn-a', [[0.05, 0, 0.583, 0.579]]],
  ['B', 'B', 'table3', 885610, 'b', [[0.05, 0, 0.576, 0.571]]],
  ['ALL-CNN-B', 'ALL-CNN-B', 'table3', 1300618, 'all-cnn-b', [[0.05, 0, 0.57, 0.5655]]],
  ['C', 'C', 'table3', 954730, 'c', [[0.05, 0, 0.618, 0.612]]],
  ['Strided-CNN-C', 'Strided-CNN-C', 'table3', 954730, 'strided-cnn-c', [[0.05, 0, 0.569, 0.563]]],
  ['ConvPool-CNN-C', 'ConvPool-CNN-C', 'table3', 1369738, 'convpool-cnn-c', [[0.05, 0, 0.605, 0.601]]],
  ['ALL-CNN-C', 'ALL-CNN-C', 'table3', 1369738, 'all-cnn-c', [[0.05, 0, 0.592, 0.584], [0.1, 0, 0.1, 0.1, true], [0.1, 1, 0.575, 0.57, false, 1]]],
  ['ALL-CNN-C', 'ALL-CNN-C, flips + translations', 'augment', 1369738, 'all-cnn-c', [[0.05, 0, 0.608, 0.602]], { augment: { flip: true, translate: 5 } }],
  ['ALL-CNN-C', 'ALL-CNN-C, no dropout', 'ablation', 1369738, 'all-cnn-c', [[0.05, 0, 0.568, 0.561]]],
  ['ALL-CNN-C', 'ALL-CNN-C, no ZCA', 'ablation', 1369738, 'all-cnn-c', [[0.05, 0, 0.59, 0.5855]], { prep: 'std' }],
];
const PAPER = { A: 12.47, 'Strided-CNN-A': 13.46, 'ConvPool-CNN-A': 10.21, 'ALL-CNN-A': 10.3, B: 10.2, 'ALL-CNN-B': 9.1, C: 9.74, 'Strided-CNN-C': 10.19, 'ConvPool-CNN-C': 9.31, 'ALL-CNN-C': 9.08 };
const SEED = { B: [82.6, 80.89, 350], C: [85.1, 80.83, 20], 'Strided-CNN-C': [81.0, 76.59, 20], 'ConvPool-CNN-C': [84.8, 82.64, 20], 'ALL-CNN-C': [81.0, 78.8, 20] };
const CLAIMS = {
  'ALL-CNN-C, no dropout': "Dropout raises ALL-CNN-C's test accuracy",
  'ALL-CNN-C, no ZCA': "ZCA whitening raises ALL-CNN-C's test accuracy over per-channel standardisation",
};

const runs = [];
const rows = [];
const stalled = [];
let clock = Date.parse('2025-01-15T09:30:00Z');
for (const [model, label, group, parameters, key, tries, extra] of PLAN) {
  const ids = [];
  for (const [lr, seed, val, test, isStalled = false, restartOfIndex] of tries) {
    const ips = 9800 + Math.round(parameters / 1000);
    const id = `${group}/${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}/lr=${lr}/seed=${seed}/full`;
    const hist = history(val, lr, isStalled, ips);
    clock += 15000;
    const run = {
      id, group, label, model, lr, seed, phase: 'full', epochs: EPOCHS, stalled: isStalled,
      ...(restartOfIndex !== undefined ? { restartOf: ids[restartOfIndex] } : {}),
      validation: { accuracy: val, loss: hist[2].valLoss, count: 5000 },
      test: { accuracy: test, loss: r4(2.3 - 1.6 * test), count: 10000 },
      parameters, seconds: r4(EPOCHS * TRAIN / ips + 6.5), imagesPerSecond: ips, device: 'cuda:0 (NVIDIA H100 80GB HBM3)',
      history: hist, config: config(key, lr, seed, extra), finishedAt: new Date(clock).toISOString(),
    };
    runs.push(run);
    ids.push(id);
    if (restartOfIndex !== undefined) stalled.push({ id: ids[restartOfIndex], label, lr, seed: tries[restartOfIndex][1], restartedAs: id });
  }
  const candidates = runs.filter((r) => ids.includes(r.id) && !r.stalled);
  const best = candidates.reduce((a, b) => (b.validation.accuracy > a.validation.accuracy ? b : a));
  rows.push({
    label, model, group, selected: best.id, lr: best.lr, validationAccuracy: best.validation.accuracy, testAccuracy: best.test.accuracy,
    parameters, epochs: EPOCHS, seconds: best.seconds,
    tried: runs.filter((r) => ids.includes(r.id)).map((r) => ({ lr: r.lr, validationAccuracy: r.stalled ? NaN : r.validation.accuracy, stalled: r.stalled, id: r.id })),
    ...(group === 'table3' ? { paperTestAccuracy: r4(100 - PAPER[model]) } : {}),
    ...(group === 'augment' ? { paperTestAccuracy: 92.75 } : {}),
    ...(group === 'table3' && SEED[model] ? { seedReport: { validationAccuracy: SEED[model][0], testAccuracy: SEED[model][1], epochs: SEED[model][2] } } : {}),
    ...(group === 'ablation' ? { claim: CLAIMS[label], baseline: 'ALL-CNN-C' } : {}),
  });
}

const summary = {
  name: 'fixture-short', preset: 'short', lrSelection: 'full', device: 'cuda:0 (NVIDIA H100 80GB HBM3)',
  createdAt: '2025-01-15T10:05:00.000Z', rows, stalled, aggregateImagesPerSecond: 41250.5, concurrency: 4, totalSeconds: 1834.2,
};
fs.writeFileSync(path.join(__dirname, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
fs.writeFileSync(path.join(__dirname, 'runs.jsonl'), runs.map((r) => JSON.stringify(r)).join('\n') + '\n');
