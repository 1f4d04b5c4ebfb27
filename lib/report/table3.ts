/**
 * REPORT.md's Table 3 part: one row per model in the paper's order (a model
 * the preset did not run is shown as "not run"), then per base model the
 * ranking of its four variants and the paper's three claims on our numbers.
 */
import type { RunRecord, Summary } from '../experiments/types';
import { baseClaims, ranking, Scored, scoreText } from './claims';
import { asPercent, MISSING, NOT_RUN, num, pct, points, table } from './format';
import { BASES, PAPER_EPOCHS, TABLE3, variantsOf } from './paper';
import { byId, paperAccuracy, rowScale, scoreOf, seedSpread, table3ByModel } from './records';

export const TABLE3_HEAD = [
  'Model', 'Params', 'LR', 'Epochs', 'Val acc (%)', 'Test acc (%)', 'Paper test acc (%)', 'Ours - paper (points)',
  'Seed report val (%)', 'Seed report test (%)', 'Seed report epochs',
];

/** Models in the paper's order, then any other table3 model that was run. */
function models(summary: Summary): string[] {
  const known = TABLE3.map((t) => t.model);
  const extra = summary.rows.filter((r) => r.group === 'table3' && !known.includes(r.model)).map((r) => r.model);
  return [...known, ...new Set(extra)];
}

export function table3Table(summary: Summary): string {
  const s = rowScale(summary);
  const rows = table3ByModel(summary);
  const body = models(summary).map((model) => {
    const r = rows.get(model);
    if (!r) {
      const paper = paperAccuracy({ model, group: 'table3' });
      return [model, MISSING, MISSING, MISSING, NOT_RUN, NOT_RUN, pct(paper), MISSING, MISSING, MISSING, MISSING];
    }
    const test = num(r.testAccuracy) * s;
    const paper = paperAccuracy(r);
    const seed = r.seedReport;
    // With several seeds: the mean ± the standard deviation between them, and how many.
    const seeds = seedSpread(r);
    const spread = (sd: number) => (seeds ? ` ± ${num(sd * s).toFixed(2)} (${seeds.runs} seeds${seeds.failed ? `; ${seeds.failed} more stalled or diverged` : ''})` : '');
    return [
      model, num(r.parameters).toLocaleString('en-US'), String(r.lr), String(r.epochs), pct(num(r.validationAccuracy) * s) + spread(num(seeds?.validationSd)),
      pct(test) + spread(num(seeds?.testSd)),
      pct(paper), points(test - paper),
      seed ? pct(asPercent(seed.validationAccuracy)) : MISSING, seed ? pct(asPercent(seed.testAccuracy)) : MISSING, seed ? String(seed.epochs) : MISSING,
    ];
  });
  return table(TABLE3_HEAD, body);
}

/** The test-accuracy view of the table3 rows that claims and rankings use. */
export function scoredTable3(summary: Summary, runs: readonly RunRecord[]): Map<string, Scored> {
  const s = rowScale(summary);
  const ids = byId(runs);
  return new Map([...table3ByModel(summary)].map(([m, r]) => [m, scoreOf(r, s, ids)]));
}

export function claimsSection(summary: Summary, runs: readonly RunRecord[]): string {
  const scored = scoredTable3(summary, runs);
  const out: string[] = [];
  for (const x of BASES) {
    const v = variantsOf(x);
    out.push(`### Model ${x} and its variants`, '');
    const { ranked, missing } = ranking(x, scored);
    const order = ranked.map((r, i) => `${i + 1}. ${r.model} ${scoreText(r)}`).join(', ');
    out.push(`Ranking by our test accuracy: ${order || 'none run'}${missing.length ? `; not run: ${missing.join(', ')}` : ''}.`);
    const paperOrder = Object.values(v).map((m) => ({ m, a: paperAccuracy({ model: m, group: 'table3' }) })).sort((a, b) => b.a - a.a);
    out.push(`The paper's ranking: ${paperOrder.map((p, i) => `${i + 1}. ${p.m} ${pct(p.a)}%`).join(', ')}.`, '');
    for (const c of baseClaims(x, scored)) out.push(`- ${c.claim}: **${c.verdict}** (${c.text})`);
    out.push('');
  }
  if (!summary.rows.some((r) => r.group === 'table3' && seedSpread(r))) out.push(ONE_SEED_NOTE);
  return out.join('\n').trimEnd();
}

/** What a verdict on one seed per network leaves out: the noise it weighs is the test set's alone. */
export const ONE_SEED_NOTE =
  'One seed per network: the noise these verdicts weigh is the test set\'s binomial error alone. Seeds alone moved a network\'s ' +
  "test accuracy by a standard deviation of 2.1 to 2.5 points in this project's three-seed CPU runs (docs/RESULTS.md), so a verdict " +
  'decided by less than that may not survive another seed; `--seeds 3` puts the seeds\' spread into the noise.';

/** What the "Seed report" columns are: not our runs, and nothing to do with --seeds. */
export const SEED_REPORT_NOTE =
  "Seed report: the numbers of the re-implementation in the document this project started from (PyTorch 0.4.1, lr 0.01; 350 epochs for A and B, " +
  '20 for the C family), quoted for reference beside ours and the paper\'s. They are not runs of this experiment, and "seed" there has nothing to do with --seeds.';

/** How rows trained with several seeds read; empty when none was. */
export function seedsNote(summary: Summary): string {
  if (!summary.rows.some((r) => r.group === 'table3' && seedSpread(r))) return '';
  return 'Rows with several seeds: their accuracies are the means over the seeds, ± the standard deviation between them. ' +
    "Each network's rate was chosen on its first seed; the others trained at that rate from scratch. " +
    'The claims below take these means, with the standard error of each mean as its noise where it exceeds the test set\'s.';
}

/** Says that short runs support only tentative conclusions; empty for the paper preset. */
export function shortRunNote(summary: Summary): string {
  if (summary.preset === 'paper') return '';
  const epochs = summary.rows.map((r) => num(r.epochs)).filter(Number.isFinite);
  const most = epochs.length ? Math.max(...epochs) : NaN;
  const length = Number.isFinite(most) ? `for at most ${most} epoch${most === 1 ? '' : 's'}, against the paper's ${PAPER_EPOCHS}` : `for fewer epochs than the paper's ${PAPER_EPOCHS}`;
  return `> **Short runs.** Preset '${summary.preset}' trains ${length}. ` +
    'Accuracies and rankings can change with longer training: conclusions from these runs are tentative.';
}
