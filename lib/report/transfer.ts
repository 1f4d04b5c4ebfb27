/**
 * REPORT.md of the transfer preset: the results table (mode x subset), what
 * pretraining gains over training from scratch on the near subset (vehicles)
 * and on the far one (flora), said in words from the numbers, the learning
 * curves, and the class mappings. renderTransferReport() is pure (tests parse
 * it back); writeTransferReport() draws the figures and writes the files.
 *
 * The noise margin of a gain comparison is one standard error of
 * (near gain - far gain): the four test accuracies' errors added in
 * quadrature, each the binomial error, or for a mean over seeds the standard
 * error of that mean when it is larger (claims.ts scoredNoise).
 */
import { join } from 'path';
import type { TopLevelSpec } from 'vega-lite';
import type { TransferRecord, TransferRow, TransferSummary } from '../experiments/transfer';
import { makeFolder } from '../io/folder';
import { writeFileAtomic } from './atomic';
import { scoredNoise } from './claims';
import { count, duration, MISSING, num, pct, points, slug, table } from './format';
import { learningCurves } from './plots';
import { writeFigure } from './render';

const pc = (v: number) => num(v) * 100;
/** A row's spread over seeds, when it is the mean of several runs. */
const spreadOf = (r: TransferRow) => (r.overSeeds && r.overSeeds.runs > 1 ? r.overSeeds : null);
/** '61.18', or with several seeds '61.18 ± 1.20'. */
const accuracy = (r: TransferRow, which: 'validation' | 'test') => {
  const spread = spreadOf(r);
  const [mean, sd] = which === 'test' ? [r.testAccuracy, spread?.testSd] : [r.validationAccuracy, spread?.validationSd];
  return `${pct(pc(mean))}${spread ? ` ± ${pc(num(sd)).toFixed(2)}` : ''}`;
};
const modeKey = (r: Pick<TransferRow, 'mode' | 'head'>) => `${r.mode} (${r.head} head)`;
/** The seeds whose runs a row's numbers come from, as '0, 1000'. */
const seedsOf = (r: TransferRow) => (r.overSeeds?.runs ? r.overSeeds.ids : [r.id]).map((id) => /seed=(\d+)/.exec(id)?.[1] ?? '?').join(', ');

function header(s: TransferSummary, runs: readonly TransferRecord[]): string {
  const c = runs[0]?.config;
  // The body's rate is a fine-tuning run's: the other modes record none (null).
  const bodyLrScale = runs.find((r) => r.config.mode === 'finetune')?.config.bodyLrScale;
  const p = s.pretrained;
  const pre = `${p.model ?? 'unknown network'} from \`${p.file}\`${p.trainedHere ? ' (pretrained by this preset)' : ''}` +
    `${p.epochs !== null ? `, ${count(p.epochs, 'epoch')} on CIFAR-10` : ''}${p.validationAccuracy !== null ? `, CIFAR-10 validation accuracy ${pct(pc(p.validationAccuracy))}%` : ''}`;
  return [
    `# ${s.name}: transfer from CIFAR-10 to CIFAR-100 subsets`,
    '',
    `- Pretrained network: ${pre}`,
    s.rows.length ? `- Subsets: ${[...new Set(s.rows.map((r) => `${r.subset}${r.relation ? ` (${r.relation})` : ''}`))].join(', ')}; 90/10 train/validation split of each subset's training images, scored on its test images` : null,
    c ? `- Training: ${count(c.epochs, 'epoch')}, batch ${c.batchSize}, lr ${c.lr} (${c.schedule} schedule${typeof bodyLrScale === 'number' ? `; fine-tuning: body at ${bodyLrScale} x lr` : ''}), momentum ${c.momentum}, weight decay ${c.weightDecay}, prep ${c.prep}, augment ${c.augment ? 'on' : 'off'}, ` +
      (s.seeds ? `seeds ${s.seeds.join(', ')} (each its own split, head and batches; a row is the mean ± the standard deviation over them, its time their sum)` : `seed ${c.seed}`) : null,
    Number.isFinite(s.totalSeconds)
      ? `- Device: ${s.device}; date: ${s.createdAt}; total time ${duration(num(s.totalSeconds))}` +
        (s.reusedRuns ? ` (the last invocation, which reused ${count(s.reusedRuns, 'run')} finished earlier)` : '')
      : `- Device: ${s.device}; reported ${s.createdAt} from the recorded runs, which trained for ${duration(s.rows.reduce((sum, r) => sum + num(r.seconds), 0))} in all`,
    s.missing?.length
      ? `- **Not finished**: ${s.missing.length} planned run${s.missing.length === 1 ? ' has' : 's have'} no record yet (${s.missing.slice(0, 6).join(', ')}${s.missing.length > 6 ? ', ...' : ''}); ` +
        'the same command finishes them. The rows below are of the runs recorded (a mean over the seeds recorded so far).'
      : null,
    '',
    'Accuracies in percent; gains and differences in points.',
    // Without the final ReLU a 1x1 convolution before averaging equals a linear layer after it, and both heads draw the same initial weights.
    c && !c.finalRelu && new Set(s.rows.map((r) => r.head)).size > 1
      ? 'The checkpoint was trained without the final ReLU, so the conv and fc heads compute the same function from the same initial weights: their rows are expected to be identical' +
        `${s.missing?.length ? ' once both have the same seeds recorded' : ''}.`
      : null,
  ].filter((l) => l !== null).join('\n');
}

