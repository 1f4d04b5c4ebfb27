/**
 * Separate `allcnn train` runs side by side with the paper's Table 3: one row
 * per run, the settings in which the runs differ, then per base model the
 * ranking of the variants that were run and the paper's three claims checked
 * on these numbers (claims.ts). This is how a user who trains networks one by
 * one (on a CPU, say) gets the comparison `allcnn reproduce` writes for its
 * own grid. A CIFAR-100 run is set beside the paper's CIFAR-100 result
 * instead, and left out of the claims, which are about CIFAR-10. Runs of one
 * network that differ only in their seed are repeats: the claims take their
 * mean, and their spread sets the noise.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DATASET_TITLES, recordedDataset } from '../data/dataset';
import { readJsonFile } from '../io/json';
import { invalid } from '../check';
import { DataError } from '../errors';
import type { TrainResult } from '../train/train';
import { MODELS } from '../../models';
import { baseClaims, ClaimCheck, meanAndSd, Scored, scoreText } from './claims';
import { duration, MISSING, pct, points, table } from './format';
import { BASES, PAPER_CIFAR100, PAPER_EPOCHS, paperTestAccuracy, variantsOf } from './paper';

/** What `allcnn train` writes to result.json: its TrainResult without the network. */
export type TrainRecord = Omit<TrainResult, 'network'>;

export interface ComparedRun {
  /** Where the run was read from (its folder), to tell two runs of one network apart. */
  label: string;
  result: TrainRecord;
}

export interface ComparisonRow {
  label: string;
  /** The paper's name: 'ALL-CNN-C' (or a custom network's own name). */
  model: string;
  /** What it was trained on (result.json files written before CIFAR-100 could be trained on: 'cifar10'). */
  dataset: 'cifar10' | 'cifar100';
  /** Classes of the data set with no images in the data it was trained on (the CIFAR-100 subsets archive has 20 of 100). */
  absentClasses: number;
  parameters: number;
  epochs: number;
  lr: number;
  seed: number;
  validationAccuracy: number;
  /** Test accuracy in percent and the number of test images it was measured on. */
  testAccuracy: number;
  testCount: number;
  /**
   * The paper's test accuracy after 350 epochs: Table 3's, or its CIFAR-100
   * result (NaN for a network it has no number for, and for a run whose data
   * lack some of the classes).
   */
  paperTestAccuracy: number;
  stalled: boolean;
  /** Absent in result.json files written before divergence was detected. */
  diverged?: boolean;
  seconds: number;
  imagesPerSecond: number;
}

export interface BaseComparison {
  base: string;
  /** The variants that were run, best test accuracy first; a variant run with several seeds once, by its mean. */
  ranking: Scored[];
  claims: ClaimCheck[];
  /**
   * Variants run more than once in ways other than their seed (another rate,
   * say): the claims would depend on which run is taken, so they are not
   * checked.
   */
  ambiguous: string[];
  /** Of those, the variants with two runs alike in every setting and the seed too (a run given twice, or a copy of its folder). */
  copies?: string[];
}

export interface Comparison {
  rows: ComparisonRow[];
  /** Training settings that are not the same in every run, with their values: 'lr (0.01, 0.05)'. */
  differences: string[];
  /** Where the runs leave the paper's protocol (its data, all 49,000 training images, GCN + ZCA, 10,000 test images), in words. */
  protocol: string[];
  bases: BaseComparison[];
}

