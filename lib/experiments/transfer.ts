/**
 * The `transfer` preset of `allcnn reproduce`: every transfer mode on both
 * CIFAR-100 subsets, from one CIFAR-10 network (given, or pretrained here),
 * recorded and reported like the Table 3 runs: each finished run is appended
 * to runs.jsonl and never redone, so a killed experiment continues where it
 * stopped when the same command is run again; summary.json and REPORT.md
 * are derived from the records alone.
 *
 * vehicles is the subset near CIFAR-10 (it has automobile, truck, airplane,
 * ship), flora the far one: the report compares what pretraining gains over
 * training from scratch on each.
 */
import * as path from 'node:path';
import { requireDevice } from '../backend';
import { checkInteger, checkKeys } from '../check';
import { Dataset } from '../data/dataset';
import { checkCifar100Subsets, loadCifar100Subset, SubsetClass, SubsetSelection } from '../data/subsets';
import { writeFileAtomic } from '../report/atomic';
import { writeTransferReport } from '../report/transfer';
import type { Prep } from '../data/dataset';
import type { ScheduleName } from '../train/schedule';
import type { Progress } from '../train/train';
import { checkPretrained, type ResolvedTransferConfig, type TransferMode } from '../transfer/config';
import type { Head } from '../transfer/heads';
import { pretrainCifar10 } from '../transfer/pretrain';
import { Pretrained, readPretrained } from '../transfer/pretrained';
import { transfer, TransferProgress, TransferResult } from '../transfer/transfer';
import { MODELS } from '../../models';
import { meanOverSeeds } from '../report/records';
import { appendJournal, checkClaim, claimFolder, resumeJournal } from './journal';
import { checkLock, lockFolder } from './lock';
import { recordedTiming } from './report-folder';
import { MAX_SEEDS, SEED_STRIDE } from './presets';
import type { RunRecord } from './types';

/** How the subsets relate to CIFAR-10 (shared/datasets/README.md). */
export const SUBSET_RELATION: Record<string, 'near' | 'far'> = { vehicles: 'near', flora: 'far' };

/** 'vehicles / features (conv head)'. */
export function runLabel(subset: string, mode: TransferMode, head: Head): string {
  return `${subset} / ${mode} (${head} head)`;
}

export interface TransferRun {
  mode: TransferMode;
  head: Head;
}

export interface TransferPresetOptions {
  preset: 'transfer';
  /** Checkpoint or weights file to transfer from; null: pretrain `model` on CIFAR-10 first. */
  from: string | null;
  /** The network (a model id): the one pretrained, or the one `from` holds (another is refused). */
  model: string;
  pretrainEpochs: number;
  pretrainLr: number;
  /** CIFAR-10 training images used for pretraining (null: all). */
  pretrainLimit: number | null;
  /** Pretraining with the ReLU after the classifier (the paper); transfer runs inherit it from the checkpoint. */
  finalRelu: boolean;
  subsets: string[];
  runs: TransferRun[];
  epochs: number;
  lr: number;
  bodyLrScale: number;
  batchSize: number;
  schedule: ScheduleName;
  /** Training images per subset (null: all 4,500 of the split). */
  limit: number | null;
  testLimit: number | null;
  /** null: the checkpoint's. */
  prep: Prep | null;
  seed: number;
  /**
   * Repeats of every transfer run (default 1): repeat k uses seed
   * `seed + k * SEED_STRIDE` for the subset's split, the new head and the
   * batches (the pretrained network stays the same), and a row is the mean
   * over them, with their spread.
   */
  seeds: number;
  device: string;
}

/** Every mode, plus the fc head on fixed features (the conv head is the all-convolutional way). */
export const TRANSFER_RUNS: TransferRun[] = [
  { mode: 'features', head: 'conv' },
  { mode: 'features', head: 'fc' },
  { mode: 'finetune', head: 'conv' },
  { mode: 'scratch', head: 'conv' },
];

const COMMON = {
  preset: 'transfer' as const, from: null, pretrainLr: 0.05, subsets: ['vehicles', 'flora'], runs: TRANSFER_RUNS,
  lr: 0.05, bodyLrScale: 0.1, schedule: 'paper' as ScheduleName, seed: 0, seeds: 1, testLimit: null,
};

/**
 * cpu: a few minutes on two cores: Strided-CNN-A (about 5x faster than
 *   ALL-CNN-C on a CPU, which in a few epochs barely leaves chance level),
 *   without the final ReLU (short runs with it often stall), 'std'
 *   preprocessing (no ZCA fits); pretrained for 6 epochs on at most 4,000
 *   images of the CIFAR-10 given (the bundled sample by default), then 4
 *   epochs on 1,000 training images per subset.
 * gpu: the paper's ALL-CNN-C and choices, 30 pretraining epochs on all of
 *   CIFAR-10, 30 epochs on every training image of the subsets.
 */
