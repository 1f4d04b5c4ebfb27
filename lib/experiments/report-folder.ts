/**
 * REPORT.md for a results folder of `allcnn reproduce`, from what it has
 * recorded so far: an experiment stopped part-way (a GPU session that ran
 * out of time) can be looked at before it is resumed. Nothing is trained.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError } from '../errors';
import { progressSection } from '../report/progress';
import { writeReport } from '../report/report';
import { readExperiment, readJournal } from './journal';
import { lockFolder } from './lock';
import { ADDED_OPTIONS, ReproduceOptions } from './presets';
import { ExperimentProgress, experimentProgress } from './progress';
import { buildSummary } from './summary';
import type { RunRecord, Summary } from './types';

/** The options a results folder of `allcnn reproduce` was made with (its experiment.json). */
export function savedOptions(dir: string): Record<string, unknown> | undefined {
  const file = path.join(dir, 'experiment.json');
  if (!fs.existsSync(file)) {
    // The transfer preset records its options once its pretraining is done: a folder stopped before holds only pretrain/.
    if (fs.existsSync(path.join(dir, 'pretrain'))) {
      throw new DataError(`${dir}: an \`allcnn reproduce --preset transfer\` stopped while pretraining, before any run was recorded: nothing to report yet; the same command resumes the pretraining`);
    }
    throw new DataError(`${dir} ${fs.existsSync(dir) ? 'has no experiment.json' : 'does not exist'}: pass the results folder of \`allcnn reproduce\` (its --out)`);
  }
  return readExperiment(file).options;
}

/**
 * Runs `write` holding the folder's lock. A running `allcnn reproduce`
 * writes REPORT.md itself when it ends: a report written meanwhile from the
 * runs recorded so far could land after that final one, and take its place.
 */
export async function whileReporting<T>(dir: string, write: () => Promise<T>): Promise<T> {
  const lock = lockFolder(dir, {
    inUse: (holder) => `${dir} is in use: ${holder} is still training in it, and writes REPORT.md itself when it ends; ` +
      'run `allcnn report` again once it has ended or been stopped (its own output shows the progress meanwhile)',
  });
  try {
    return await write();
  } finally {
    lock.release();
  }
}

export async function reportFolder(dir: string): Promise<{ summary: Summary; progress: ExperimentProgress; report: string }> {
  savedOptions(dir); // a folder that is none of reproduce's is said so before the lock
  return whileReporting(dir, () => reportLocked(dir));
}

async function reportLocked(dir: string): Promise<{ summary: Summary; progress: ExperimentProgress; report: string }> {
  const saved = savedOptions(dir) as ReproduceOptions | undefined;
  const recorded = readExperiment(path.join(dir, 'experiment.json')) as { data?: unknown };
  if (!Array.isArray(saved?.lrs) || !Array.isArray(saved.models)) {
    const file = path.join(dir, 'experiment.json');
    if ((saved as { preset?: unknown } | undefined)?.preset === 'transfer') throw new DataError(`${file} holds a transfer experiment, which reportTransferFolder reports (allcnn report does so itself)`);
    throw new DataError(`${file} holds no experiment of \`allcnn reproduce\` (its options list no models and learning rates): restore the file allcnn wrote, or pass the --out of an \`allcnn reproduce\` run`);
  }
  const options: ReproduceOptions = { ...ADDED_OPTIONS, ...saved };
  const journal = path.join(dir, 'runs.jsonl');
  const records = readJournal(journal);
  const progress = experimentProgress(options, records);
  const { concurrency, ...timing } = recordedTiming(dir, records);
  const summary: Summary = {
    ...buildSummary(experimentName(dir), { ...options, concurrency: concurrency ?? options.concurrency }, records, timing),
    // experiment.json names the data as claimFolder wrote them: an absolute path, or 'bundled sample'.
    ...(typeof recorded.data === 'string' ? { data: recorded.data === 'bundled sample' ? null : recorded.data } : {}),
  };
  const report = await writeReport(dir, summary, records, progressSection(progress, options, records));
  return { summary, progress, report };
}

/**
 * The wall time of the invocation that finished the experiment, from its
 * summary.json when no run was recorded after it; otherwise none is known
 * (NaN), and the report gives the runs' own time. reproduce() keeps it too
 * when a rerun trains nothing.
 */
export function recordedTiming(dir: string, records: readonly RunRecord[]): { totalSeconds: number; aggregateImagesPerSecond: number; reusedRuns: number; concurrency?: number } {
  const file = path.join(dir, 'summary.json');
  const journal = path.join(dir, 'runs.jsonl');
  const s = fs.existsSync(file) ? (parseOrNull(fs.readFileSync(file, 'utf8')) as Partial<Summary> | null) : null; // only timing: a damaged one is as good as none
  const none = { totalSeconds: NaN, aggregateImagesPerSecond: NaN, reusedRuns: records.length };
  if (typeof s?.totalSeconds !== 'number') return none;
  // It was written after the last run if its runSeconds sums the same
  // records (a copy without -p changes the files' times, not the sums); in
  // older summaries, without runSeconds, if it is the newer file.
  const current = typeof s.runSeconds === 'number'
    ? s.runSeconds === records.reduce((sum, r) => sum + r.seconds, 0)
    : !fs.existsSync(journal) || fs.statSync(file).mtimeMs >= fs.statSync(journal).mtimeMs;
  return current ? { totalSeconds: s.totalSeconds, aggregateImagesPerSecond: s.aggregateImagesPerSecond ?? NaN, reusedRuns: s.reusedRuns ?? 0, concurrency: s.concurrency } : none;
}

/**
 * The experiment's name (`--name`, or the preset) as the run that wrote
 * summary.json gave it, else as experiment.json records it (a folder stopped
 * before its first summary), else the folder's.
 */
export function experimentName(dir: string): string {
  const file = path.join(dir, 'summary.json');
  const s = fs.existsSync(file) ? (parseOrNull(fs.readFileSync(file, 'utf8')) as { name?: unknown } | null) : null;
  if (typeof s?.name === 'string') return s.name;
  const experiment = path.join(dir, 'experiment.json');
  const claimed = fs.existsSync(experiment) ? readExperiment(experiment).name : undefined;
  return typeof claimed === 'string' ? claimed : path.basename(path.resolve(dir));
}

function parseOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
