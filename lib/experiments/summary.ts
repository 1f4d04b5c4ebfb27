/** summary.json: the report's rows, derived from the run records alone. */
import { meanOverSeeds } from '../report/records';
import { paperTable3Accuracy, paperTestAccuracy } from '../report/paper';
import { MODEL_IDS, MODELS } from '../../models';
import { ABLATIONS, AUGMENTED, CIFAR100_ROW } from './ablations';
import { SEED_REPORT } from './reference';
import type { ReproduceOptions } from './presets';
import type { ResultRow, RunGroup, RunRecord, Summary } from './types';

/** Runs in the order of their rates, highest first (then seed and id): not the order they were listed or finished in. */
function byRate(runs: readonly RunRecord[]): RunRecord[] {
  return [...runs].sort((a, b) => b.lr - a.lr || a.seed - b.seed || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The run with the best validation accuracy, the stalled and diverged left
 * out while others remain. A tie goes to the higher rate, whatever the order
 * of --lrs: the runner picks a row's rate with it, and the report reads the
 * row with it again.
 */
export function bestRun(runs: readonly RunRecord[]): RunRecord {
  const ok = runs.filter((r) => !r.stalled && !r.diverged);
  return byRate(ok.length ? ok : runs).reduce((a, b) => (b.validation.accuracy > a.validation.accuracy ? b : a));
}

/**
 * The row for runs sharing a label: the best full-length run that neither
 * stalled nor diverged, by validation accuracy; with extra seeds at its rate
 * (options.seeds), the mean over those seeds.
 */
function rowFor(label: string, group: RunGroup, recorded: RunRecord[]): ResultRow | null {
  // In the order of the rates, not of the journal: with runs at once that is the order they finished in,
  // and the table of rates tried (and the run a tie picks) would change with --concurrency.
  const runs = byRate(recorded);
  const full = runs.filter((r) => r.phase === 'full' && !r.repeat);
  if (full.length === 0) return null;
  const best = bestRun(full);
  // Learning rates tried: the probes in probe mode, the full runs otherwise.
  const probes = runs.filter((r) => r.phase === 'probe');
  const tried = (probes.length ? probes : full).map((r) => ({
    lr: r.lr, validationAccuracy: r.stalled || r.diverged ? NaN : r.validation.accuracy, stalled: r.stalled, ...(r.diverged ? { diverged: true } : {}), id: r.id,
  }));
  const row: ResultRow = {
    label, model: best.model, group, selected: best.id, lr: best.lr, validationAccuracy: best.validation.accuracy, testAccuracy: best.test.accuracy,
    parameters: best.parameters, epochs: best.history.length, seconds: runs.reduce((s, r) => s + r.seconds, 0), tried,
  };
  const seeds = seedsOf(best, runs);
  if (seeds) Object.assign(row, seeds);
  if (group === 'table3') {
    const paper = paperTable3Accuracy(best.model);
    if (paper !== undefined) row.paperTestAccuracy = paper / 100;
    const seed = SEED_REPORT[best.model];
    if (seed) row.seedReport = { validationAccuracy: seed.validationAccuracy / 100, testAccuracy: seed.testAccuracy / 100, epochs: seed.epochs };
  }
  if (group === 'cifar100') {
    // Data lacking classes (the subsets archive) are not the paper's 100-class task: no paper number.
    const absent = best.absentClasses?.length ?? 0;
    if (absent) row.absentClasses = absent;
    else row.paperTestAccuracy = paperTestAccuracy(best.model, 'cifar100')! / 100;
  }
  const ablation = ABLATIONS.find((a) => a.label === label);
  if (ablation) Object.assign(row, { claim: ablation.claim, baseline: 'ALL-CNN-C', expect: ablation.expect });
  return row;
}

/**
 * The chosen run and its extra seeds at the same rate, each the last of its
 * restarts: their mean accuracies and spread, the stalled and diverged left
 * out. Null when no extra seed has a record.
 */
function seedsOf(best: RunRecord, runs: RunRecord[]): Pick<ResultRow, 'validationAccuracy' | 'testAccuracy' | 'overSeeds'> | null {
  const restarted = new Set(runs.map((r) => r.restartOf).filter(Boolean));
  const repeats = runs.filter((r) => r.repeat && r.phase === 'full' && r.lr === best.lr && !restarted.has(r.id));
  return repeats.length ? meanOverSeeds([best, ...repeats]) : null;
}

/** Table 3's networks as in the paper, then the augmented runs, the ablations and CIFAR-100. */
const PAPER_ORDER = [...MODEL_IDS.map((id) => MODELS[id].name), ...AUGMENTED.map((a) => a.label), ...ABLATIONS.map((a) => a.label), CIFAR100_ROW.label];

export function buildSummary(name: string, o: ReproduceOptions, records: RunRecord[], timing: { totalSeconds: number; aggregateImagesPerSecond: number; reusedRuns?: number }): Summary {
  const groups = new Map<string, { group: RunGroup; runs: RunRecord[] }>();
  for (const r of records) {
    const g = groups.get(r.label) ?? { group: r.group, runs: [] };
    g.runs.push(r);
    groups.set(r.label, g);
  }
  const rows = [...groups.entries()].map(([label, g]) => rowFor(label, g.group, g.runs)).filter((r): r is ResultRow => r !== null);
  // The paper's order, whatever order the runs finished in (with --concurrency it varies).
  const rank = (label: string) => {
    const i = PAPER_ORDER.indexOf(label);
    return i < 0 ? PAPER_ORDER.length : i;
  };
  rows.sort((a, b) => rank(a.label) - rank(b.label));
  const restarts = new Map(records.filter((r) => r.restartOf).map((r) => [r.restartOf!, r.id]));
  const graphed = records.filter((r) => r.config.cudaGraph);
  return {
    name, preset: o.preset, lrSelection: o.lrSelection, device: o.device, createdAt: new Date().toISOString(), rows, maxRestarts: o.maxRestarts,
    stalled: records.filter((r) => r.stalled).map((r) => ({ id: r.id, label: r.label, lr: r.lr, seed: r.seed, restartedAs: restarts.get(r.id) })),
    diverged: records.filter((r) => r.diverged).map((r) => ({ id: r.id, label: r.label, lr: r.lr, seed: r.seed, epoch: r.history.length })),
    aggregateImagesPerSecond: timing.aggregateImagesPerSecond, concurrency: o.concurrency, totalSeconds: timing.totalSeconds,
    reusedRuns: timing.reusedRuns ?? 0, runSeconds: records.reduce((sum, r) => sum + r.seconds, 0),
    cudaGraphs: {
      runs: graphed.length,
      captured: graphed.filter((r) => r.cudaGraph === 'captured').length,
      failures: [...new Set(graphed.filter((r) => r.cudaGraph?.startsWith('failed')).map((r) => `${r.id}: ${r.cudaGraph}`))],
    },
  };
}
