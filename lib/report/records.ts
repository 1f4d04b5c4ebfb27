/**
 * Lookups over a recorded results folder (summary.json + runs.jsonl) shared
 * by the report and the figures: units, rows by model, runs by id.
 */
import type { ResultRow, RunRecord, Summary } from '../experiments/types';
import { meanAndSd, Scored } from './claims';
import { asPercent, num, percentScale } from './format';
import { paperTable3Accuracy } from './paper';

/** Multiplier to percent for every accuracy in the summary's rows. */
export function rowScale(summary: Summary): number {
  return percentScale(summary.rows.flatMap((r) => [r.validationAccuracy, r.testAccuracy, ...(r.tried ?? []).map((t) => t.validationAccuracy)]));
}

/** Multiplier to percent for every accuracy in these runs and their histories. */
export function runScale(runs: readonly RunRecord[]): number {
  return percentScale(runs.flatMap((r) => [r.validation?.accuracy, r.test?.accuracy, ...(r.history ?? []).flatMap((h) => [h.trainAccuracy, h.valAccuracy])]));
}

/** The paper's test accuracy for a row: as recorded with it, else Table 3's (NaN when neither). */
export function paperAccuracy(row: Pick<ResultRow, 'paperTestAccuracy' | 'model' | 'group'>): number {
  if (row.paperTestAccuracy !== undefined && row.paperTestAccuracy !== null) return asPercent(row.paperTestAccuracy);
  return row.group === 'table3' ? paperTable3Accuracy(row.model) ?? NaN : NaN;
}

export function byId(runs: readonly RunRecord[]): Map<string, RunRecord> {
  return new Map(runs.map((r) => [r.id, r]));
}

/** The table3 rows keyed by model name (the first row wins if a model repeats). */
export function table3ByModel(summary: Summary): Map<string, ResultRow> {
  const m = new Map<string, ResultRow>();
  for (const r of summary.rows) if (r.group === 'table3' && !m.has(r.model)) m.set(r.model, r);
  return m;
}

/**
 * Runs of one row that differ only in their seed, as one: their mean
 * accuracies and spread, the stalled and diverged left out and counted.
 * Null when none is left (the caller keeps a run of its own then).
 */
export function meanOverSeeds(runs: readonly RunRecord[]): Pick<ResultRow, 'validationAccuracy' | 'testAccuracy'> & { overSeeds: NonNullable<ResultRow['overSeeds']> } | null {
  const ok = runs.filter((r) => !r.stalled && !r.diverged);
  if (ok.length === 0) return null;
  const val = meanAndSd(ok.map((r) => r.validation.accuracy));
  const test = meanAndSd(ok.map((r) => r.test.accuracy));
  return {
    validationAccuracy: val.mean, testAccuracy: test.mean,
    overSeeds: { runs: ok.length, validationSd: val.sd, testSd: test.sd, ids: ok.map((r) => r.id), failed: runs.length - ok.length },
  };
}

/** A row's spread over seeds, when its accuracies are the mean of several (reproduce --seeds); else null. */
export function seedSpread(row: Pick<ResultRow, 'overSeeds'>): NonNullable<ResultRow['overSeeds']> | null {
  return row.overSeeds && row.overSeeds.runs > 1 ? row.overSeeds : null;
}

/** A row's test accuracy in percent (its mean over seeds, with their spread, when it has several) and its selected run's test-set size (0 when unknown). */
export function scoreOf(row: ResultRow, scale: number, runs: ReadonlyMap<string, RunRecord>): Scored {
  const score: Scored = { label: row.label, model: row.model, test: num(row.testAccuracy) * scale, count: num(runs.get(row.selected)?.test?.count) || 0 };
  const seeds = seedSpread(row);
  if (seeds) score.seeds = { runs: seeds.runs, sd: num(seeds.testSd) * scale };
  return score;
}
