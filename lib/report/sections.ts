/**
 * REPORT.md's other parts: augmentation, ablations, CIFAR-100, transfer, the
 * learning rates tried and the runs that stalled. Every number comes from the records
 * (or, for comparison, from the paper and the seed report; see paper.ts).
 */
import type { ResultRow, RunRecord, Summary } from '../experiments/types';
import type { AugmentOptions } from '../data/augment';
import { ablationVerdict, differenceNoise } from './claims';
import { MISSING, num, pct, points, table } from './format';
import { accuracyOf, PAPER_AUGMENTED, PAPER_CIFAR100, SEED_RICH_AUGMENT_GAIN } from './paper';
import { byId, paperAccuracy, rowScale, runScale, scoreOf, table3ByModel } from './records';

function describeAugment(a: AugmentOptions | false | undefined): { text: string; rich: boolean | undefined } {
  if (a === undefined) return { text: 'not recorded', rich: undefined };
  if (a === false) return { text: 'none', rich: false };
  const parts = [
    a.flip ? 'flips' : '',
    a.translate ? `translations ±${a.translate} px` : '',
    a.scale ? `scaling ${a.scale[0]}-${a.scale[1]}` : '',
    a.colorJitter ? 'colour jitter' : '',
  ].filter(Boolean);
  return { text: parts.join(', ') || 'none', rich: Boolean(a.scale || a.colorJitter) };
}

/** The augmentation Table 3's runs trained with (`reproduce --augment`), in words; null when they had none, as in the paper. */
export function table3Augmentation(runs: readonly RunRecord[]): string | null {
  const a = describeAugment(runs.find((r) => r.group === 'table3')?.config?.augment);
  return a.text === 'none' ? null : a.text;
}

export function augmentSection(summary: Summary, runs: readonly RunRecord[]): string {
  const rows = summary.rows.filter((r) => r.group === 'augment');
  if (rows.length === 0) return 'No augmentation runs recorded.';
  const s = rowScale(summary);
  const ids = byId(runs);
  const plain = table3ByModel(summary);
  const paperAug = accuracyOf(PAPER_AUGMENTED.error);
  const paperPlain = paperAccuracy({ model: PAPER_AUGMENTED.model, group: 'table3' });
  const notes: string[] = [];
  const body = rows.map((r) => {
    const aug = describeAugment(ids.get(r.selected)?.config?.augment);
    const test = num(r.testAccuracy) * s;
    const base = plain.get(r.model);
    const gain = base ? test - num(base.testAccuracy) * s : NaN;
    if (aug.rich === true) {
      notes.push(`- ${r.label}: gain over our un-augmented ${r.model} ${points(gain)} points; the seed report found about +${SEED_RICH_AUGMENT_GAIN} points for this richer set.`);
    } else {
      const paper = r.paperTestAccuracy !== undefined ? paperAccuracy(r) : r.model === PAPER_AUGMENTED.model ? paperAug : NaN;
      notes.push(`- ${r.label}: ${pct(test)}% vs the paper's ${pct(paper)}% (${PAPER_AUGMENTED.error}% error, ${PAPER_AUGMENTED.set}): ${points(test - paper)} points; ` +
        `gain over our un-augmented ${r.model} ${points(gain)} points (the paper's: ${points(paperAug - paperPlain)}).`);
    }
    return [r.label, aug.text, String(r.lr), String(r.epochs), pct(test), base ? pct(num(base.testAccuracy) * s) : 'not run', points(gain)];
  });
  return [table(['Row', 'Augmentation', 'LR', 'Epochs', 'Test acc (%)', 'Without augmentation (%)', 'Gain (points)'], body), '', ...notes].join('\n');
}

/** The row an ablation is compared with: by label, else the table3 row of that model. */
function baselineOf(summary: Summary, row: ResultRow): ResultRow | undefined {
  if (!row.baseline) return undefined;
  return summary.rows.find((r) => r !== row && r.label === row.baseline) ?? table3ByModel(summary).get(row.baseline);
}

export const ABLATION_RULE =
  "Each claim predicts this row's test accuracy to be below the baseline's (\"the baseline's choice is better\") or above it (column Expects): " +
  'it holds when the difference goes that way by at least the noise margin, does not hold when it goes the other way by at least the margin, ' +
  'and is inconclusive when |difference| < margin. ' +
  'The margin is one standard error of the difference: the two rows\' binomial standard errors, 100·sqrt(p(1-p)/n) points for n test images ' +
  '(0.30 points at 90% on 10,000 images; 0.30 when n was not recorded), or for a mean over seeds the standard error of that mean when larger, added in quadrature.';

