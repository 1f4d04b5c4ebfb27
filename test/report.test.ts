/**
 * REPORT.md and its figures from a recorded results folder
 * (test/fixtures-results, made by make-fixture.js there): the numbers printed
 * are the recorded ones, the claims are computed right, nothing is hidden or
 * invented, and the figure files are whole SVG and PNG files.
 */
import { paperTestAccuracy, TABLE3 } from '../lib/report/paper';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { PRESETS } from '../lib/experiments/presets';
import { buildSummary } from '../lib/experiments/summary';
import type { RunRecord, Summary } from '../lib/experiments/types';
import { TEMP_SUFFIX } from '../lib/report/atomic';
import { ablationVerdict, baseClaims, noisePoints, Scored } from '../lib/report/claims';
import { percentScale } from '../lib/report/format';
import { renderReport, writeReport } from '../lib/report/report';
import { stalledSection } from '../lib/report/sections';
import { TABLE3_HEAD } from '../lib/report/table3';

const FIXTURE = resolve(__dirname, '../../test/fixtures-results');
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function load(): { summary: Summary; runs: RunRecord[] } {
  const summary = JSON.parse(readFileSync(join(FIXTURE, 'summary.json'), 'utf8')) as Summary;
  const runs = readFileSync(join(FIXTURE, 'runs.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as RunRecord);
  return { summary, runs };
}

/** The markdown table that follows `heading`, as one object per row keyed by column name. */
function parseTable(md: string, heading: string): Array<Record<string, string>> {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => l === heading);
  expect(start).toBeGreaterThanOrEqual(0);
  const first = lines.findIndex((l, i) => i > start && l.startsWith('|'));
  const rows: string[][] = [];
  for (let i = first; i < lines.length && lines[i].startsWith('|'); i++) rows.push(lines[i].slice(2, -2).split(' | '));
  const [head, , ...body] = rows;
  return body.map((cells) => Object.fromEntries(head.map((h, i) => [h, cells[i]])));
}

function section(md: string, heading: string): string {
  const from = md.indexOf(`${heading}\n`);
  expect(from).toBeGreaterThanOrEqual(0);
  const to = md.indexOf('\n## ', from + heading.length);
  return md.slice(from, to < 0 ? undefined : to);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? filesUnder(join(dir, f)) : [join(dir, f)]));
}

const pct = (fraction: number) => (fraction * 100).toFixed(2);

