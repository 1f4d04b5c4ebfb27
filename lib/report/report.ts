/**
 * REPORT.md from a recorded results folder: renderReport() turns a Summary
 * and its RunRecords into markdown (pure, so tests can parse it back), and
 * writeReport() draws the figures under `${dir}/figures/` and writes
 * `${dir}/REPORT.md`, every file atomically.
 */
import { join } from 'path';
import { PRESETS, type PresetName, type ReproduceOptions } from '../experiments/presets';
import type { ResultRow, RunRecord, Summary } from '../experiments/types';
import { makeFolder } from '../io/folder';
import { writeFileAtomic } from './atomic';
import { count, duration, MISSING, num, slug } from './format';
import { learningCurves, summaryFigure, validationCurves } from './plots';
import { ablationSection, augmentSection, cifar100Section, table3Augmentation, divergedSection, learningRateSection, stalledSection, transferSection } from './sections';
import { seedSpread } from './records';
import { claimsSection, SEED_REPORT_NOTE, seedsNote, shortRunNote, table3Table } from './table3';

/** Keys of renderReport's `figures` map; values are paths relative to the report. */
export const FIGURE = {
  summary: 'summary',
  curves: (label: string) => `curves:${label}`,
  learningRates: (label: string) => `lr:${label}`,
};

const SELECTION: Record<Summary['lrSelection'], string> = {
  full: 'every learning rate trained in full; the best validation accuracy chosen',
  probe: 'every learning rate trained for a short probe; the best validation accuracy chosen and trained in full',
};

const PREP_TEXT: Record<string, string> = {
  zca: "GCN + ZCA whitening, the paper's",
  std: "per-channel standardisation, not the paper's GCN + ZCA",
  none: "none (pixels in 0..1), not the paper's GCN + ZCA",
};

/**
 * What the Table 3 runs were trained and scored on, from their records: a
 * reader must see that a row of 100 test images of the bundled sample is not
 * a CIFAR-10 test accuracy like the paper's.
 */
function dataLines(s: Summary, runs: readonly RunRecord[]): string[] {
  const r = runs.find((x) => x.group === 'table3' && x.phase === 'full') ?? runs.find((x) => x.group === 'table3');
  if (!r?.config) return [];
  const c = r.config;
  // The summary knows where the data came from (the runs' configs do not: reproduce hands the data set in); an older one does not say.
  const data = s.data;
  const source = data === undefined
    ? 'not recorded (a summary written before it was)'
    : data ? `\`${data}\`` : 'the bundled 600-image CIFAR-10 sample (500 training and 100 test images: a check of the pipeline, not CIFAR-10)';
  // A limit the preset sets (smoke's) is not one the user passed: the flag is named only for another value.
  const preset: Partial<ReproduceOptions> = PRESETS[s.preset as PresetName] ?? {};
  const train = c.limit != null ? `at most ${c.limit.toLocaleString('en-US')} training images (${preset.limit === c.limit ? "the preset's limit" : '--limit'})` : 'all training images of the split';
  const short = c.testLimit != null && c.testLimit > r.test.count
    ? ` (${preset.testLimit === c.testLimit ? `the preset's test limit, ${c.testLimit}` : `--test-limit ${c.testLimit}`}: the data hold no more)` : '';
  return [
    `- Data: ${source}; ${train}, ${r.validation.count.toLocaleString('en-US')} validation and ${r.test.count.toLocaleString('en-US')} test images${short}`,
    `- Preparation: ${PREP_TEXT[c.prep] ?? c.prep}${c.augment ? '' : '; no augmentation'}`,
  ];
}

function header(s: Summary, runs: readonly RunRecord[]): string {
  return [
    `# ${s.name}: All Convolutional Net reproduction`,
    '',
    'Springenberg, Dosovitskiy, Brox, Riedmiller, *Striving for Simplicity: The All Convolutional Net*, ICLR 2015 (arXiv:1412.6806).',
    '',
    `- Preset: \`${s.preset}\``,
    `- Learning-rate selection: \`${s.lrSelection}\` (${SELECTION[s.lrSelection] ?? 'unknown mode'})`,
    ...dataLines(s, runs),
    `- Device: ${s.device}`,
    `- Date: ${s.createdAt}`,
    ...timeLines(s),
    ...(s.cudaGraphs?.runs ? [`- CUDA graphs: captured in ${s.cudaGraphs.captured} of ${s.cudaGraphs.runs} runs`, ...s.cudaGraphs.failures.map((f) => `  - ${f}`)] : []),
    '',
    'Accuracies are in percent with two decimals; differences are in points (ours - reference). The paper\'s accuracy is 100 - its test error.',
  ].join('\n');
}

/**
 * Time and throughput. An experiment resumed after an interruption (or run
 * over several sessions) says that these are the last invocation's, and how
 * long all runs trained in all.
 */