export function ablationSection(summary: Summary, runs: readonly RunRecord[]): string {
  const rows = summary.rows.filter((r) => r.group === 'ablation');
  if (rows.length === 0) return 'No ablation runs recorded.';
  const s = rowScale(summary);
  const ids = byId(runs);
  const body = rows.map((r) => {
    const ours = scoreOf(r, s, ids);
    const base = baselineOf(summary, r);
    const expects = r.expect ?? 'lower';
    if (!base) return [r.label, r.claim ?? MISSING, expects, r.baseline ?? MISSING, pct(ours.test), 'not run', MISSING, MISSING, 'not checked'];
    const b = scoreOf(base, s, ids);
    const d = ours.test - b.test;
    const m = differenceNoise(ours, b);
    return [r.label, r.claim ?? MISSING, expects, base.label, pct(ours.test), pct(b.test), points(d), m.toFixed(2), `**${ablationVerdict(d, m, expects)}**`];
  });
  return [ABLATION_RULE, '', table(['Row', 'Claim', 'Expects', 'Baseline', 'Test acc (%)', 'Baseline test acc (%)', 'Diff (points)', 'Margin (points)', 'Verdict'], body)].join('\n');
}

/** The paper's CIFAR-100 row (extra 'cifar100'): ALL-CNN-C on the 100 fine classes beside its 33.71% test error. */
export function cifar100Section(summary: Summary): string {
  const rows = summary.rows.filter((r) => r.group === 'cifar100');
  if (rows.length === 0) {
    return `Not run: \`--extras augment,ablations,cifar100 --data100 cifar-100-binary.tar.gz\` adds ${PAPER_CIFAR100.model} on CIFAR-100's 100 classes (the paper: ${PAPER_CIFAR100.error}% test error).`;
  }
  const s = rowScale(summary);
  const notes = [`The learning rate is ${PAPER_CIFAR100.model}'s choice on CIFAR-10: the paper does not say which rate its CIFAR-100 run used.`];
  const body = rows.map((r) => {
    const test = num(r.testAccuracy) * s;
    const paper = paperAccuracy(r);
    if (r.absentClasses) {
      notes.push(`${r.label} trained on data in which ${r.absentClasses} of the 100 classes have no images (the CIFAR-100 subsets archive or the bundled sample): not the paper's task, so no paper number is set beside it.`);
    }
    return [r.label, String(r.lr), String(r.epochs), pct(num(r.validationAccuracy) * s), pct(test), pct(paper), points(test - paper)];
  });
  return [table(['Row', 'LR', 'Epochs', 'Val acc (%)', 'Test acc (%)', 'Paper test acc (%)', 'Ours - paper (points)'], body), '', ...notes].join('\n');
}

export function transferSection(summary: Summary): string {
  const rows = summary.rows.filter((r) => r.group === 'transfer');
  if (rows.length === 0) return 'No transfer runs recorded.';
  const s = rowScale(summary);
  const body = rows.map((r) => {
    const test = num(r.testAccuracy) * s;
    const paper = paperAccuracy(r);
    return [r.label, r.model, String(r.lr), String(r.epochs), pct(num(r.validationAccuracy) * s), pct(test), pct(paper), points(test - paper)];
  });
  return table(['Row', 'Model', 'LR', 'Epochs', 'Val acc (%)', 'Test acc (%)', 'Paper test acc (%)', 'Ours - paper (points)'], body);
}

export function learningRateSection(summary: Summary, runs: readonly RunRecord[]): string {
  const s = rowScale(summary);
  const ids = byId(runs);
  // In probe mode the row's run is the full-length continuation of a probe: the one at its rate and seed.
  const chose = (r: ResultRow, t: NonNullable<ResultRow['tried']>[number]) => t.id === r.selected || (t.lr === r.lr && ids.get(t.id)?.seed === ids.get(r.selected)?.seed);
  const body = summary.rows.flatMap((r) =>
    (r.tried ?? []).map((t) => [
      r.label, String(t.lr), String(ids.get(t.id)?.seed ?? MISSING), t.stalled ? 'stalled' : t.diverged ? 'diverged' : pct(num(t.validationAccuracy) * s),
      t.stalled ? 'yes' : 'no', chose(r, t) ? 'yes' : '', `\`${t.id}\``,
    ]),
  );
  if (body.length === 0) return 'No learning rates recorded.';
  return table(['Row', 'LR', 'Seed', 'Val acc (%)', 'Stalled', 'Selected', 'Run'], body);
}

