/**
 * reproduce(): the paper's Table 3 grid (and the augmented runs, the
 * ablations and the CIFAR-100 row), resumable at two levels: finished runs
 * are read back from runs.jsonl and never redone; an interrupted run
 * continues from its own checkpoint. Killing the process at any moment and
 * running the same command again gives the same results.
 *
 * Learning-rate selection, per model:
 *   full:  every rate trained to the end; the best validation accuracy wins.
 *   probe: every rate trained for probeEpochs (with the whole run's schedule);
 *          the best continues from its checkpoint to the end.
 * A run stuck at chance level (stalled) is recorded and restarted with the
 * next seed, up to maxRestarts times; the report lists every one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireDevice } from '../backend';
import { checkKeys, invalid } from '../check';
import { writeFileAtomic } from '../report/atomic';
import { writeReport } from '../report/report';
import { PAPER_AUGMENTATION, RICH_AUGMENTATION } from '../data/augment';
import { Dataset, loadCifar10, loadCifar100 } from '../data/dataset';
import type { NetworkSpec } from '../model/spec';
import type { TrainConfig } from '../train/config';
import { checkpointEpoch } from '../train/checkpoint';
import { AbortError, Progress, trainModel } from '../train/train';
import { MODELS } from '../../models';
import { ABLATIONS, AUGMENTED, CIFAR100_ROW } from './ablations';
import { appendJournal, checkClaim, claimFolder, resumeJournal } from './journal';
import { checkLock, lockFolder } from './lock';
import { recordedTiming } from './report-folder';
import { checkReproduceOptions, ReproduceOptions, SEED_STRIDE } from './presets';
import { table3Models } from './progress';
import { bestRun, buildSummary } from './summary';
import type { RunGroup, RunRecord, Summary } from './types';

export interface RunTask {
  id: string;
  group: RunGroup;
  label: string;
  model: string | NetworkSpec;
  config: TrainConfig;
  phase: 'probe' | 'full';
  claim?: string;
  /** The k-th extra seed of a Table 3 network at its chosen rate. */
  repeat?: number;
}

export type ExperimentEvent =
  | { type: 'run-start'; task: RunTask; seed: number }
  | { type: 'run-progress'; task: RunTask; progress: Progress }
  | { type: 'run-end'; record: RunRecord; cached: boolean }
  | { type: 'stalled'; record: RunRecord; restarting: boolean };

export interface ReproduceHooks {
  onEvent?: (e: ExperimentEvent) => void;
  signal?: AbortSignal;
}