function timeLines(s: Summary): string[] {
  // '1 h 2 min 3 s (3723 s)'; under a minute the duration says it already.
  const seconds = (x: number) => (Number.isFinite(x) && x >= 60 ? `${duration(x)} (${x.toFixed(0)} s)` : duration(x));
  const reused = s.reusedRuns ?? 0;
  const last = reused ? ' (the last invocation)' : '';
  const trained = reused ? ' (the last invocation that trained)' : ''; // a rerun that trained nothing keeps its timing
  if (!Number.isFinite(num(s.totalSeconds))) {
    // `allcnn report` on an unfinished experiment, or runs recorded again after their summary.json was written
    // (lost records, re-recorded from their checkpoints by a rerun that trained nothing): no wall time is known.
    return [`- Total time: not known (no finished invocation's summary.json covers these runs); the ${count(reused, 'recorded run')} trained for ${seconds(num(s.runSeconds))} in all`];
  }
  return [
    reused
      ? `- Total time: ${seconds(num(s.totalSeconds))} for the last invocation that trained, which reused ${count(reused, 'run')} finished earlier; all runs trained for ${seconds(num(s.runSeconds))} in all`
      : `- Total time: ${seconds(num(s.totalSeconds))}`,
    `- Concurrency: ${count(s.concurrency, 'run')} at a time${last}`,
    `- Aggregate throughput: ${Number.isFinite(num(s.aggregateImagesPerSecond)) ? num(s.aggregateImagesPerSecond).toFixed(0) : MISSING} training images/s${trained}`,
  ];
}

function image(alt: string, path: string | undefined): string {
  return path ? `![${alt}](${path})` : '';
}

function figureSection(rows: ResultRow[], figures: Record<string, string>, key: (label: string) => string, alt: string): string {
  const parts = rows.flatMap((r) => (figures[key(r.label)] ? [`### ${r.label}`, image(`${r.label} ${alt}`, figures[key(r.label)])] : []));
  return parts.length ? parts.join('\n\n') : 'No figures.';
}

/** Table 3's heading; runs trained with augmentation (`--augment`) say so, as the paper's column is without. */
function table3Heading(augmentation: string | null): string[] {
  if (!augmentation) return ['## Table 3: CIFAR-10 without augmentation'];
  return [
    `## Table 3: CIFAR-10 with augmentation (${augmentation})`,
    `These runs were trained with ${augmentation} (\`--augment\`); the paper's Table 3 column is without augmentation, so it is not a like-for-like comparison (the paper's augmented ALL-CNN-C is in the section on data augmentation).`,
  ];
}

/** `progress`: progressSection()'s note on an unfinished experiment, shown under the header. */
export function renderReport(summary: Summary, runs: RunRecord[], o: { figures: Record<string, string>; progress?: string }): string {
  const f = o.figures ?? {};
  const note = shortRunNote(summary);
  const parts = [
    header(summary, runs),
    o.progress ?? '',
    ...table3Heading(table3Augmentation(runs)),
    table3Table(summary),
    SEED_REPORT_NOTE,
    seedsNote(summary),
    note,
    image('Table 3 test accuracy: ours, the paper and the seed report', f[FIGURE.summary]),
    "## The paper's claims on our numbers",
    claimsSection(summary, runs),
    '## Data augmentation',
    augmentSection(summary, runs),
    '## Ablations',
    ablationSection(summary, runs),
    '## CIFAR-100',
    cifar100Section(summary),
    '## Transfer',
    transferSection(summary),
    '## Learning rates tried',
    learningRateSection(summary, runs),
    '## Stalled runs',
    stalledSection(summary, runs),
    '## Diverged runs',
    divergedSection(runs),
    '## Learning curves of the selected runs',
    summary.rows.some((r) => seedSpread(r)) ? 'For a row with several seeds, the curves are those of the seed its learning rate was chosen on.' : '',
    figureSection(summary.rows, f, FIGURE.curves, 'learning curves'),
    '## Validation accuracy by learning rate',
    figureSection(summary.rows, f, FIGURE.learningRates, 'validation accuracy by learning rate'),
  ];
  return `${parts.filter(Boolean).map((p) => p.trimEnd()).join('\n\n')}\n`;
}

/** The runs behind a row's learning-rate comparison: those tried and their restarts. */
function runsOfRow(row: ResultRow, runs: readonly RunRecord[]): RunRecord[] {
  const tried = new Set((row.tried ?? []).map((t) => t.id));
  tried.add(row.selected);
  return runs.filter((r) => tried.has(r.id) || (r.restartOf !== undefined && tried.has(r.restartOf)));
}

/** Draws the figures and writes `${dir}/REPORT.md`; returns its path. */
export async function writeReport(dir: string, summary: Summary, runs: RunRecord[], progress?: string): Promise<string> {
  const figDir = join(dir, 'figures');
  makeFolder(figDir);
  const figures: Record<string, string> = {};
  const used = new Set<string>();
  // Two labels may share a slug ('A' vs 'a'): number the later ones.
  const unique = (name: string) => {
    let n = name;
    for (let i = 2; used.has(n); i++) n = `${name}-${i}`;
    used.add(n);
    return n;
  };
  const draw = async (key: string, name: string, make: (base: string) => Promise<unknown>) => {
    const file = unique(name);
    await make(join(figDir, file));
    figures[key] = `figures/${file}.png`;
  };
  if (summary.rows.some((r) => r.group === 'table3')) await draw(FIGURE.summary, 'summary', (b) => summaryFigure(summary, b, table3Augmentation(runs)));
  for (const row of summary.rows) {
    const selected = runs.find((r) => r.id === row.selected);
    if (selected?.history?.length) await draw(FIGURE.curves(row.label), `curves-${slug(row.label)}`, (b) => learningCurves(selected, b));
    const compared = runsOfRow(row, runs).filter((r) => r.history?.length);
    if (compared.length) await draw(FIGURE.learningRates(row.label), `lr-${slug(row.label)}`, (b) => validationCurves(compared, b));
  }
  const file = join(dir, 'REPORT.md');
  writeFileAtomic(file, renderReport(summary, runs, { figures, progress }));
  return file;
}