/** Where runs leave the paper's protocol: the numbers beside its own then say little. Runs named where not all of them do. */
function protocolDepartures(runs: readonly ComparedRun[]): string[] {
  const configs = runs.map((r) => r.result.config as unknown as { data?: string | null; limit?: number | null; prep?: string });
  const which = (keep: (i: number) => boolean, text: (idx: number[]) => string): string[] => {
    const idx = runs.map((_, i) => i).filter(keep);
    if (idx.length === 0) return [];
    return [`${text(idx)}${idx.length < runs.length ? ` (${idx.map((i) => runs[i].label).join(', ')})` : ''}`];
  };
  const values = (idx: number[], of: (i: number) => number) => [...new Set(idx.map(of))].map((n) => n.toLocaleString('en-US')).join(' or ');
  return [
    ...which((i) => !configs[i].data, (idx) => `trained on a bundled sample (a few hundred images), not ${[...new Set(idx.map((i) => DATASET_TITLES[recordedDataset(runs[i].result.config.dataset)]))].join(' or ')}`),
    // A limit of 49,000 or more keeps the paper's 49,000 (it read "at most 100,000 training images, not 49,000" on a sample of 450).
    ...which((i) => typeof configs[i].limit === 'number' && configs[i].limit! < 49000, (idx) => `at most ${values(idx, (i) => configs[i].limit!)} training images (--limit), not 49,000`),
    ...which((i) => !!configs[i].prep && configs[i].prep !== 'zca', (idx) => `preparation ${[...new Set(idx.map((i) => configs[i].prep))].join(', ')}, not GCN + ZCA`),
    ...which((i) => runs[i].result.test.count < 10000, (idx) => `scored on ${values(idx, (i) => runs[i].result.test.count)} test images, not 10,000`),
  ];
}

/**
 * Config fields that change how fast a run goes, not what it measures. Every
 * other field (a new one included) is compared, and where the runs differ
 * the differences are listed above the claims.
 */
const EXECUTION_ONLY = new Set(['model', 'device', 'channelsLast', 'cudaGraph', 'cudaStream', 'engine', 'evalBatchSize']);

/**
 * A run's training time and speed. result.json times the invocation that
 * wrote it: for a resumed run, the epochs before it add the seconds their
 * history records, and a resume that had nothing left to train takes its
 * speed from the history too.
 */
function timeOf(r: TrainRecord): { seconds: number; imagesPerSecond: number } {
  const earlier = r.history.slice(0, r.resumedFrom ?? 0);
  const speeds = r.history.map((h) => h.imagesPerSecond).filter((v) => Number.isFinite(v) && v > 0);
  return {
    seconds: r.seconds + earlier.reduce((sum, h) => sum + (Number.isFinite(h.seconds) ? h.seconds : 0), 0),
    // The harmonic mean: every epoch trains the same number of images.
    imagesPerSecond: Number.isFinite(r.imagesPerSecond) ? r.imagesPerSecond : speeds.length ? speeds.length / speeds.reduce((sum, v) => sum + 1 / v, 0) : NaN,
  };
}

