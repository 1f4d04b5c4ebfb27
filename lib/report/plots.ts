/**
 * The report's figures, each written as `${outBase}.svg` and `${outBase}.png`:
 * learning curves of one run, Table 3 test accuracies (ours, the paper's and
 * the seed report's) as grouped bars, and validation accuracy per epoch of
 * several runs (one model's learning rates). Accuracies are drawn in percent.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { RunRecord, Summary } from '../experiments/types';
import { asPercent, count, num } from './format';
import { TABLE3 } from './paper';
import { paperAccuracy, rowScale, runScale, seedSpread } from './records';
import { writeFigure } from './render';

const PANEL = { width: 360, height: 240 };

/** A line, with a dot per epoch only when there are few enough to tell apart. */
function lineMark(runs: readonly RunRecord[]) {
  const most = Math.max(0, ...runs.map((r) => (r.history ?? []).length));
  return { type: 'line', point: most <= 30 } as const;
}

/** The epoch axis: whole epochs only (a short run would otherwise get ticks at 1.5, 2.5 printed as 2, 3). */
function epochAxis(runs: readonly RunRecord[]) {
  const last = Math.max(1, ...runs.flatMap((r) => (r.history ?? []).map((h) => h.epoch)));
  const axis = last <= 12 ? { values: Array.from({ length: last }, (_, i) => i + 1) } : { tickCount: 10 };
  return { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { ...axis, format: 'd' } } as const;
}

function runTitle(run: RunRecord): { text: string; subtitle: string } {
  const notes = [`seed ${run.seed}`, run.phase === 'probe' ? 'learning-rate probe' : count(run.epochs, 'epoch'), ...(run.stalled ? ['STALLED'] : [])];
  return { text: `${run.label}, lr ${run.lr}`, subtitle: notes.join(', ') };
}

/** Training and validation loss (left) and accuracy (right) per epoch of one run. */
export async function learningCurves(run: RunRecord, outBase: string): Promise<{ svg: string; png: string }> {
  const s = runScale([run]);
  const rows = (run.history ?? []).flatMap((h) => [
    { epoch: h.epoch, split: 'training', loss: num(h.loss), accuracy: num(h.trainAccuracy) * s },
    { epoch: h.epoch, split: 'validation', loss: num(h.valLoss), accuracy: num(h.valAccuracy) * s },
  ]);
  // NaN would break the line; a missing point is better than a wrong one.
  const values = (key: 'loss' | 'accuracy') => rows.filter((r) => Number.isFinite(r[key]));
  const x = epochAxis([run]);
  const mark = lineMark([run]);
  const color = { field: 'split', type: 'nominal', title: null, scale: { domain: ['training', 'validation'] } } as const;
  const spec: TopLevelSpec = {
    title: runTitle(run),
    hconcat: [
      {
        ...PANEL,
        data: { values: values('loss') },
        mark,
        encoding: { x, y: { field: 'loss', type: 'quantitative', title: 'cross-entropy loss', scale: { zero: false } }, color },
      },
      {
        ...PANEL,
        data: { values: values('accuracy') },
        mark,
        encoding: { x, y: { field: 'accuracy', type: 'quantitative', title: 'accuracy (%)', scale: { zero: false } }, color },
      },
    ],
  };
  return writeFigure(spec, outBase);
}

/** Test accuracy of each Table 3 model: ours (± the sd between seeds, with several), the paper's and the seed report's, side by side. */
export async function summaryFigure(summary: Summary, outBase: string, augmentation: string | null = null): Promise<{ svg: string; png: string }> {
  const s = rowScale(summary);
  const rows = summary.rows.filter((r) => r.group === 'table3');
  const models = [...TABLE3.map((t) => t.model), ...rows.map((r) => r.model).filter((m) => !TABLE3.some((t) => t.model === m))];
  const data: Array<{ model: string; source: string; accuracy: number; low?: number; high?: number }> = [];
  for (const model of models) {
    const row = rows.find((r) => r.model === model);
    const name = row ? model : `${model} (not run)`;
    const spread = row ? seedSpread(row) : null;
    const sd = spread ? num(spread.testSd) * s : NaN;
    const accuracy = num(row?.testAccuracy) * s;
    if (row) data.push({ model: name, source: 'ours', accuracy, ...(Number.isFinite(sd) ? { low: accuracy - sd, high: accuracy + sd } : {}) });
    data.push({ model: name, source: 'paper', accuracy: paperAccuracy(row ?? { model, group: 'table3' }) });
    if (row?.seedReport) data.push({ model: name, source: 'seed report', accuracy: asPercent(row.seedReport.testAccuracy) });
  }
  const order = models.map((m) => (rows.some((r) => r.model === m) ? m : `${m} (not run)`));
  const spec: TopLevelSpec = {
    title: {
      text: `Table 3: test accuracy (${summary.name}, preset ${summary.preset})`,
      subtitle: `CIFAR-10 ${augmentation ? `with ${augmentation} (the paper: without)` : 'without augmentation'}${data.some((d) => d.low !== undefined) ? '; black lines: ± the standard deviation between seeds' : ''}`,
    },
    width: { step: 14 },
    height: 300,
    data: { values: data.filter((d) => Number.isFinite(d.accuracy)) },
    encoding: {
      x: { field: 'model', type: 'nominal', title: 'model', sort: order, axis: { labelAngle: -40, labelLimit: 300 } },
      xOffset: { field: 'source', type: 'nominal', sort: ['ours', 'paper', 'seed report'] },
    },
    layer: [
      {
        mark: 'bar',
        encoding: {
          y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy (%)', scale: { domain: [0, 100] } },
          color: { field: 'source', type: 'nominal', title: null, sort: ['ours', 'paper', 'seed report'] },
        },
      },
      // Rows trained with several seeds: their mean ± the standard deviation between the seeds.
      { transform: [{ filter: 'isValid(datum.low)' }], mark: { type: 'rule', color: 'black' }, encoding: { y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } } },
    ],
  };
  return writeFigure(spec, outBase);
}

/** Validation accuracy per epoch, one line per run (e.g. one model's learning rates). */
export async function validationCurves(runs: RunRecord[], outBase: string): Promise<{ svg: string; png: string }> {
  const s = runScale(runs);
  const nameOf = (r: RunRecord) => `lr ${r.lr}, seed ${r.seed}${r.phase === 'probe' ? ', probe' : ''}${r.stalled ? ' (stalled)' : ''}`;
  const data = runs.flatMap((r) => (r.history ?? []).map((h) => ({ epoch: h.epoch, run: nameOf(r), stalled: r.stalled, accuracy: num(h.valAccuracy) * s })));
  const labels = [...new Set(runs.map((r) => r.label))];
  const spec: TopLevelSpec = {
    title: { text: `${labels.join(', ')}: validation accuracy by learning rate`, subtitle: `${runs.length} run${runs.length === 1 ? '' : 's'}` },
    ...PANEL,
    data: { values: data.filter((d) => Number.isFinite(d.accuracy)) },
    mark: lineMark(runs),
    encoding: {
      x: epochAxis(runs),
      y: { field: 'accuracy', type: 'quantitative', title: 'validation accuracy (%)', scale: { zero: false } },
      color: { field: 'run', type: 'nominal', title: 'run', legend: { labelLimit: 400 } },
      // Stalled runs dashed, so they read as failures rather than as slow learners.
      strokeDash: { field: 'stalled', type: 'nominal', legend: null, scale: { domain: [false, true], range: [[1, 0], [6, 4]] } },
    },
  };
  return writeFigure(spec, outBase);
}
