/**
 * The records an experiment writes: one RunRecord per finished training run
 * (appended to runs.jsonl, never rewritten) and a Summary (summary.json)
 * derived from them. REPORT.md and the plots are made from these two alone,
 * so a report can be regenerated from a recorded results folder.
 */
import type { ResolvedConfig } from '../train/config';
import type { EpochRecord } from '../train/train';

export type RunGroup = 'table3' | 'augment' | 'ablation' | 'cifar100' | 'transfer';

export interface RunRecord {
  /** Unique within an experiment, e.g. 'table3/all-cnn-c/lr=0.05/seed=0/full'. */
  id: string;
  group: RunGroup;
  /** What the row is called in the report, e.g. 'ALL-CNN-C' or 'ALL-CNN-C, no dropout'. */
  label: string;
  /** The paper's model name, e.g. 'ALL-CNN-C'. */
  model: string;
  lr: number;
  seed: number;
  /** 'probe': a short prefix run for learning-rate selection; 'full': the whole schedule. */
  phase: 'probe' | 'full';
  epochs: number;
  stalled: boolean;
  /** TrainResult.diverged: the training or validation loss became NaN or infinite and the run stopped (absent in older records). */
  diverged?: boolean;
  /** The id of the stalled run this one restarts (with another seed). */
  restartOf?: string;
  /** k for the k-th extra seed of a Table 3 network at its chosen rate (options.seeds > 1); absent for the run that chose it. */
  repeat?: number;
  /** TrainResult.absentClasses, when the data lacked some classes (the CIFAR-100 subsets archive has 20 of 100). */
  absentClasses?: string[];
  validation: { accuracy: number; loss: number; count: number };
  test: { accuracy: number; loss: number; count: number };
  parameters: number;
  /**
   * The run's time: the wall time of the invocation that finished it, plus
   * the epochs of earlier ones that were stopped part-way through it (a
   * probe's epochs count in the probe's record, not again in its full run's).
   */
  seconds: number;
  imagesPerSecond: number;
  device: string;
  /** TrainResult.cudaGraph: 'off', 'captured', 'warming up' or 'failed: <why>' (absent in older records). */
  cudaGraph?: string;
  history: EpochRecord[];
  /** `dataset` is absent in transfer runs (they name their subset) and in records written before CIFAR-100 could be trained on (CIFAR-10). */
  config: Omit<ResolvedConfig, 'dataset'> & { dataset?: ResolvedConfig['dataset'] };
  finishedAt: string;
}

/** One row of a results table: the selected run of a model / variant. */
export interface ResultRow {
  label: string;
  model: string;
  group: RunGroup;
  /** The run chosen (best validation accuracy among its learning rates that neither stalled nor diverged). */
  selected: string;
  lr: number;
  validationAccuracy: number;
  testAccuracy: number;
  parameters: number;
  epochs: number;
  seconds: number;
  /** Learning rates tried, with their validation accuracy (NaN for stalled and diverged runs). */
  tried: Array<{ lr: number; validationAccuracy: number; stalled: boolean; diverged?: boolean; id: string }>;
  /** The paper's test accuracy (100 - error) where it gives one. */
  paperTestAccuracy?: number;
  /** Classes without images in the data the row was trained on: no paper number is set beside it. */
  absentClasses?: number;
  /**
   * With options.seeds > 1: the row's accuracies are the means over the runs
   * of its chosen rate with different seeds (the `ids`; the stalled and
   * diverged left out, and counted in `failed`), and these their sample
   * standard deviations, as fractions like the accuracies.
   */
  overSeeds?: { runs: number; validationSd: number; testSd: number; ids: string[]; failed: number };
  /** The seed report's numbers where it gives them. */
  seedReport?: { validationAccuracy: number; testAccuracy: number; epochs: number };
  /** For ablations: the claim being tested, and the row it is compared with. */
  claim?: string;
  baseline?: string;
  /** What the claim predicts for this row's test accuracy against the baseline's (default 'lower'). */
  expect?: 'lower' | 'higher';
}

export interface Summary {
  name: string;
  /** The CIFAR-10 archive or folder the runs read (absolute), null for the bundled sample; absent in older summaries. */
  data?: string | null;
  preset: string;
  lrSelection: 'full' | 'probe';
  device: string;
  createdAt: string;
  rows: ResultRow[];
  /** Restarts allowed for a stalled run (options.maxRestarts); absent in older summaries. */
  maxRestarts?: number;
  /** Every run that stalled at chance level, and what was done about it. */
  stalled: Array<{ id: string; label: string; lr: number; seed: number; restartedAs?: string }>;
  /** Every run whose training or validation loss became NaN or infinite, and the epoch it stopped in (absent in older summaries). */
  diverged?: Array<{ id: string; label: string; lr: number; seed: number; epoch: number }>;
  /**
   * Training images per second summed over runs that ran at the same time, in
   * the invocation that wrote this summary, or (a rerun that trained nothing)
   * the last one that trained; NaN, null in summary.json, where not known.
   */
  aggregateImagesPerSecond: number;
  concurrency: number;
  /** Wall time of that invocation; NaN (null in summary.json) where not known: no finished invocation's summary covers the runs. */
  totalSeconds: number;
  /** Runs that invocation did not train because they were finished earlier (an interrupted experiment resumed). */
  reusedRuns?: number;
  /** The training time of all runs, added up, whichever invocation ran them. */
  runSeconds?: number;
  /** Runs that asked for CUDA graphs, how many captured one, and why the others did not. */
  cudaGraphs: { runs: number; captured: number; failures: string[] };
}
