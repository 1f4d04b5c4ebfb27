/** `allcnn evaluate`: score a trained run's checkpoint again, per class and as a confusion matrix. */
import { Command } from 'commander';
import { CheckpointEvaluation, evaluateCheckpoint, SPLITS } from '../train/evaluate-checkpoint';
import { batchSize, deviceName, oneOf } from './options';
import { checkpointFile, pct, shown } from './util';

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description('score a checkpoint written by `allcnn train` or `allcnn reproduce` on its test (or validation) split')
    .argument('<checkpoint>', 'a checkpoint.safetensors, or the --out folder of `allcnn train` that holds one')
    .option('--data <path>', 'CIFAR-10 archive or folder (default: the one the run was trained on)')
    .option('--split <name>', 'test or validation', oneOf('--split', SPLITS), 'test')
    .option('--device <name>', 'cpu, cuda or cuda:N', deviceName('--device'), 'cpu')
    .option('--batch-size <n>', 'images per forward pass (default: the run\'s)', batchSize)
    .option('--json', 'print the scores, per-class accuracies and confusion matrix as JSON on stdout', false)
    .action(async (target: string, o) => {
      const file = checkpointFile(target);
      process.stderr.write(`scoring ${shown(file)} on its ${o.split} split (device ${o.device})\n`);
      const r = await evaluateCheckpoint(file, { data: o.data, split: o.split, device: o.device, batchSize: o.batchSize });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      console.log(render(r));
    });
}

function render(r: CheckpointEvaluation): string {
  const lines = [
    `${r.name} from ${shown(r.file)} (epoch ${r.epoch} of ${r.epochs}), ${r.split} split of ${r.data ?? 'the bundled sample'}: ` +
      `${r.count.toLocaleString('en-US')} images`,
    `loss ${r.loss.toFixed(4)}, accuracy ${pct(r.accuracy)}` +
      (r.diverged ? `\nthis run diverged in epoch ${r.epoch} (its training loss became NaN): these are the scores of weights that are not numbers` : ''),
    '',
    `${'class'.padEnd(12)} ${'images'.padStart(7)} ${'accuracy'.padStart(9)}  most often mistaken for`,
  ];
  r.perClass.forEach((c, t) => {
    // The largest off-diagonal entry of the row: where this class's errors go.
    const row = r.confusion[t].map((n, p) => (p === t ? -1 : n));
    const p = row.indexOf(Math.max(...row));
    const mistaken = c.count && row[p] > 0 ? `${r.classNames[p]} (${pct(row[p] / c.count)})` : '-';
    lines.push(`${c.name.padEnd(12)} ${c.count.toLocaleString('en-US').padStart(7)} ${pct(c.accuracy).padStart(9)}  ${mistaken}`);
  });
  const short = r.classNames.map((n) => n.slice(0, 6).padStart(7));
  lines.push('', 'confusion matrix (rows: true class, columns: predicted class)', `${''.padEnd(12)}${short.join('')}`);
  r.confusion.forEach((row, t) => lines.push(`${r.classNames[t].padEnd(12)}${row.map((n) => String(n).padStart(7)).join('')}`));
  return lines.join('\n');
}