/** Runs at most n promises at once; once the caller's signal aborts, or one of them fails, those still queued do not start. */
class Pool {
  private active = 0;
  private waiting: Array<() => void> = [];
  private readonly stop = new AbortController();
  private readonly onAbort = () => this.stop.abort();
  /**
   * The first run that failed other than by an abort (a full disk, a
   * read-only folder). It stops the others: queued runs do not start, and
   * those in flight stop after their current step (`signal`), their
   * checkpoints kept, rather than each training on until it fails in turn.
   */
  firstFailure?: { error: unknown };
  constructor(private readonly n: number, private readonly outer?: AbortSignal) {
    if (outer?.aborted) this.stop.abort();
    else outer?.addEventListener('abort', this.onAbort, { once: true });
  }
  /** Aborted by the caller's signal, or by the first failure: the runs' own signal. */
  get signal(): AbortSignal {
    return this.stop.signal;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    if (this.signal.aborted) {
      this.waiting.shift()?.(); // pass the turn on, so every queued run settles
      throw new AbortError('training aborted before it started', true);
    }
    this.active++;
    try {
      return await fn();
    } catch (error) {
      // Before the turn is passed on (finally): the next run must not start.
      if (!this.firstFailure && !(error instanceof AbortError)) {
        this.firstFailure = { error };
        this.stop.abort();
      }
      throw error;
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
  /** Lets go of the caller's signal, which may outlive the experiment. */
  close(): void {
    this.outer?.removeEventListener('abort', this.onAbort);
  }
}

/** What reproduce() made: the summary (also in summary.json), REPORT.md's path, and the runs that trained an epoch in this call (0: all were finished earlier). */
export interface Reproduced { summary: Summary; report: string; trainedRuns: number }

const safe = (id: string) => id.replace(/[^\w.=-]+/g, '_');

/** Where the data are: `data` the CIFAR-10 archive, `data100` the CIFAR-100 one (extra 'cifar100'); omitted: the bundled samples. */
export async function reproduce(name: string, o: ReproduceOptions, where: { out: string; data?: string; data100?: string }, hooks: ReproduceHooks = {}): Promise<Reproduced> {
  const started = Date.now();
  checkReproduceOptions(o);
  checkKeys('hooks', hooks, Object.keys({ onEvent: 1, signal: 1 } satisfies Record<keyof ReproduceHooks, 1>)); // a misspelt signal could not stop it
  // Checked before the folder is claimed: found at the first run, they locked the folder to this call's options.
  if (typeof name !== 'string' || name === '') throw invalid('name', "the experiment's name (REPORT.md's title)", name);
  if (hooks.onEvent !== undefined && typeof hooks.onEvent !== 'function') throw invalid('hooks.onEvent', 'a function', hooks.onEvent);
  if (hooks.signal !== undefined && !(hooks.signal instanceof AbortSignal)) throw invalid('hooks.signal', 'an AbortSignal (from an AbortController)', hooks.signal);
  checkKeys('where', where, ['out', 'data', 'data100']); // a misspelt data would train on the bundled sample
  if (typeof where.out !== 'string' || where.out === '') throw invalid('where.out', 'the results folder (a path)', where.out);
  requireDevice(o.device);
  // Another experiment's folder fails before the data are read, and bad data before a folder is made.
  const wantsCifar100 = o.extras.includes('cifar100');
  if (where.data100 !== undefined && !wantsCifar100) throw new TypeError("where.data100 is read only with the extra 'cifar100'");
  const sources = wantsCifar100 ? { data: where.data, data100: where.data100 } : { data: where.data };
  checkClaim(where.out, o, sources);
  checkLock(where.out);
  const dataOptions = { prep: o.prep, limit: o.limit ?? undefined, testLimit: o.testLimit ?? undefined, seed: o.seed, device: o.device };
  const dataset: Dataset = await loadCifar10(where.data, dataOptions);
  let cifar100: Dataset | null = null;
  let lock: { release(): void } | undefined;
  try {
    cifar100 = wantsCifar100 ? await loadCifar100(where.data100, dataOptions) : null;
    // Locked first, then claimed: two fresh starts with other options must not both write experiment.json.
    lock = lockFolder(where.out);
    // The images read, by the keys of `sources`: a resume on other images is refused, a move or repack is not.
    const digests = Object.fromEntries(Object.entries({ data: dataset.recipe?.digest, data100: cifar100?.recipe?.digest }).filter((e): e is [string, string] => e[1] !== undefined));
    claimFolder(where.out, o, sources, name, digests);
  } catch (err) {
    lock?.release();
    dataset.dispose();
    cifar100?.dispose();
    throw err;
  }
  try {
    return await runExperiment(name, o, where, hooks, { dataset, cifar100, started });
  } finally {
    // runExperiment frees the data once the runs are done; this frees them when it failed before (an unreadable
    // runs.jsonl, say). Disposing twice is safe.
    dataset.dispose();
    cifar100?.dispose();
    lock.release();
  }
}

/** reproduce() once the data are read and the folder is claimed and locked: every run, then the summary and the report. */
async function runExperiment(
  name: string, o: ReproduceOptions, where: { out: string; data?: string }, hooks: ReproduceHooks,
  { dataset, cifar100, started }: { dataset: Dataset; cifar100: Dataset | null; started: number },
): Promise<Reproduced> {
  const wantsCifar100 = cifar100 !== null;
  const journal = path.join(where.out, 'runs.jsonl');
  const done = new Map((await resumeJournal(journal)).map((r) => [r.id, r]));
  const pool = new Pool(o.concurrency, hooks.signal);
  let trainedImages = 0;
  let trainedRuns = 0; // runs that trained an epoch here
  let reusedRuns = done.size; // and runs whose record was lost after their last epoch, recorded again from their checkpoints

  /** Trains one task with one seed (or reads its record back). */
  const runOnce = (task: RunTask, seed: number, stopAfterEpoch?: number, restartOf?: string): Promise<RunRecord> => {
    const id = `${task.id}/seed=${seed}/${task.phase}`;
    const cached = done.get(id);
    if (cached) {
      hooks.onEvent?.({ type: 'run-end', record: cached, cached: true });
      return Promise.resolve(cached);
    }
    return pool.run(async () => {
      hooks.onEvent?.({ type: 'run-start', task, seed });
      // Probe and full run of one (model, lr, seed) share a checkpoint: the full run continues the probe.
      const shared = path.join(where.out, 'checkpoints', `${safe(`${task.id}/seed=${seed}`)}.safetensors`);
      // A probe whose record was lost (a torn journal line) after its full run went on: resuming the shared
      // checkpoint would record the full run's later scores as the probe's. It trains afresh in a file of its own.
      const redo = task.phase === 'probe' && stopAfterEpoch !== undefined && checkpointEpoch(shared) > stopAfterEpoch;
      const checkpoint = redo ? shared.replace(/\.safetensors$/, '.probe.safetensors') : shared;
      const config = { ...task.config, seed };
      const data = config.dataset === 'cifar100' ? cifar100! : dataset;
      const r = await trainModel(config, {
        dataset: data, checkpoint, resume: true, stopAfterEpoch, signal: pool.signal,
        onProgress: (progress) => hooks.onEvent?.({ type: 'run-progress', task, progress }),
      });
      trainedImages += (r.history.length - r.resumedFrom) * data.train.count;
      // Epochs an earlier, interrupted invocation trained are in the checkpoint's history, not in r.seconds:
      // their time is added. A full run continuing its probe starts after the probe's epochs, which the probe's record counts.
      const counted = task.phase === 'full' ? done.get(`${task.id}/seed=${seed}/probe`)?.history.length ?? 0 : 0;
      if (r.history.length > r.resumedFrom) trainedRuns++;
      // Nothing trained: a record lost after the run's last epoch, or a full run no longer than its probe (resumedFrom === counted), which is no rerun.
      else if (r.resumedFrom > counted) reusedRuns++;
      const earlierSeconds = r.history.slice(counted, r.resumedFrom).reduce((sum, e) => sum + e.seconds, 0);
      const { network: _unused, ...rest } = r;
      const record: RunRecord = {
        id, group: task.group, label: task.label, model: typeof task.model === 'string' ? MODELS[task.model].name : task.model.name.replace(/ \(.*\)$/, ''),
        lr: r.config.lr, seed, phase: task.phase, epochs: rest.config.epochs, stalled: r.stalled, diverged: r.diverged, restartOf, ...(task.repeat ? { repeat: task.repeat } : {}),
        ...(r.absentClasses.length ? { absentClasses: r.absentClasses } : {}),
        validation: r.validation, test: r.test, parameters: r.parameters, seconds: r.seconds + earlierSeconds, imagesPerSecond: r.imagesPerSecond, device: r.device, cudaGraph: r.cudaGraph,
        history: r.history, config: r.config, finishedAt: new Date().toISOString(),
      };
      appendJournal(journal, record);
      if (redo) fs.rmSync(checkpoint, { force: true });
      done.set(id, record);
      hooks.onEvent?.({ type: 'run-end', record, cached: false });
      return record;
    });
  };

  /** Trains a task, restarting with the next seed while it stalls. */
  const runWithRestarts = async (task: RunTask, stopAfterEpoch?: number, firstSeed = o.seed): Promise<RunRecord> => {
    let record = await runOnce(task, firstSeed, stopAfterEpoch);
    for (let k = 1; record.stalled && k <= o.maxRestarts; k++) {
      hooks.onEvent?.({ type: 'stalled', record, restarting: true });
      record = await runOnce(task, firstSeed + k, stopAfterEpoch, record.id);
    }
    if (record.stalled) hooks.onEvent?.({ type: 'stalled', record, restarting: false });
    return record;
  };

  const baseConfig = (model: string | NetworkSpec, lr: number): TrainConfig => ({
    model, lr, epochs: o.epochs, batchSize: o.batchSize, augment: o.augment, device: o.device, precision: o.precision, prep: o.prep,
    stallEpochs: o.stallEpochs, limit: o.limit ?? undefined, testLimit: o.testLimit ?? undefined,
    ...(o.fastPath && o.device.startsWith('cuda') ? { tf32: true, channelsLast: true, cudaGraph: true, cudaStream: o.concurrency > 1 } : {}),
  });

  /**
   * One model's learning-rate selection: `chosen` resolves to the run that
   * picked the rate (the best probe, or in full mode the best full run),
   * `full` to the chosen full runs: the one with the first seed, and with
   * options.seeds > 1 the others.
   */
  const selectLearningRate = (id: string, label: string): { chosen: Promise<RunRecord>; full: Promise<RunRecord[]> } => {
    const task = (lr: number, phase: 'probe' | 'full', repeat?: number): RunTask => ({
      id: `table3/${id}/lr=${lr}`, group: 'table3', label, model: id, config: baseConfig(id, lr), phase, ...(repeat ? { repeat } : {}),
    });
    const repeats = (lr: number) => Array.from({ length: o.seeds - 1 }, (_, i) => runWithRestarts(task(lr, 'full', i + 1), undefined, o.seed + (i + 1) * SEED_STRIDE));
    if (o.lrSelection === 'full') {
      const chosen = Promise.all(o.lrs.map((lr) => runWithRestarts(task(lr, 'full')))).then(bestRun);
      return { chosen, full: chosen.then((c) => Promise.all([c, ...repeats(c.lr)])) };
    }
    const chosen = Promise.all(o.lrs.map((lr) => runWithRestarts(task(lr, 'probe'), o.probeEpochs))).then(bestRun);
    return { chosen, full: chosen.then((c) => Promise.all([runWithRestarts(task(c.lr, 'full'), undefined, c.seed), ...repeats(c.lr)])) };
  };

  try {
    // The extras need ALL-CNN-C's rate, so it is trained (even if not asked for) and goes first:
    // with --concurrency > 1 the extras then train beside the other networks instead of after
    // them all. The order changes only the scheduling, not what a run computes.
    const models = table3Models(o);
    const ids = o.extras.length ? ['all-cnn-c', ...models.filter((id) => id !== 'all-cnn-c')] : models;
    const table3 = new Map(ids.map((id) => [id, selectLearningRate(id, MODELS[id].name)]));
    const extras: Promise<RunRecord[]>[] = [];
    if (o.extras.length) {
      // The augmented runs and ablations use ALL-CNN-C's chosen learning rate; they start as soon
      // as it is known (after the probes in probe mode), not after ALL-CNN-C's own full run.
      const baseline = table3.get('all-cnn-c')!.chosen;
      extras.push(
        baseline.then((b) => {
          const jobs: Promise<RunRecord>[] = [];
          if (o.extras.includes('augment')) {
            for (const a of AUGMENTED) {
              const config = { ...baseConfig('all-cnn-c', b.lr), augment: a.augment === 'paper' ? PAPER_AUGMENTATION : RICH_AUGMENTATION };
              jobs.push(runWithRestarts({ id: `augment/${a.key}/lr=${b.lr}`, group: 'augment', label: a.label, model: 'all-cnn-c', config, phase: 'full' }));
            }
          }
          if (o.extras.includes('ablations')) {
            for (const a of ABLATIONS) {
              const config = { ...baseConfig(a.model, b.lr), ...a.config };
              jobs.push(runWithRestarts({ id: `ablation/${a.key}/lr=${b.lr}`, group: 'ablation', label: a.label, model: a.model, config, phase: 'full', claim: a.claim }));
            }
          }
          if (wantsCifar100) {
            // The paper does not say which rate its CIFAR-100 run used; this one takes CIFAR-10's choice, as the other extras do.
            const config = { ...baseConfig(CIFAR100_ROW.model, b.lr), dataset: 'cifar100' as const };
            jobs.push(runWithRestarts({ id: `cifar100/${CIFAR100_ROW.key}/lr=${b.lr}`, group: 'cifar100', label: CIFAR100_ROW.label, model: CIFAR100_ROW.model, config, phase: 'full' }));
          }
          return Promise.all(jobs);
        }),
      );
    }
    // Wait for everything; a failure (e.g. an abort) is rethrown after the rest settle: a run's own,
    // which says where it stopped, rather than the "aborted before it started" of a queued one.
    const settled = await Promise.allSettled([...[...table3.values()].map((s) => s.full), ...extras]);
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason);
    if (pool.firstFailure) throw pool.firstFailure.error; // not the aborts it caused
    if (failures.length) throw failures.find((e) => !(e instanceof AbortError && e.beforeStart)) ?? failures[0];
  } finally {
    pool.close();
    dataset.dispose();
    cifar100?.dispose();
  }

  const seconds = (Date.now() - started) / 1000;
  const records = [...done.values()]; // claimFolder guarantees they were all made with these options
  // A rerun that trained nothing keeps the timing of the invocation that did (as `allcnn report` reads it), or
  // says it is not known: its own seconds and 0 images/s say nothing of the runs.
  const { concurrency, ...timing } = trainedRuns === 0
    ? recordedTiming(where.out, records)
    : { totalSeconds: seconds, aggregateImagesPerSecond: trainedImages / seconds, reusedRuns, concurrency: o.concurrency };
  const summary: Summary = {
    ...buildSummary(name, { ...o, concurrency: concurrency ?? o.concurrency }, records, timing),
    data: where.data ? path.resolve(where.data) : null, // the runs' configs do not hold it: their data come in as hooks.dataset
  };
  writeFileAtomic(path.join(where.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const report = await writeReport(where.out, summary, records);
  return { summary, report, trainedRuns };
}