export function compareRuns(runs: readonly ComparedRun[]): Comparison {
  if (!Array.isArray(runs)) throw invalid('runs', 'a list of { label, result } (result: readRunResult(folder))', runs);
  runs.forEach((run, i) => {
    if (typeof run?.label !== 'string' || !isTrainRecord(run.result)) throw invalid(`runs[${i}]`, '{ label: a string, result: a result.json as readRunResult() reads it }', run);
  });
  const rows = runs.map(({ label, result: r }) => {
    const model = MODELS[r.config.model]?.name ?? r.config.model;
    const dataset = recordedDataset(r.config.dataset);
    const absentClasses = r.absentClasses?.length ?? 0;
    return {
      label, model, dataset, absentClasses, parameters: r.parameters, epochs: r.history.length, lr: r.config.lr, seed: r.config.seed,
      // A run trained with --validation 0 has no validation accuracy (NaN, saved as null).
      validationAccuracy: 100 * (r.validation.accuracy ?? NaN), testAccuracy: 100 * r.test.accuracy, testCount: r.test.count,
      paperTestAccuracy: absentClasses ? NaN : paperTestAccuracy(model, dataset) ?? NaN, stalled: r.stalled, diverged: r.diverged ?? false, ...timeOf(r),
    };
  });
  const configs = runs.map((r) => ({ ...r.result.config, dataset: recordedDataset(r.result.config.dataset) }) as unknown as Record<string, unknown>);
  const keys = [...new Set(configs.flatMap((c) => Object.keys(c)))].filter((k) => !EXECUTION_ONLY.has(k));
  const differences = keys.flatMap((key) => {
    const values = [...new Set(configs.map((c) => JSON.stringify(c[key] ?? null)))];
    return values.length > 1 ? [`${key} (${values.join(', ')})`] : [];
  });
  // The claims are Table 3's, about CIFAR-10. What a run measures, but for its seed: runs alike in it are repeats.
  const recipe = configs.map((c) => JSON.stringify(keys.filter((k) => k !== 'seed').map((k) => c[k] ?? null)));
  const scored = rows.flatMap((r, i) => (r.dataset === 'cifar10'
    ? [{ label: r.label, model: r.model, test: r.testAccuracy, count: r.testCount, seed: r.seed, recipe: recipe[i], failed: r.stalled || Boolean(r.diverged) }]
    : []));
  const bases = BASES.flatMap((base) => {
    const names: string[] = Object.values(variantsOf(base));
    const mine = scored.filter((s) => names.includes(s.model));
    if (mine.length === 0) return [];
    const byModel = new Map<string, Scored>();
    const ambiguous: string[] = [];
    const copies: string[] = [];
    for (const model of names) {
      const runs = mine.filter((s) => s.model === model);
      if (runs.length === 1) byModel.set(model, plain(runs[0]));
      else if (runs.length > 1 && isSeedRepeat(runs)) byModel.set(model, meanOverSeeds(runs));
      else if (runs.length > 1) {
        ambiguous.push(model);
        // The same settings and seed twice: one run passed twice, or a copy of its folder.
        if (new Set(runs.map((r) => `${r.recipe} ${r.seed}`)).size < runs.length) copies.push(model);
      }
    }
    const ranking = (ambiguous.length ? mine.map(plain) : [...byModel.values()]).sort((a, b) => b.test - a.test);
    const claims = ambiguous.length ? [] : baseClaims(base, byModel);
    return [{ base, ranking, claims, ambiguous, ...(copies.length ? { copies } : {}) }];
  });
  return { rows, differences, protocol: protocolDepartures(runs), bases };
}

type SeededScore = Scored & { seed: number; recipe: string; failed: boolean };

function plain({ label, model, test, count }: SeededScore): Scored {
  return { label, model, test, count };
}

/** Runs of one network with the same settings and different seeds. */
function isSeedRepeat(runs: readonly SeededScore[]): boolean {
  return new Set(runs.map((r) => r.recipe)).size === 1 && new Set(runs.map((r) => r.seed)).size === runs.length;
}

/**
 * Several seeds of one network as one score: the mean test accuracy, with the
 * spread between the seeds. Stalled and diverged runs are left out (counted),
 * as `allcnn reproduce --seeds` leaves them out, unless no other is left.
 */
function meanOverSeeds(all: readonly SeededScore[]): Scored {
  const ok = all.filter((r) => !r.failed);
  const runs = ok.length ? ok : all;
  const { mean, sd } = meanAndSd(runs.map((r) => r.test));
  const count = Math.min(...runs.map((r) => r.count));
  const failed = all.length - runs.length;
  return { label: runs.map((r) => r.label).join(', '), model: runs[0].model, test: mean, count, seeds: { runs: runs.length, sd, ...(failed ? { failed } : {}) } };
}

const HEAD = [
  'Run', 'Model', 'Params', 'Epochs', 'LR', 'Seed', 'Val acc (%)', 'Test acc (%)', `Paper test acc (%), ${PAPER_EPOCHS} epochs`,
  'Ours - paper (points)', 'Time', 'Images/s',
];