/** 'yes' / 'no' / 'diverged', or with several seeds how many of them stalled or diverged. */
function stalledCell(r: TransferRow): string {
  const o = r.overSeeds;
  if (!o) return r.stalled ? 'yes' : r.diverged ? 'diverged' : 'no';
  return o.failed ? `${o.failed} of ${o.runs + o.failed} seeds${o.runs ? ' (left out)' : ''}` : 'no';
}

function resultsTable(s: TransferSummary): string {
  // With several seeds, a row that has fewer of them (a run not recorded yet, or failed) says which it has.
  const fewer = (r: TransferRow) => (s.seeds && s.seeds.length > 1 && r.overSeeds?.runs !== 0 && (r.overSeeds?.runs ?? 1) < s.seeds.length ? ` (seed ${seedsOf(r)} only)` : '');
  const body = s.rows.map((r) => [
    modeKey(r), r.subset, r.relation ?? MISSING, String(r.trainImages), accuracy(r, 'validation'), `${accuracy(r, 'test')}${fewer(r)}`, String(r.epochs), duration(num(r.seconds)),
    stalledCell(r),
  ]);
  return table(['Mode', 'Subset', 'Relation', 'Train images', 'Val acc (%)', 'Test acc (%)', 'Epochs', 'Time', 'Stalled'], body);
}

/** Test accuracy as a matrix: one row per mode, one column per subset. */
function matrix(s: TransferSummary): string {
  const subsets = [...new Set(s.rows.map((r) => r.subset))];
  const modes = [...new Set(s.rows.map(modeKey))];
  const cell = (m: string, sub: string) => {
    const r = s.rows.find((x) => modeKey(x) === m && x.subset === sub);
    return r ? `${accuracy(r, 'validation')} / ${accuracy(r, 'test')}` : 'not run';
  };
  return table(['Mode', ...subsets.map((x) => `${x}: val / test (%)`)], modes.map((m) => [m, ...subsets.map((x) => cell(m, x))]));
}

interface Gain {
  mode: string;
  near: number;
  far: number;
  /** One standard error of near - far. */
  margin: number;
  nearMargin: number;
  farMargin: number;
  /** The four rows compared that did not train, each with why: "<label> stalled at chance level" or "<label> diverged" (with several seeds: every seed failed). */
  stalled: string[];
  /**
   * Pairs of rows subtracted whose numbers come from different seeds (each
   * seed has its own split, head and batches), as "<label>: seeds 0, 1000;
   * <label>: seed 0": no comparison until the same seeds are recorded.
   */
  unmatched: string[];
}