describe('writeReport on the recorded fixture', () => {
  const { summary, runs } = load();
  let dir: string;
  let md: string;
  let reportPath: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'allcnn-report-'));
    reportPath = await writeReport(dir, summary, runs);
    md = readFileSync(reportPath, 'utf8');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('writes REPORT.md in the folder with the header', () => {
    expect(reportPath).toBe(join(dir, 'REPORT.md'));
    expect(md).toContain('- Preset: `short`');
    expect(md).toContain('- Learning-rate selection: `full`');
    expect(md).toContain('- Device: cuda:0 (NVIDIA H100 80GB HBM3)');
    expect(md).toContain('- Date: 2025-01-15T10:05:00.000Z');
    expect(md).toContain('- Total time: 30 min 34 s (1834 s)');
    expect(md).toContain('- Concurrency: 4 runs at a time');
    expect(md).toContain('- Aggregate throughput: 41251 training images/s');
  });

  test('Table 3 prints the recorded numbers, in the paper order', () => {
    const table = parseTable(md, '## Table 3: CIFAR-10 without augmentation');
    expect(Object.keys(table[0])).toEqual(TABLE3_HEAD);
    expect(table.map((r) => r.Model)).toEqual([
      'A', 'Strided-CNN-A', 'ConvPool-CNN-A', 'ALL-CNN-A', 'B', 'Strided-CNN-B', 'ConvPool-CNN-B', 'ALL-CNN-B', 'C', 'Strided-CNN-C', 'ConvPool-CNN-C', 'ALL-CNN-C',
    ]);
    const recorded = summary.rows.filter((r) => r.group === 'table3');
    expect(recorded).toHaveLength(10);
    for (const row of recorded) {
      const t = table.find((r) => r.Model === row.model)!;
      expect(t['Params']).toBe(row.parameters.toLocaleString('en-US'));
      expect(Number(t['LR'])).toBe(row.lr);
      expect(Number(t['Epochs'])).toBe(row.epochs);
      expect(t['Val acc (%)']).toBe(pct(row.validationAccuracy));
      expect(t['Test acc (%)']).toBe(pct(row.testAccuracy));
      expect(t['Paper test acc (%)']).toBe(row.paperTestAccuracy!.toFixed(2));
      const diff = row.testAccuracy * 100 - row.paperTestAccuracy!;
      expect(Number(t['Ours - paper (points)'])).toBeCloseTo(diff, 2);
      expect(t['Ours - paper (points)'].startsWith(diff >= 0 ? '+' : '-')).toBe(true);
      if (row.seedReport) {
        expect(t['Seed report val (%)']).toBe(row.seedReport.validationAccuracy.toFixed(2));
        expect(t['Seed report test (%)']).toBe(row.seedReport.testAccuracy.toFixed(2));
        expect(Number(t['Seed report epochs'])).toBe(row.seedReport.epochs);
      } else {
        expect(t['Seed report test (%)']).toBe('—');
      }
    }
  });

  test('models the preset did not run are shown as "not run", with no numbers of ours', () => {
    const table = parseTable(md, '## Table 3: CIFAR-10 without augmentation');
    for (const model of ['Strided-CNN-B', 'ConvPool-CNN-B']) {
      const t = table.find((r) => r.Model === model)!;
      expect(t['Val acc (%)']).toBe('not run');
      expect(t['Test acc (%)']).toBe('not run');
      expect(t['Params']).toBe('—');
      expect(t['Ours - paper (points)']).toBe('—');
    }
    expect(md).toContain('Ranking by our test accuracy: 1. B 57.10%, 2. ALL-CNN-B 56.55%; not run: Strided-CNN-B, ConvPool-CNN-B.');
    expect(md).toContain('- (2) Strided-CNN-B is below B: **not checked** (Strided-CNN-B not run)'); // said once
  });

  test('the claims are computed on our numbers: some hold, some do not', () => {
    const claims = section(md, "## The paper's claims on our numbers");
    expect(claims).toContain('Ranking by our test accuracy: 1. ConvPool-CNN-A 58.50%, 2. ALL-CNN-A 57.90%, 3. A 54.80%, 4. Strided-CNN-A 51.20%.');
    expect(claims).toContain('- (1) ALL-CNN-A is at least as good as A: **holds** (ALL-CNN-A 57.90% vs A 54.80% (+3.10 points))');
    expect(claims).toContain('- (2) Strided-CNN-A is below A: **holds** (Strided-CNN-A 51.20% vs A 54.80% (-3.60 points))');
    // 0.60 apart, but the difference's noise is 0.70 points (two 10,000-image errors in quadrature): it may lie outside the 1-point band.
    expect(claims).toContain('- (3) ConvPool-CNN-A is within 1 point of ALL-CNN-A: **inconclusive** (ConvPool-CNN-A 58.50% vs ALL-CNN-A 57.90% (+0.60 points); the difference is within its ±0.70-point noise of the 1-point band, so these runs cannot tell)');
    expect(claims).toContain('- (1) ALL-CNN-C is at least as good as C: **does not hold** (ALL-CNN-C 58.40% vs C 61.20% (-2.80 points))');
    expect(claims).toContain('- (3) ConvPool-CNN-C is within 1 point of ALL-CNN-C: **does not hold** (ConvPool-CNN-C 60.10% vs ALL-CNN-C 58.40% (+1.70 points))');
    // 0.55 points below B: less than one standard error of the difference (0.49 and 0.50 points at 10,000 images, 0.70 in quadrature).
    expect(claims).toContain('- (1) ALL-CNN-B is at least as good as B: **inconclusive** (ALL-CNN-B 56.55% vs B 57.10% (-0.55 points); within the ±0.70-point noise of the difference (one standard error), so these runs cannot tell)');
    expect(md).toContain('conclusions from these runs are tentative');
  });

  test('augmentation and ablation rows are compared as recorded', () => {
    const aug = parseTable(md, '## Data augmentation');
    expect(aug).toEqual([{
      Row: 'ALL-CNN-C, flips + translations', Augmentation: 'flips, translations ±5 px', LR: '0.05', Epochs: '3',
      'Test acc (%)': '60.20', 'Without augmentation (%)': '58.40', 'Gain (points)': '+1.80',
    }]);
    expect(md).toContain("60.20% vs the paper's 92.75% (7.25% error, horizontal flips and translations): -32.55 points");
    const abl = parseTable(md, '## Ablations');
    expect(abl.map((r) => [r.Row, r['Test acc (%)'], r['Baseline test acc (%)'], r['Diff (points)'], r['Margin (points)'], r.Verdict])).toEqual([
      ['ALL-CNN-C, no dropout', '56.10', '58.40', '-2.30', '0.70', '**holds**'],
      ['ALL-CNN-C, no ZCA', '58.55', '58.40', '+0.15', '0.70', '**inconclusive**'],
    ]);
    expect(md).toContain('No transfer runs recorded.');
  });

  test('every learning rate tried is listed; stalled runs are marked and listed with their restart', () => {
    const lrs = parseTable(md, '## Learning rates tried');
    expect(lrs).toHaveLength(summary.rows.reduce((n, r) => n + r.tried.length, 0));
    const stalledRow = lrs.find((r) => r.Run === '`table3/all-cnn-c/lr=0.1/seed=0/full`')!;
    expect(stalledRow['Val acc (%)']).toBe('stalled');
    expect(stalledRow.Stalled).toBe('yes');
    const stalled = section(md, '## Stalled runs');
    expect(stalled).toContain('1 run stalled');
    expect(stalled).toContain('- `table3/all-cnn-c/lr=0.1/seed=0/full` (ALL-CNN-C, lr 0.1, seed 0): stalled at chance level after 3 epochs (training loss 2.3026); ' +
      'restarted as `table3/all-cnn-c/lr=0.1/seed=1/full` (seed 1): trained, val acc 57.50%, test acc 57.00%.');
  });

  test('a stalled run with no restart on record says why: the restarts allowed were used, or the experiment stopped first', () => {
    const run = (seed: number, restartOf?: string) => ({
      id: `table3/a/lr=0.1/seed=${seed}/full`, label: 'A', lr: 0.1, seed, stalled: true, restartOf, history: [{ epoch: 3, loss: 2.302585 }],
      validation: { accuracy: 0.1, loss: 2.3 }, test: { accuracy: 0.1, loss: 2.3 },
    }) as unknown as RunRecord;
    const line = (maxRestarts: number | undefined, runs: RunRecord[]) => stalledSection({ ...summary, stalled: [], maxRestarts }, runs).split('\n').pop();
    const tail = '- `table3/a/lr=0.1/seed=1/full` (A, lr 0.1, seed 1): stalled at chance level after 3 epochs (training loss 2.3026); ';
    const chain = [run(0), run(1, 'table3/a/lr=0.1/seed=0/full')];
    expect(line(2, chain)).toBe(`${tail}its restart (seed 2) is not recorded yet: the experiment stopped (or is still running) first, and resuming it trains the restart.`);
    expect(line(1, chain)).toBe(`${tail}not restarted again: the one restart allowed (--max-restarts 1) was used.`);
    expect(line(0, [run(1)])).toBe(`${tail}not restarted (--max-restarts 0).`);
    expect(line(undefined, [run(1)])).toBe(`${tail}not restarted.`); // a summary from before maxRestarts was recorded
  });

  test('figures are whole SVG and PNG files, linked relatively, with no temp files left', () => {
    const links = [...md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
    expect(links).toContain('figures/summary.png');
    expect(links).toContain('figures/curves-all-cnn-c.png');
    expect(links).toContain('figures/lr-all-cnn-c.png');
    expect(links.length).toBe(1 + 2 * summary.rows.length);
    for (const link of links) {
      expect(link.startsWith('figures/')).toBe(true);
      expect(readFileSync(join(dir, link)).subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
      expect(readFileSync(join(dir, link.replace(/\.png$/, '.svg')), 'utf8').startsWith('<svg')).toBe(true);
    }
    const all = filesUnder(dir);
    expect(all.filter((f) => f.endsWith(TEMP_SUFFIX))).toEqual([]);
    expect(all.length).toBe(1 + 2 * links.length);
  });
});

