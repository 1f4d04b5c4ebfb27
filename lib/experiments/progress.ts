/**
 * How far an experiment has got: the runs its options plan against the runs
 * recorded in runs.jsonl. An interrupted `allcnn reproduce` (a GPU session
 * that ran out of time, say) can then be reported on before it is resumed.
 */
import { MODELS } from '../../models';
import { ABLATIONS, AUGMENTED, CIFAR100_ROW } from './ablations';
import type { ReproduceOptions } from './presets';
import type { RunRecord } from './types';

export interface ExperimentProgress {
  /** Runs the options plan (restarts of stalled runs not counted). */
  planned: number;
  /** Planned runs with a record; restarts not counted. */
  finished: number;
  /** Restarts of stalled runs with a record. */
  restarts: number;
  /** Table 3 networks without a full-length run yet, with what their learning rates gave so far. */
  pending: Array<{ model: string; tried: Array<{ lr: number; runs: RunRecord[] }> }>;
  /** Extra rows (augmented, ablation, CIFAR-100) without a record yet. */
  pendingExtras: string[];
  /** Table 3 networks with a row whose extra seeds (options.seeds) are not all recorded yet. */
  pendingSeeds: string[];
}

/** The Table 3 networks an experiment trains: those asked for, and ALL-CNN-C when the extras need its rate. */
export function table3Models(o: Pick<ReproduceOptions, 'models' | 'extras'>): string[] {
  return o.extras.length && !o.models.includes('all-cnn-c') ? [...o.models, 'all-cnn-c'] : o.models;
}

/** The labels of the extra rows the options ask for. */
function extraLabels(o: Pick<ReproduceOptions, 'extras'>): string[] {
  return [
    ...(o.extras.includes('augment') ? AUGMENTED.map((a) => a.label) : []),
    ...(o.extras.includes('ablations') ? ABLATIONS.map((a) => a.label) : []),
    ...(o.extras.includes('cifar100') ? [CIFAR100_ROW.label] : []),
  ];
}

export function experimentProgress(o: ReproduceOptions, records: readonly RunRecord[]): ExperimentProgress {
  const models = table3Models(o);
  const extras = extraLabels(o);
  const perModel = (o.lrSelection === 'probe' ? o.lrs.length + 1 : o.lrs.length) + o.seeds - 1;
  const own = records.filter((r) => !r.restartOf);
  // The runs that choose a network's rate: its probes, or in full mode its full runs (a row once all are in).
  const phase = o.lrSelection === 'probe' ? 'probe' : 'full';
  const tried = (name: string) => o.lrs.map((lr) => ({ lr, runs: records.filter((r) => r.group === 'table3' && r.label === name && r.lr === lr && r.phase === phase) }));
  const hasRow = (name: string) =>
    o.lrSelection === 'probe'
      ? records.some((r) => r.label === name && r.phase === 'full')
      : o.lrs.every((lr) => own.some((r) => r.label === name && r.lr === lr));
  const pending = models.map((id) => MODELS[id].name).filter((name) => !hasRow(name)).map((name) => ({ model: name, tried: tried(name) }));
  const repeatsOf = (name: string) => new Set(own.filter((r) => r.group === 'table3' && r.label === name && r.repeat).map((r) => r.repeat)).size;
  const pendingSeeds = models.map((id) => MODELS[id].name).filter((name) => hasRow(name) && repeatsOf(name) < o.seeds - 1);
  return {
    planned: models.length * perModel + extras.length,
    finished: own.length,
    restarts: records.length - own.length,
    pending,
    pendingExtras: extras.filter((label) => !records.some((r) => r.label === label)),
    pendingSeeds,
  };
}