export const TRANSFER_PRESETS: Record<'cpu' | 'gpu', Omit<TransferPresetOptions, 'device'>> = {
  cpu: { ...COMMON, model: 'strided-cnn-a', finalRelu: false, prep: 'std', pretrainEpochs: 6, pretrainLimit: 4000, epochs: 4, limit: 1000, batchSize: 64 },
  gpu: { ...COMMON, model: 'all-cnn-c', finalRelu: true, prep: null, pretrainEpochs: 30, pretrainLimit: null, epochs: 30, limit: null, batchSize: 128 },
};

/** A transfer run as recorded: a RunRecord (group 'transfer') plus what only transfer has. */
export interface TransferRecord extends RunRecord {
  config: ResolvedTransferConfig;
  transfer: {
    subset: string;
    relation: 'near' | 'far' | null;
    mode: TransferMode;
    head: Head;
    /** null outside mode 'finetune' (records written before 2026-12-02 hold 0.1 there). */
    bodyLrScale: number | null;
    from: string | null;
    /** New label -> CIFAR-100 fine class. */
    classes: SubsetClass[];
    load: TransferResult['load'];
    trainableParameters: number;
    trainImages: number;
  };
}

export interface TransferRow {
  id: string;
  label: string;
  subset: string;
  relation: 'near' | 'far' | null;
  mode: TransferMode;
  head: Head;
  validationAccuracy: number;
  testAccuracy: number;
  testCount: number;
  epochs: number;
  seconds: number;
  /** The run stalled at chance level (with several seeds: no seed's run finished cleanly, and the first seed's stalled). */
  stalled: boolean;
  /** The run's loss became NaN or infinite (with several seeds: no seed's run finished cleanly, and the first seed's diverged); absent in older summaries. */
  diverged?: boolean;
  trainImages: number;
  /**
   * With options.seeds > 1: the accuracies are the means over the seeds'
   * runs (the `ids`; stalled and diverged runs left out, and counted in
   * `failed`), and these their sample standard deviations, as fractions.
   */
  overSeeds?: { runs: number; validationSd: number; testSd: number; ids: string[]; failed: number };
}

export interface TransferSummary {
  name: string;
  preset: 'transfer';
  device: string;
  createdAt: string;
  model: string;
  pretrained: { file: string; model: string | null; epochs: number | null; validationAccuracy: number | null; trainedHere: boolean };
  rows: TransferRow[];
  /** With options.seeds > 1: the seeds every run was trained with (the rows are means over them). */
  seeds?: number[];
  /** Planned runs with no record yet (an experiment stopped part-way, reported by `allcnn report`). */
  missing?: string[];
  /** Wall time of the invocation that wrote this summary, or (a rerun that trained nothing) of the last one that trained; NaN (null in summary.json) where not known. */
  totalSeconds: number;
  /** Runs that invocation read back from runs.jsonl instead of training them. */
  reusedRuns?: number;
}

export type TransferEvent =
  | { type: 'pretrain'; file: string; progress: Progress }
  | { type: 'run-start'; id: string; label: string }
  | { type: 'run-progress'; id: string; label: string; progress: TransferProgress }
  | { type: 'run-end'; record: TransferRecord; cached: boolean };