describe('claims and units', () => {
  const s = (model: string, test: number): Scored => ({ label: model, model, test, count: 10000 });

  test('baseClaims: holds, does not hold, and inconclusive within one standard error of the difference', () => {
    // At 90% on 10,000 images each row's error is 0.30 points, the difference's 0.42.
    const holds = new Map([s('C', 90), s('Strided-CNN-C', 89), s('ConvPool-CNN-C', 91.5), s('ALL-CNN-C', 91)].map((x) => [x.model, x]));
    expect(baseClaims('C', holds).map((c) => c.verdict)).toEqual(['holds', 'holds', 'holds']);
    const fails = new Map([s('C', 90), s('Strided-CNN-C', 90.5), s('ConvPool-CNN-C', 92.5), s('ALL-CNN-C', 89.5)].map((x) => [x.model, x]));
    expect(baseClaims('C', fails).map((c) => c.verdict)).toEqual(['does not hold', 'does not hold', 'does not hold']);
    // Level with no noise at all (both at 100%): "at least as good" holds, "below" does not.
    const level = new Map([s('C', 100), s('Strided-CNN-C', 100), s('ConvPool-CNN-C', 100), s('ALL-CNN-C', 100)].map((x) => [x.model, x]));
    expect(baseClaims('C', level).map((c) => c.verdict)).toEqual(['holds', 'does not hold', 'holds']);
    const close = new Map([s('C', 90), s('Strided-CNN-C', 90.1), s('ConvPool-CNN-C', 90.8), s('ALL-CNN-C', 89.9)].map((x) => [x.model, x]));
    const checks = baseClaims('C', close);
    expect(checks.map((c) => c.verdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
    expect(checks[0].text).toBe('ALL-CNN-C 89.90% vs C 90.00% (-0.10 points); within the ±0.43-point noise of the difference (one standard error), so these runs cannot tell');
    expect(checks[2].text).toBe('ConvPool-CNN-C 90.80% vs ALL-CNN-C 89.90% (+0.90 points); the difference is within its ±0.42-point noise of the 1-point band, so these runs cannot tell');
  });

  test('ablationVerdict: one binomial standard error decides', () => {
    expect(noisePoints(90, 10000)).toBeCloseTo(0.3, 10);
    expect(noisePoints(90, 0)).toBe(0.3);
    expect(ablationVerdict(-0.31, 0.3)).toBe('holds');
    expect(ablationVerdict(0.31, 0.3)).toBe('does not hold');
    expect(ablationVerdict(-0.29, 0.3)).toBe('inconclusive');
    expect(ablationVerdict(0.29, 0.3)).toBe('inconclusive');
  });

  test('accuracies recorded as percents print the same as fractions', () => {
    expect(percentScale([0.5, 0.91, null])).toBe(100);
    expect(percentScale([50, 91.2])).toBe(1);
    const { summary, runs } = load();
    const toPercent = (x: number) => (x === null ? x : Math.round(x * 1e6) / 1e4);
    const inPercent: Summary = {
      ...summary,
      rows: summary.rows.map((r) => ({ ...r, validationAccuracy: toPercent(r.validationAccuracy), testAccuracy: toPercent(r.testAccuracy), tried: r.tried.map((t) => ({ ...t, validationAccuracy: toPercent(t.validationAccuracy) })) })),
    };
    expect(renderReport(inPercent, runs, { figures: {} })).toBe(renderReport(summary, runs, { figures: {} }));
  });

  test('a diverged run is never chosen for its row, and is listed with the epoch it stopped in', () => {
    const { summary, runs } = load();
    expect(renderReport(summary, runs, { figures: {} })).toContain('## Diverged runs\n\nNo run diverged.');
    // Model A's lr 0.05 run (the chosen one) blew up in its second epoch instead.
    const id = 'table3/a/lr=0.05/seed=0/full';
    const blown = runs.map((r) => (r.id === id ? { ...r, diverged: true, history: [r.history[0], { ...r.history[1], loss: NaN }] } : r));
    const o = { ...PRESETS.smoke, preset: 'fast' as const, lrSelection: 'full' as const, device: 'cuda' };
    const rebuilt = buildSummary(summary.name, o, blown, { totalSeconds: NaN, aggregateImagesPerSecond: NaN });
    const a = rebuilt.rows.find((r) => r.label === 'A')!;
    expect(a.selected).toBe('table3/a/lr=0.01/seed=0/full'); // the other rate, though it scored lower
    expect(rebuilt.diverged).toEqual([{ id, label: 'A', lr: 0.05, seed: 0, epoch: 2 }]);
    expect(a.tried.find((t) => t.id === id)).toEqual({ lr: 0.05, validationAccuracy: NaN, stalled: false, diverged: true, id });
    const md = renderReport(rebuilt, blown, { figures: {} });
    expect(parseTable(md, '## Learning rates tried').find((r) => r.Run === `\`${id}\``)!['Val acc (%)']).toBe('diverged');
    expect(section(md, '## Diverged runs')).toContain(`1 run diverged (training or validation loss NaN or infinite: the learning rate was too high for it), and stopped there:\n\n- \`${id}\` (A, lr 0.05, seed 0): stopped in epoch 2 of 3, its loss no longer a number.`);
  });

  test("the paper's accuracies keep its two decimals (100 - 13.46 is 86.53999999999999 in floating point)", () => {
    for (const { model, error } of TABLE3) expect(paperTestAccuracy(model, 'cifar10')).toBe(Number((100 - error).toFixed(2)));
    expect(TABLE3.map((t) => String(paperTestAccuracy(t.model, 'cifar10'))).every((v) => /^\d+(\.\d{1,2})?$/.test(v))).toBe(true);
    expect(paperTestAccuracy('ALL-CNN-C', 'cifar100')).toBe(66.29);
  });

  test('Table 3 trained with --augment says so in its heading, as the paper\'s column is without augmentation', () => {
    const { summary, runs } = load();
    const augmented = runs.map((r) => (r.group === 'table3' ? { ...r, config: { ...r.config, augment: { flip: true, translate: 5 } } } : r));
    const md = renderReport(summary, augmented, { figures: {} });
    expect(md).not.toContain('## Table 3: CIFAR-10 without augmentation');
    expect(parseTable(md, '## Table 3: CIFAR-10 with augmentation (flips, translations ±5 px)').length).toBe(12); // the twelve networks, run or not
    expect(md).toContain("These runs were trained with flips, translations ±5 px (`--augment`); the paper's Table 3 column is without augmentation");
  });

  test('CUDA graphs: how many runs captured one, and why the others did not, only when asked for', () => {
    const { summary, runs } = load();
    expect(renderReport(summary, runs, { figures: {} })).not.toContain('CUDA graphs');
    const graphed: Summary = { ...summary, cudaGraphs: { runs: 3, captured: 2, failures: ['table3/c/lr=0.1: failed: operation not permitted when stream is capturing'] } };
    const md = renderReport(graphed, runs, { figures: {} });
    expect(md).toContain('- CUDA graphs: captured in 2 of 3 runs\n  - table3/c/lr=0.1: failed: operation not permitted when stream is capturing\n');
  });
});
