/**
 * The paper's claims checked on our numbers. All accuracies here are test
 * accuracies in percent; differences are in points (percent of images).
 *
 * Table 3 claims, per base model X, as the paper states them:
 *   (1) ALL-CNN-X is at least as good as X:        ALL - X >= 0
 *   (2) Strided-CNN-X is worse than X:             Strided - X < 0
 *   (3) ConvPool-CNN-X is close to ALL-CNN-X:      |ConvPool - ALL| <= 1 point
 * Ablation claims predict the ablated row's test accuracy to be lower than
 * the baseline's (row.expect 'lower', the default: "the baseline's choice is
 * better") or higher ('higher', e.g. "dropout can reduce accuracy").
 *
 * Each difference d = a - b comes with its noise m, one standard error of
 * the difference: the two rows' noises added in quadrature. A row's noise is
 * one binomial standard error of its test accuracy, 100 * sqrt(p (1 - p) / n)
 * for n test images (0.30 points at p = 0.9, n = 10,000, CIFAR-10's test
 * set; 0.30 when n was not recorded), or, for a network run with several
 * seeds (`allcnn compare`, `reproduce --seeds`) and scored by its mean, the
 * standard error of that mean when it is larger. (Both rows are scored on
 * the same test images, whose hard cases they share, so the binomial part
 * overstates the noise of their difference: the verdicts err towards
 * "inconclusive", not towards a claim the numbers do not carry.)
 *
 * A claim holds when d goes its way by at least m, does not hold when d goes
 * the other way by at least m, and is inconclusive when |d| < m; claim (3)
 * holds when |d| <= 1 - m, does not hold when |d| >= 1 + m, and is
 * inconclusive between.
 */
import { CLOSE_POINTS, variantsOf } from './paper';
import { pct, points } from './format';

export type Verdict = 'holds' | 'does not hold' | 'inconclusive';

/** One scored row: test accuracy in percent and the number of test images (0: unknown). */
export interface Scored {
  label: string;
  model: string;
  test: number;
  count: number;
  /**
   * Set when `test` is the mean over runs that differ only in their seed:
   * how many, the sample standard deviation of their test accuracies
   * (points; NaN for one), and how many more stalled or diverged and were
   * left out of the mean.
   */
  seeds?: { runs: number; sd: number; failed?: number };
}

export interface ClaimCheck {
  claim: string;
  verdict: Verdict | 'not checked';
  text: string;
}

export const DEFAULT_NOISE_POINTS = 0.3;

/** One binomial standard error of a test accuracy, in points. */
export function noisePoints(testPercent: number, count: number): number {
  if (!(count > 0) || !Number.isFinite(testPercent)) return DEFAULT_NOISE_POINTS;
  const p = testPercent / 100;
  return 100 * Math.sqrt((p * (1 - p)) / count);
}

/**
 * The noise of a scored row, in points: one binomial standard error of its
 * test accuracy, or for a mean over seeds the standard error of that mean
 * (sd / sqrt(runs)) when it is larger, as it is when seeds differ by more
 * than the test set can tell apart.
 */
export function scoredNoise(s: Scored): number {
  const binomial = noisePoints(s.test, s.count);
  return s.seeds && Number.isFinite(s.seeds.sd) ? Math.max(binomial, s.seeds.sd / Math.sqrt(s.seeds.runs)) : binomial;
}

/** '61.18%', or '61.18% (mean of 3 seeds)'. */
export function scoreText(s: Scored): string {
  return `${pct(s.test)}%${s.seeds ? ` (mean of ${s.seeds.runs} seed${s.seeds.runs === 1 ? '' : 's'})` : ''}`;
}

/** The mean of `xs` and their sample standard deviation (NaN for fewer than two). */
export function meanAndSd(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = xs.length < 2 ? NaN : Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1));
  return { mean, sd };
}

/** One standard error of the difference a - b, in points: the rows' noises in quadrature. */
export function differenceNoise(a: Scored, b: Scored): number {
  return Math.hypot(scoredNoise(a), scoredNoise(b));
}

export function ablationVerdict(diff: number, noise: number, expect: 'lower' | 'higher' = 'lower'): Verdict {
  if (!Number.isFinite(diff)) return 'inconclusive';
  if (Math.abs(diff) < noise) return 'inconclusive';
  return (expect === 'lower' ? diff < 0 : diff > 0) ? 'holds' : 'does not hold';
}

function versus(a: Scored, b: Scored): string {
  return `${a.model} ${scoreText(a)} vs ${b.model} ${scoreText(b)} (${points(a.test - b.test)} points)`;
}

/** What the noise of the difference says, when it decides the verdict. */
function noiseNote(verdict: Verdict, m: number, close: boolean): string {
  if (verdict !== 'inconclusive') return '';
  return close
    ? `; the difference is within its ±${m.toFixed(2)}-point noise of the ${CLOSE_POINTS}-point band, so these runs cannot tell`
    : `; within the ±${m.toFixed(2)}-point noise of the difference (one standard error), so these runs cannot tell`;
}

/** Within `band` points of zero, beyond the noise m: holds; outside it beyond m: does not hold. */
function closeVerdict(d: number, m: number, band: number): Verdict {
  if (Math.abs(d) <= band - m) return 'holds';
  if (Math.abs(d) >= band + m) return 'does not hold';
  return 'inconclusive';
}

/** Claims (1)-(3) for base model `x`; a claim whose rows were not run is 'not checked'. */
export function baseClaims(x: string, byModel: ReadonlyMap<string, Scored>): ClaimCheck[] {
  const v = variantsOf(x);
  const check = (claim: string, a: string, b: string, verdictOf: (d: number, m: number) => Verdict, close = false): ClaimCheck => {
    const ra = byModel.get(a);
    const rb = byModel.get(b);
    if (!ra || !rb) {
      const missing = [ra ? null : a, rb ? null : b].filter(Boolean).join(' and ');
      return { claim, verdict: 'not checked', text: `${missing} not run` }; // the verdict says 'not checked': the text, why
    }
    const d = ra.test - rb.test;
    const m = differenceNoise(ra, rb);
    const verdict = verdictOf(d, m);
    return { claim, verdict, text: `${versus(ra, rb)}${noiseNote(verdict, m, close)}` };
  };
  return [
    // "At least as good": level (d = 0, with no noise at all, both at 0% or 100%) holds.
    check(`(1) ${v.all} is at least as good as ${v.base}`, v.all, v.base, (d, m) => (d === 0 && m === 0 ? 'holds' : ablationVerdict(d, m, 'higher'))),
    check(`(2) ${v.strided} is below ${v.base}`, v.strided, v.base, (d, m) => ablationVerdict(d, m, 'lower')),
    check(`(3) ${v.convpool} is within ${CLOSE_POINTS} point of ${v.all}`, v.convpool, v.all, (d, m) => closeVerdict(d, m, CLOSE_POINTS), true),
  ];
}

/** The four variants of `x` that were run, best test accuracy first, and those that were not. */
export function ranking(x: string, byModel: ReadonlyMap<string, Scored>): { ranked: Scored[]; missing: string[] } {
  const names = Object.values(variantsOf(x));
  const ranked = names.flatMap((m) => byModel.get(m) ?? []).sort((a, b) => b.test - a.test);
  return { ranked, missing: names.filter((m) => !byModel.has(m)) };
}