export async function reproduceTransfer(
  name: string, o: TransferPresetOptions, where: { out: string; data10?: string; data100?: string },
  hooks: { onEvent?: (e: TransferEvent) => void; signal?: AbortSignal } = {},
): Promise<{ summary: TransferSummary; report: string; trainedRuns: number }> {
  const started = Date.now();
  // Options built before `seeds` existed (not from TRANSFER_PRESETS) mean one seed, as their experiment.json reads.
  o = { ...o, seeds: o.seeds ?? 1 };
  requireDevice(o.device);
  checkInteger('seeds', o.seeds, 1, MAX_SEEDS);
  checkKeys('where', where, ['out', 'data10', 'data100']); // a misspelt data10 would pretrain on the bundled sample
  checkKeys('hooks', hooks, ['onEvent', 'signal']);
  // Another experiment's folder, a bad CIFAR-100 archive or subset fail here, not after pretraining.
  // The pretrained network given (--from) is compared as the data are: a resume must start from the same file.
  const sources = { data10: where.data10, data100: where.data100, ...(o.from ? { from: o.from } : {}) };
  checkClaim(where.out, o, sources);
  checkLock(where.out);
  await checkCifar100Subsets(where.data100, o.subsets);

  // Locked before pretraining, which writes into the folder (a second process would train the same checkpoint);
  // a folder made here and still empty when a failure releases the lock is removed again.
  const lock = lockFolder(where.out);
  try {
    // 1. the CIFAR-10 network (bad CIFAR-10 data fail before the folder is claimed)
    const from = o.from ?? path.join(where.out, 'pretrain', 'checkpoint.safetensors');
    if (!o.from) {
      await pretrainCifar10(
        {
          model: o.model, data: where.data10, epochs: o.pretrainEpochs, lr: o.pretrainLr, limit: o.pretrainLimit ?? undefined, prep: o.prep ?? undefined,
          finalRelu: o.finalRelu, seed: o.seed, device: o.device, stallEpochs: 0,
        },
        from, { signal: hooks.signal, onProgress: (progress) => hooks.onEvent?.({ type: 'pretrain', file: from, progress }) },
      );
    }
    const pre = readPretrained(from);
    pre.dispose();
    if (o.from) checkPretrained(pre, o.model); // before the folder is claimed: a rerun with a good --from must not be refused
    // As `allcnn transfer` says it: the defaults are a guess, which the user should know is one.
    if (!pre.config && !o.prep) {
      process.emitWarning(`${from} is a weights file, which does not record how its images were prepared or whether its last convolution had a ReLU: these runs take prep zca and the final ReLU (pass --prep if it was trained otherwise, or pass its checkpoint.safetensors)`, 'AllcnnTransferWarning');
    }
    claimFolder(where.out, o, sources, name);
    const journal = path.join(where.out, 'runs.jsonl');
    const done = new Map((await resumeJournal(journal)).map((r) => [r.id, r as TransferRecord]));
    const prep = o.prep ?? pre.config?.prep ?? 'zca';

    // 2. every run, one subset and seed at a time
    const reusedRuns = await trainRuns(o, where, hooks, { from, prep, journal, done });
    const trainedRuns = done.size - reusedRuns;

    // 3. summary and report, from the records alone. A rerun that trained nothing keeps the timing of the invocation
    // that did, or says it is not known, as reproduce() does.
    const { totalSeconds, reusedRuns: reused } = trainedRuns === 0 ? recordedTiming(where.out, [...done.values()]) : { totalSeconds: (Date.now() - started) / 1000, reusedRuns };
    const timing = { totalSeconds, reusedRuns: reused };
    const summary = transferSummary(name, o, done, pretrainedSummary(pre, !o.from), timing);
    writeFileAtomic(path.join(where.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    const report = await writeTransferReport(where.out, summary, firstRuns(o, done));
    return { summary, report, trainedRuns };
  } finally {
    lock.release();
  }
}

/**
 * Trains every planned run not in `done` (one subset and seed at a time: the
 * subset split by that seed is prepared once for all its runs), appending
 * each record to the journal; returns how many were read back instead.
 */
async function trainRuns(
  o: TransferPresetOptions, where: { data100?: string }, hooks: { onEvent?: (e: TransferEvent) => void; signal?: AbortSignal },
  { from, prep, journal, done }: { from: string; prep: Prep; journal: string; done: Map<string, TransferRecord> },
): Promise<number> {
  let reusedRuns = 0;
  const seeds = seedList(o);
  for (const subset of o.subsets) {
    for (const seed of seeds) {
      let data: { dataset: Dataset; selection: SubsetSelection } | null = null;
      try {
        for (const run of o.runs) {
          const id = runId(subset, run, seed);
          const label = runLabel(subset, run.mode, run.head);
          const cached = done.get(id);
          if (cached) {
            reusedRuns++;
            hooks.onEvent?.({ type: 'run-end', record: cached, cached: true });
            continue;
          }
          data ??= await loadCifar100Subset(where.data100, subset, { prep, limit: o.limit ?? undefined, testLimit: o.testLimit ?? undefined, seed, device: o.device });
          hooks.onEvent?.({ type: 'run-start', id, label });
          const r = await transfer(
            {
              from, model: o.from ? undefined : o.model, data: where.data100, subset, mode: run.mode, head: run.head, epochs: o.epochs, lr: o.lr, bodyLrScale: run.mode === 'finetune' ? o.bodyLrScale : undefined,
              batchSize: o.batchSize, schedule: o.schedule, limit: o.limit ?? undefined, testLimit: o.testLimit ?? undefined, prep, seed, device: o.device,
            },
            { data, signal: hooks.signal, onProgress: (progress) => hooks.onEvent?.({ type: 'run-progress', id, label, progress }) },
          );
          const record = toRecord(id, label, subset, r, data.dataset.train.count);
          appendJournal(journal, record);
          done.set(id, record);
          hooks.onEvent?.({ type: 'run-end', record, cached: false });
        }
      } finally {
        data?.dataset.dispose();
      }
    }
  }
  return reusedRuns;
}

/**
 * The summary of a transfer experiment from its records: a row for each
 * (subset, run) with at least one seed recorded (a stopped experiment has
 * fewer), and the planned runs not recorded yet.
 */
export function transferSummary(
  name: string, o: TransferPresetOptions, done: ReadonlyMap<string, TransferRecord>, pretrained: TransferSummary['pretrained'],
  timing: { totalSeconds: number; reusedRuns: number },
): TransferSummary {
  const seeds = seedList(o);
  const planned = o.subsets.flatMap((subset) => o.runs.map((run) => seeds.map((seed) => runId(subset, run, seed))));
  const rows = planned.map((ids) => ids.flatMap((id) => done.get(id) ?? [])).filter((runs) => runs.length > 0).map(toRow);
  const missing = planned.flat().filter((id) => !done.has(id));
  return {
    name, preset: 'transfer', device: o.device, createdAt: new Date().toISOString(), model: pretrained.model ?? MODELS[o.model].name, pretrained, rows,
    ...(seeds.length > 1 ? { seeds } : {}),
    ...(missing.length ? { missing } : {}),
    ...timing,
  };
}

/** What a summary says of the CIFAR-10 network transferred from. */
export function pretrainedSummary(pre: Pretrained, trainedHere: boolean): TransferSummary['pretrained'] {
  return { file: pre.file, model: pre.model, epochs: pre.epochs, validationAccuracy: pre.validationAccuracy, trainedHere };
}

/** Each (subset, run)'s first recorded seed: the report's learning curves, class tables and loads come from these. */
export function firstRuns(o: TransferPresetOptions, done: ReadonlyMap<string, TransferRecord>): TransferRecord[] {
  return o.subsets.flatMap((subset) => o.runs.flatMap((run) => seedList(o).map((seed) => done.get(runId(subset, run, seed))).find(Boolean) ?? []));
}

/** The seed of every repeat: o.seed, then o.seed + SEED_STRIDE, ... (as `reproduce --seeds` does for Table 3). */
function seedList(o: TransferPresetOptions): number[] {
  return Array.from({ length: o.seeds }, (_, k) => o.seed + k * SEED_STRIDE);
}

function runId(subset: string, r: TransferRun, seed: number): string {
  return `transfer/${subset}/${r.mode}/${r.head}/seed=${seed}`;
}

function toRecord(id: string, label: string, subset: string, r: TransferResult, trainImages: number): TransferRecord {
  const c = r.config;
  return {
    id, group: 'transfer', label, model: MODELS[c.model].name, lr: c.lr, seed: c.seed, phase: 'full', epochs: c.epochs, stalled: r.stalled, diverged: r.diverged,
    validation: r.validation, test: r.test, parameters: r.parameters, seconds: r.seconds, imagesPerSecond: r.imagesPerSecond, device: r.device,
    history: r.history, config: c, finishedAt: new Date().toISOString(),
    transfer: {
      subset, relation: SUBSET_RELATION[subset] ?? null, mode: c.mode, head: c.head, bodyLrScale: c.bodyLrScale, from: c.from,
      classes: r.classes, load: r.load, trainableParameters: r.trainableParameters, trainImages,
    },
  };
}

/**
 * A row from one run, or from the same run with several seeds: their mean
 * accuracies and spread, the stalled and diverged left out and counted (when
 * all of them failed: the first seed's accuracies, none counted as runs).
 */
function toRow(runs: TransferRecord[]): TransferRow {
  const r = runs[0];
  const row: TransferRow = {
    id: r.id, label: r.label, subset: r.transfer.subset, relation: r.transfer.relation, mode: r.transfer.mode, head: r.transfer.head,
    validationAccuracy: r.validation.accuracy, testAccuracy: r.test.accuracy, testCount: r.test.count, epochs: r.history.length,
    seconds: runs.reduce((sum, x) => sum + x.seconds, 0), stalled: r.stalled, diverged: r.diverged ?? false, trainImages: r.transfer.trainImages,
  };
  if (runs.length === 1) return row;
  const mean = meanOverSeeds(runs);
  return mean ? { ...row, ...mean, stalled: false, diverged: false } : { ...row, overSeeds: { runs: 0, validationSd: NaN, testSd: NaN, ids: [], failed: runs.length } };
}
