/**
 * Number formatting for REPORT.md. Accuracies are printed in percent with
 * two decimals. Records may hold them as fractions (trainModel's 0..1) or as
 * percents; percentScale() decides once per collection, so one table never
 * mixes the two.
 */

/** A recorded number, or NaN when it is missing (JSON writes NaN as null). */
export function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

/**
 * 100 when every finite value is at most 1 (fractions), else 1 (already
 * percent). Accuracies of a trained classifier are never all below 1%.
 */
export function percentScale(values: readonly unknown[]): number {
  const finite = values.map(num).filter((v) => !Number.isNaN(v));
  return finite.length > 0 && finite.every((v) => v <= 1) ? 100 : 1;
}

/** A single reference number (paper, seed report): fraction or percent. */
export function asPercent(v: unknown): number {
  const x = num(v);
  return x <= 1 ? x * 100 : x;
}

export const MISSING = '—';
export const NOT_RUN = 'not run';

export function pct(v: number): string {
  return Number.isFinite(v) ? v.toFixed(2) : MISSING;
}

/** A signed difference in points: +1.23 / -0.45 (never "-0.00"). */
export function points(d: number): string {
  if (!Number.isFinite(d)) return MISSING;
  const s = d.toFixed(2);
  return s === '-0.00' ? '+0.00' : d >= 0 ? `+${s}` : s;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return MISSING;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h} h ` : ''}${h > 0 || m > 0 ? `${m} min ` : ''}${s % 60} s`;
}

/** A markdown table; a '|' inside a cell is escaped. */
export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A file-name-safe form of a row label, e.g. 'ALL-CNN-C, no dropout' -> 'all-cnn-c-no-dropout'. */
export function slug(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
}

/** '1 epoch', '2 epochs'. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