/** Gains over scratch on the near and the far subset, per transfer mode. */
export function transferGains(s: TransferSummary): Gain[] {
  const find = (relation: 'near' | 'far', key: string) => s.rows.find((r) => r.relation === relation && modeKey(r) === key);
  const scratch = (relation: 'near' | 'far') => s.rows.find((r) => r.relation === relation && r.mode === 'scratch');
  const se = (r: TransferRow) => {
    const spread = spreadOf(r);
    return scoredNoise({ label: r.label, model: r.label, test: pc(r.testAccuracy), count: r.testCount, seeds: spread ? { runs: spread.runs, sd: pc(spread.testSd) } : undefined });
  };
  const out: Gain[] = [];
  for (const key of [...new Set(s.rows.filter((r) => r.mode !== 'scratch').map(modeKey))]) {
    const [n, f, n0, f0] = [find('near', key), find('far', key), scratch('near'), scratch('far')];
    if (!n || !f || !n0 || !f0) continue;
    const nearMargin = Math.hypot(se(n), se(n0));
    const farMargin = Math.hypot(se(f), se(f0));
    const unmatched = [[n, n0], [f, f0]].filter(([a, b]) => seedsOf(a) !== seedsOf(b)).map(([a, b]) => `${a.label}: seeds ${seedsOf(a)}; ${b.label}: seeds ${seedsOf(b)}`);
    out.push({
      unmatched,
      mode: key, near: pc(n.testAccuracy) - pc(n0.testAccuracy), far: pc(f.testAccuracy) - pc(f0.testAccuracy),
      margin: Math.hypot(nearMargin, farMargin), nearMargin, farMargin, stalled: [n, f, n0, f0].filter((r) => r.stalled || r.diverged || r.overSeeds?.runs === 0)
        .map((r) => `${r.label} ${r.diverged ? 'diverged' : r.overSeeds?.runs === 0 ? 'stalled or diverged with every seed' : 'stalled at chance level'}`),
    });
  }
  return out;
}

function helped(gain: number, margin: number): string {
  if (Math.abs(gain) < margin) return 'no clear effect of pretraining';
  return gain > 0 ? 'pretraining helped' : 'pretraining hurt';
}

/** The comparison in words; every number is from the table above it. */
export function nearFarSection(s: TransferSummary): string {
  const gains = transferGains(s);
  if (gains.length === 0) return 'Not compared: needs the scratch run and a transfer run on both the near (vehicles) and the far (flora) subset.';
  const nearName = s.rows.find((r) => r.relation === 'near')!.subset;
  const farName = s.rows.find((r) => r.relation === 'far')!.subset;
  const rows = gains.map((g) => [g.mode, points(g.near), points(g.far), g.unmatched.length ? 'not compared: seeds differ' : points(g.near - g.far), `±${g.margin.toFixed(2)}`]);
  const lines = gains.map((g) => {
    const d = g.near - g.far;
    const verdict = g.stalled.length
      ? `not a comparison: ${g.stalled.join(', ')}`
      : g.unmatched.length
      ? `not a comparison: the rows subtracted come from different seeds (${g.unmatched.join('; and ')}); the same command trains the missing runs`
      : Math.abs(d) < g.margin
      ? `the difference (${points(d)}) is within one standard error (±${g.margin.toFixed(2)}), so these runs cannot tell near from far`
      : d > 0
        ? `pretraining gained ${d.toFixed(2)} points more on the near subset, as expected`
        : `pretraining gained ${(-d).toFixed(2)} points more on the far subset, contrary to the expectation that a near subset transfers better`;
    return `- **${g.mode}**: ${points(g.near)} points over scratch on ${nearName} (near; ${helped(g.near, g.nearMargin)}, ±${g.nearMargin.toFixed(2)}), ` +
      `${points(g.far)} on ${farName} (far; ${helped(g.far, g.farMargin)}, ±${g.farMargin.toFixed(2)}): ${verdict}.`;
  });
  const small = s.rows.some((r) => r.trainImages < 4000 || r.epochs < 10) || (s.pretrained.validationAccuracy ?? 0) < 0.5;
  const caveat = small
    ? `\n\nCaveat: these runs are small (as few as ${Math.min(...s.rows.map((r) => r.trainImages))} training images per subset and ${count(Math.min(...s.rows.map((r) => r.epochs)), 'epoch')}, ` +
      `a pretrained network at ${s.pretrained.validationAccuracy === null ? 'an unrecorded' : `${pct(pc(s.pretrained.validationAccuracy))}%`} CIFAR-10 validation accuracy): ` +
      'they show that the pipeline works; the comparison needs a well-trained CIFAR-10 network and the whole subsets.'
    : '';
  return [
    `Gain = test accuracy of the mode minus that of training from scratch on the same subset; "near - far" > 0 means CIFAR-10 features helped ${nearName} more than ${farName}.`,
    '',
    table(['Mode', `Gain on ${nearName} (near)`, `Gain on ${farName} (far)`, 'Near - far', 'Standard error'], rows),
    '',
    ...lines,
  ].join('\n') + caveat;
}

