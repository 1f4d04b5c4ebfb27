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
import { readJournal } from './journal';
import type { ReproduceOptions } from './presets';
import { ExperimentProgress, experimentProgress } from './progress';
import { buildSummary } from './summary';
import type { Summary } from './types';

export async function reportFolder(dir: string): Promise<{ summary: Summary; progress: ExperimentProgress; report: string }> {
  const file = path.join(dir, 'experiment.json');
  if (!fs.existsSync(file)) {
    throw new DataError(`${dir} ${fs.existsSync(dir) ? 'has no experiment.json' : 'does not exist'}: pass the results folder of \`allcnn reproduce\` (its --out)`);
  }
  const options = JSON.parse(fs.readFileSync(file, 'utf8')).options as ReproduceOptions;
  if (!Array.isArray(options?.lrs) || !Array.isArray(options.models)) {
    throw new DataError(`${file} holds no Table 3 experiment (the transfer preset writes its own report when it runs)`);
  }
  const records = readJournal(path.join(dir, 'runs.jsonl'));
  const progress = experimentProgress(options, records);
  // No invocation's wall time is known here: the report gives the runs' own time.
  const summary = buildSummary(path.basename(path.resolve(dir)), options, records, { totalSeconds: NaN, aggregateImagesPerSecond: NaN, reusedRuns: records.length });
  const report = await writeReport(dir, summary, records, progressSection(progress, options, records));
  return { summary, progress, report };
}
