/**
 * REPORT.md for a results folder of `allcnn reproduce --preset transfer`
 * from what it has recorded so far (as report-folder.ts does for Table 3):
 * a stopped experiment can be looked at before the same command finishes
 * it. Nothing is trained.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError } from '../errors';
import { writeTransferReport } from '../report/transfer';
import { readPretrained } from '../transfer/pretrained';
import { readJournal } from './journal';
import { ADDED_OPTIONS } from './presets';
import { experimentName, savedOptions, whileReporting } from './report-folder';
import { firstRuns, pretrainedSummary, TransferPresetOptions, TransferRecord, TransferSummary, transferSummary } from './transfer';

/** Whether experiment.json's options are those of the transfer preset. */
export function isTransferExperiment(options: unknown): options is TransferPresetOptions {
  return (options as { preset?: unknown } | undefined)?.preset === 'transfer';
}

/** REPORT.md for a transfer experiment's folder; `saved`: its experiment.json's options, when already read. */
export async function reportTransferFolder(dir: string, saved: unknown = savedOptions(dir)): Promise<{ summary: TransferSummary; planned: number; report: string }> {
  if (!isTransferExperiment(saved)) throw new DataError(`${path.join(dir, 'experiment.json')} holds no transfer experiment (a Table 3 experiment is reported by reportFolder)`);
  const o = { ...ADDED_OPTIONS, ...saved } as TransferPresetOptions;
  return whileReporting(dir, async () => {
    const done = new Map(readJournal(path.join(dir, 'runs.jsonl')).map((r) => [r.id, r as TransferRecord]));
    const summary = transferSummary(experimentName(dir), o, done, pretrainedOf(dir, o), { totalSeconds: NaN, reusedRuns: done.size });
    const report = await writeTransferReport(dir, summary, firstRuns(o, done));
    return { summary, planned: o.subsets.length * o.runs.length * o.seeds, report };
  });
}

/** What the report says of the CIFAR-10 network: read from its file when it is there (pretraining may not have finished). */
function pretrainedOf(dir: string, o: TransferPresetOptions): TransferSummary['pretrained'] {
  const file = o.from ?? path.join(path.resolve(dir), 'pretrain', 'checkpoint.safetensors'); // as the preset records it: absolute
  if (!fs.existsSync(file)) return { file, model: null, epochs: null, validationAccuracy: null, trainedHere: !o.from };
  const pre = readPretrained(file);
  pre.dispose();
  return pretrainedSummary(pre, !o.from);
}