function classesSection(runs: readonly TransferRecord[]): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const r of runs) {
    if (seen.has(r.transfer.subset)) continue;
    seen.add(r.transfer.subset);
    const rows = r.transfer.classes.map((c) => [String(c.label), c.name, String(c.fine), c.superclass]);
    parts.push(`### ${r.transfer.subset}`, table(['Label', 'Fine class', 'CIFAR-100 fine label', 'Superclass'], rows));
  }
  return parts.join('\n\n') || 'No runs.';
}

function loadSection(runs: readonly TransferRecord[]): string {
  const lines = runs.filter((r) => r.transfer.load).map((r) => {
    const l = r.transfer.load!;
    return `- ${r.label}: ${l.loaded.length} tensors loaded, new head ${l.fresh.join(', ')}, unused from the checkpoint ${l.unused.join(', ') || 'none'}, ` +
      `${l.frozen.length ? `${l.frozen.length} frozen` : 'none frozen'}; ${r.transfer.trainableParameters.toLocaleString('en-US')} of ${r.parameters.toLocaleString('en-US')} parameters trained`;
  });
  return lines.join('\n') || 'No pretrained weights loaded.';
}

export function renderTransferReport(s: TransferSummary, runs: readonly TransferRecord[], o: { figures: Record<string, string> }): string {
  if (s.rows.length === 0) return `${header(s, runs)}\n\nNo transfer run has finished yet: the same \`allcnn reproduce --preset transfer\` command starts them.\n`;
  const f = o.figures ?? {};
  const curves = s.rows.filter((r) => f[`curves:${r.id}`]).flatMap((r) => [`### ${r.label}`, `![${r.label} learning curves](${f[`curves:${r.id}`]})`]);
  const parts = [
    header(s, runs),
    '## Results',
    resultsTable(s),
    matrix(s),
    f.accuracy ? `![test accuracy by mode and subset](${f.accuracy})` : '',
    '## Near versus far',
    nearFarSection(s),
    '## Learning curves',
    curves.join('\n\n') || 'No figures.',
    '## Classes (labels remapped to 0..K-1)',
    classesSection(runs),
    '## Weights loaded',
    loadSection(runs),
  ];
  return `${parts.filter(Boolean).map((p) => p.trimEnd()).join('\n\n')}\n`;
}

/** Test accuracy per mode, grouped by subset. */
async function accuracyFigure(s: TransferSummary, outBase: string): Promise<unknown> {
  const data = s.rows.map((r) => ({ subset: `${r.subset}${r.relation ? ` (${r.relation})` : ''}`, mode: modeKey(r), accuracy: pc(r.testAccuracy) })).filter((d) => Number.isFinite(d.accuracy));
  const spec: TopLevelSpec = {
    title: { text: `${s.name}: test accuracy after transfer`, subtitle: `from ${s.pretrained.model ?? 'a CIFAR-10 network'}${s.seeds ? `; means over ${s.seeds.length} seeds` : ''}` },
    width: { step: 22 }, height: 240, data: { values: data }, mark: 'bar',
    encoding: {
      x: { field: 'subset', type: 'nominal', title: 'subset', axis: { labelAngle: 0 }, sort: [...new Set(data.map((d) => d.subset))] },
      xOffset: { field: 'mode', type: 'nominal', sort: [...new Set(data.map((d) => d.mode))] },
      y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy (%)', scale: { domain: [0, 100] } },
      color: { field: 'mode', type: 'nominal', title: null, legend: { labelLimit: 300 } },
    },
  };
  return writeFigure(spec, outBase);
}

/** Draws the figures under `${dir}/figures/` and writes `${dir}/REPORT.md`; returns its path. */
export async function writeTransferReport(dir: string, s: TransferSummary, runs: readonly TransferRecord[]): Promise<string> {
  makeFolder(join(dir, 'figures'));
  const figures: Record<string, string> = {};
  if (s.rows.length) {
    await accuracyFigure(s, join(dir, 'figures', 'transfer-accuracy'));
    figures.accuracy = 'figures/transfer-accuracy.png';
  }
  for (const r of runs) {
    if (!r.history?.length) continue;
    const name = `curves-${slug(r.label)}`;
    await learningCurves(r, join(dir, 'figures', name));
    figures[`curves:${r.id}`] = `figures/${name}.png`;
  }
  const file = join(dir, 'REPORT.md');
  writeFileAtomic(file, renderTransferReport(s, runs, { figures }));
  return file;
}
