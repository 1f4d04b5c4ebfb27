/** REPORT.md's note on an unfinished experiment: what is recorded, and what each pending network's learning rates gave so far. */
import type { ExperimentProgress } from '../experiments/progress';
import type { ReproduceOptions } from '../experiments/presets';
import type { RunRecord } from '../experiments/types';
import { NOT_RUN, num, pct, table } from './format';
import { runScale } from './records';

/** '' when every planned run is recorded. */
export function progressSection(p: ExperimentProgress, o: Pick<ReproduceOptions, 'lrs' | 'lrSelection' | 'probeEpochs'>, runs: readonly RunRecord[]): string {
  if (p.pending.length === 0 && p.pendingExtras.length === 0 && p.pendingSeeds.length === 0) return '';
  const s = runScale(runs);
  const restarts = p.restarts ? ` (and ${p.restarts} restart${p.restarts === 1 ? '' : 's'} of stalled runs)` : '';
  const parts = [
    `**Unfinished:** ${p.finished} of the ${p.planned} planned runs are recorded${restarts}. ` +
      'Run the same `allcnn reproduce` command to go on; until then the tables below hold the finished rows only.',
  ];
  if (p.pending.length) {
    const what = o.lrSelection === 'probe' ? `${o.probeEpochs}-epoch probes` : 'full-length runs';
    const cell = (rs: RunRecord[]) =>
      rs.length ? rs.map((r) => `${pct(num(r.validation?.accuracy) * s)} / ${pct(num(r.test?.accuracy) * s)}${r.stalled ? ' (stalled)' : ''}`).join('; ') : NOT_RUN;
    parts.push(
      `Networks of Table 3 without a row yet, and their ${what} so far (validation / test accuracy, %; a restart with the next seed follows a stalled run):`,
      table(['Network', ...o.lrs.map((lr) => `lr ${lr}`)], p.pending.map((m) => [m.model, ...m.tried.map((t) => cell(t.runs))])),
    );
  }
  if (p.pendingExtras.length) parts.push(`Not run yet: ${p.pendingExtras.join('; ')}.`);
  if (p.pendingSeeds.length) parts.push(`Extra seeds not all recorded yet (their rows are the mean of those that are): ${p.pendingSeeds.join(', ')}.`);
  return parts.join('\n\n');
}