/** How many restarts led to the run `id` (0: it is a first try). */
function restartsBefore(id: string, ids: ReadonlyMap<string, RunRecord>): number {
  let n = 0;
  for (let r = ids.get(id); r?.restartOf && n < ids.size; r = ids.get(r.restartOf)) n++;
  return n;
}

/**
 * Why a stalled run has no restart on record: the restarts allowed were used
 * up, or the experiment stopped (or is still running) before it. Summaries
 * written before they recorded maxRestarts cannot tell.
 */
function notRestarted(seed: number, before: number, maxRestarts: number | undefined): string {
  if (maxRestarts === undefined) return 'not restarted';
  if (maxRestarts === 0) return 'not restarted (--max-restarts 0)';
  if (before >= maxRestarts) return `not restarted again: ${maxRestarts === 1 ? 'the one restart allowed (--max-restarts 1) was used' : `the ${maxRestarts} restarts allowed (--max-restarts ${maxRestarts}) were used`}`;
  return `its restart (seed ${seed + 1}) is not recorded yet: the experiment stopped (or is still running) first, and resuming it trains the restart`;
}

/** Every stalled run, from the summary and from the run records, with what became of its restart. */
export function stalledSection(summary: Summary, runs: readonly RunRecord[]): string {
  const ids = byId(runs);
  const s = runScale(runs);
  const listed = new Map(summary.stalled.map((x) => [x.id, x]));
  for (const r of runs) {
    if (r.stalled && !listed.has(r.id)) listed.set(r.id, { id: r.id, label: r.label, lr: r.lr, seed: r.seed, restartedAs: runs.find((x) => x.restartOf === r.id)?.id });
  }
  if (listed.size === 0) return 'No run stalled.';
  const lines = [...listed.values()].map((x) => {
    const run = ids.get(x.id);
    const last = run?.history?.[run.history.length - 1];
    const when = last ? ` after ${last.epoch} epoch${last.epoch === 1 ? '' : 's'} (training loss ${num(last.loss).toFixed(4)})` : '';
    const restartId = x.restartedAs ?? runs.find((r) => r.restartOf === x.id)?.id;
    const restart = restartId ? ids.get(restartId) : undefined;
    let fate = notRestarted(x.seed, restartsBefore(x.id, ids), summary.maxRestarts);
    if (restartId && !restart) fate = `restarted as \`${restartId}\` (no record of that run)`;
    if (restart) {
      fate = `restarted as \`${restart.id}\` (seed ${restart.seed}): ${restart.stalled ? '**stalled again**' : 'trained'}, ` +
        `val acc ${pct(num(restart.validation?.accuracy) * s)}%, test acc ${pct(num(restart.test?.accuracy) * s)}%`;
    }
    return `- \`${x.id}\` (${x.label}, lr ${x.lr}, seed ${x.seed}): stalled at chance level${when}; ${fate}.`;
  });
  return [`${listed.size} run${listed.size === 1 ? '' : 's'} stalled (training loss stuck at ln K, chance level for K classes, and the same class scores for every image):`, '', ...lines].join('\n');
}

/** Every run whose training or validation loss became NaN or infinite, so that it stopped early (never chosen for a row). */
export function divergedSection(runs: readonly RunRecord[]): string {
  const diverged = runs.filter((r) => r.diverged);
  if (diverged.length === 0) return 'No run diverged.';
  const lines = diverged.map((r) => {
    const epoch = r.history?.length ?? 0;
    return `- \`${r.id}\` (${r.label}, lr ${r.lr}, seed ${r.seed}): stopped in epoch ${epoch} of ${r.epochs}, its loss no longer a number.`;
  });
  return [`${diverged.length} run${diverged.length === 1 ? '' : 's'} diverged (training or validation loss NaN or infinite: the learning rate was too high for it), and stopped there:`, '', ...lines].join('\n');
}