/** The comparison as markdown: the table, the differences, then one paragraph per base model. */
export function renderComparison(c: Comparison): string {
  const body = c.rows.map((r) => [
    r.label, `${r.model}${r.dataset === 'cifar100' ? ' on CIFAR-100' : ''}${r.stalled ? ' (stalled)' : r.diverged ? ' (diverged)' : ''}`, r.parameters.toLocaleString('en-US'), String(r.epochs), String(r.lr),
    String(r.seed), pct(r.validationAccuracy), pct(r.testAccuracy), pct(r.paperTestAccuracy),
    points(r.testAccuracy - r.paperTestAccuracy), duration(r.seconds), Number.isFinite(r.imagesPerSecond) ? r.imagesPerSecond.toFixed(0) : MISSING,
  ]);
  const out = [table(HEAD, body), ''];
  const claims = c.bases.some((b) => b.claims.length > 0);
  if (c.differences.length) {
    const seeded = c.bases.some((b) => b.ranking.some((r) => r.seeds));
    const onlySeeds = c.differences.every((d) => d.startsWith('seed ('));
    const how = !claims ? '' : seeded
      ? ` The claims below take a network run with several seeds by its mean${onlySeeds ? '' : ', and compare the runs all the same'}.`
      : ' The claims below compare them all the same.';
    out.push(`The runs differ in: ${c.differences.join('; ')}.${how}`);
  } else if (c.rows.length > 1) {
    out.push(new Set(c.rows.map((r) => r.model)).size === 1 ? 'The runs share every training setting and the network (the same run given twice, or a copy of it?).' : 'The runs share every training setting but the network.');
  }
  const c100 = c.rows.filter((r) => r.dataset === 'cifar100');
  if (c100.length) {
    const them = c100.length === 1 ? 'it' : 'them';
    out.push(`${c100.map((r) => r.label).join(', ')} trained on CIFAR-100, where the paper has one result, ${PAPER_CIFAR100.model}'s ${PAPER_CIFAR100.error}% test error` +
      `${claims ? `; the claims below, about CIFAR-10, leave ${them} out` : ''}.`);
  }
  for (const r of c.rows.filter((row) => row.absentClasses)) {
    out.push(`${r.label} trained on data in which ${r.absentClasses} of the classes have no images (the CIFAR-100 subsets archive, say): its accuracy is not comparable with the paper's, and none is shown beside it.`);
  }
  if (c.protocol?.length) out.push(`Unlike the paper's protocol: ${c.protocol.join('; ')}. The differences to its numbers say little about the networks.`);
  const longest = Math.max(0, ...c.rows.map((r) => r.epochs));
  if (c.rows.length > 0 && longest < PAPER_EPOCHS) {
    const they = c.rows.length === 1 ? `It trained for ${longest}` : `They trained for at most ${longest}`;
    out.push(`${they} epoch${longest === 1 ? '' : 's'}, the paper's networks for ${PAPER_EPOCHS}${claims ? ': the claims say how the networks compare this early, not where they end' : ''}.`);
  }
  for (const b of c.bases) {
    out.push('', `### Model ${b.base} and its variants`, '');
    // Every run by itself when some variant's runs cannot be taken together: each named by its folder.
    const name = (r: Scored) => (b.ambiguous.length ? `${r.model} (${r.label})` : r.model);
    out.push(`Ranking by test accuracy: ${b.ranking.map((r, i) => `${i + 1}. ${name(r)} ${scoreText(r)}`).join(', ')}.`);
    const seeded = b.ranking.filter((r) => r.seeds);
    if (seeded.length) {
      const over = (r: Scored) => {
        const { runs, sd, failed } = r.seeds!;
        const left = failed ? `; ${failed} more stalled or diverged, left out` : '';
        return runs > 1 ? `${r.model} ${pct(r.test)}% ± ${sd.toFixed(2)} (mean ± sd of ${runs} runs: ${r.label}${left})` : `${r.model} ${pct(r.test)}% (${r.label}${left})`;
      };
      out.push('', `Over seeds: ${seeded.map(over).join('; ')}.`);
    }
    if (b.ambiguous.length) {
      const copies = b.copies ?? [];
      const other = b.ambiguous.filter((m) => !copies.includes(m));
      const why = [
        ...(other.length ? [`${other.join(', ')} was run more than once with other settings than the seed`] : []),
        ...(copies.length ? [`${copies.join(', ')} appears twice with the same settings and seed (the same run given twice, or a copy of its folder?)`] : []),
      ];
      out.push('', `The paper's claims are not checked: ${why.join('; ')}.`);
      continue;
    }
    out.push('', ...b.claims.map((k) => (k.verdict === 'not checked' ? `- ${k.claim}: not checked: ${k.text}.` : `- ${k.claim}: **${k.verdict}**. ${k.text}.`)));
  }
  return out.join('\n');
}

