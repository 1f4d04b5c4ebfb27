/** `allcnn report`: REPORT.md for a results folder of `allcnn reproduce`, finished or not. */
import { Command } from 'commander';
import { reportFolder, savedOptions } from '../experiments/report-folder';
import { isTransferExperiment, reportTransferFolder } from '../experiments/transfer-folder';
import { count } from '../report/format';
import { argumentPath } from './options';
import { shown } from './util';

export function reportCommand(): Command {
  return new Command('report')
    .description('write REPORT.md (and its figures) for a results folder of `allcnn reproduce` (any preset, transfer too) from the runs it has recorded, even if it was stopped part-way')
    .argument('<folder>', 'the results folder (the --out of `allcnn reproduce`)', argumentPath('the results folder of `allcnn reproduce`'))
    .option('--json', 'print the summary and the progress as JSON on stdout', false)
    .action(async (folder: string, o) => {
      const saved = savedOptions(folder);
      if (isTransferExperiment(saved)) {
        const { summary, planned, report } = await reportTransferFolder(folder, saved);
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ summary, planned }, null, 2)}\n`);
          return;
        }
        const missing = summary.missing ?? [];
        console.log(`${planned - missing.length} of ${planned} planned transfer runs recorded; ${count(summary.rows.length, 'row')}` +
          (missing.length ? `; not finished: ${missing.join(', ')} (run the same \`allcnn reproduce --preset transfer\` command again to finish them)` : ''));
        console.log(`report: ${shown(report)}`);
        return;
      }
      const { summary, progress, report } = await reportFolder(folder);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ summary, progress: { ...progress, pending: progress.pending.map((p) => p.model) } }, null, 2)}\n`);
        return;
      }
      const done = progress.pending.length === 0 && progress.pendingExtras.length === 0 && progress.pendingSeeds.length === 0;
      // Joined with ';' as REPORT.md does: the rows' own names have commas ("ALL-CNN-C, no dropout").
      console.log(`${progress.finished} of ${progress.planned} planned runs recorded${progress.restarts ? ` (+${progress.restarts} restarts)` : ''}; ` +
        `${count(summary.rows.length, 'row')}${done ? '' : `; not finished: ${[...progress.pending.map((p) => p.model), ...progress.pendingExtras, ...progress.pendingSeeds.map((m) => `${m}'s extra seeds`)].join('; ')}`}`);
      console.log(`report: ${shown(report)}`);
    });
}