/**
 * Reads the result.json of an `allcnn train` run: `target` is the run's --out
 * folder or the file itself. Throws an error that says what was expected.
 */
export function readRunResult(target: string): TrainRecord {
  if (!fs.existsSync(target)) throw new DataError(`${target}: no such file or folder; pass the --out folder of \`allcnn train\` or its result.json`);
  const file = fs.statSync(target).isDirectory() ? path.join(target, 'result.json') : target;
  if (!fs.existsSync(file)) {
    if (fs.existsSync(path.join(target, 'runs.jsonl'))) throw new DataError(`${target} holds \`allcnn reproduce\` results: its REPORT.md compares them with the paper already`);
    throw new DataError(`${target} has no result.json: is it the --out folder of a finished \`allcnn train\` run?`);
  }
  if (file.endsWith('.safetensors')) throw new DataError(`${file}: a checkpoint; compare reads the result.json beside it: pass the run's --out folder (${path.dirname(file)})`);
  const r = readJsonFile(file, 'pass the --out folder of a finished `allcnn train` run, or its result.json');
  const x = r as Partial<TrainRecord> | null;
  // A transfer run trained on a CIFAR-100 subset: Table 3's CIFAR-10 numbers say nothing about it.
  const subset = (x?.config as { subset?: unknown } | undefined)?.subset;
  if (subset !== undefined) {
    throw new DataError(`${file}: an \`allcnn transfer\` run (CIFAR-100 subset ${Array.isArray(subset) ? subset.join(', ') : String(subset)}), not a CIFAR-10 run of \`allcnn train\`: Table 3 does not apply to it; \`allcnn reproduce --preset transfer\` reports transfer runs`);
  }
  if (!isTrainRecord(x)) throw new DataError(`${file}: not a result.json written by \`allcnn train\` (it needs config.model, config.lr, parameters, history and the validation and test scores)`);
  return x;
}

/**
 * Whether `x` has what compareRuns reads, as trainModel writes it: an edited
 * file with an accuracy of 2.5 would be shown as 250% and judged a claim.
 */
function isTrainRecord(x: unknown): x is TrainRecord {
  const r = x as Partial<TrainRecord> | null;
  const fraction = (v: unknown) => typeof v === 'number' && v >= 0 && v <= 1;
  const dataset = r?.config?.dataset;
  return typeof r?.config?.model === 'string' && typeof r.config.lr === 'number' && typeof r.parameters === 'number' &&
    Array.isArray(r.history) && r.history.every((e) => e !== null && typeof e === 'object') &&
    (dataset === undefined || Object.prototype.hasOwnProperty.call(DATASET_TITLES, dataset as string)) &&
    // No validation images (--validation 0): NaN in a TrainResult, null once written as JSON.
    fraction(r.test?.accuracy) && (fraction(r.validation?.accuracy) || ((r.validation?.accuracy === null || Number.isNaN(r.validation?.accuracy)) && r.validation?.count === 0));
}
