/** `allcnn evaluate`: score a trained run's checkpoint again, per class and as a confusion matrix. */
import { Command } from 'commander';
import { CheckpointEvaluation, evaluateCheckpoint, runCheckpoint, SPLITS } from '../train/evaluate-checkpoint';
import { argumentPath, batchSize, deviceName, oneOf, pathTo } from './options';
import { checkRun, otherDataNote, pct, shown } from './util';

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description('score a checkpoint written by `allcnn train` or `allcnn reproduce` on its test (or validation) split')
    .argument('<checkpoint>', 'a checkpoint.safetensors, or the --out folder of `allcnn train` that holds one', argumentPath('a checkpoint or a run folder'))
    .option('--data <path>', 'the run\'s CIFAR-10 (or CIFAR-100) archive or folder (default: the one it was trained on)', pathTo('--data', 'an archive or a folder'))
    .option('--split <name>', 'test or validation', oneOf('--split', SPLITS), 'test')
    .option('--device <name>', 'cpu, cuda or cuda:N', deviceName('--device'), 'cpu')
    .option('--batch-size <n>', 'images per forward pass (default: the run\'s)', batchSize)
    .option('--json', 'print the scores, per-class accuracies and confusion matrix as JSON on stdout', false)
    .action(async (target: string, o) => {
      const file = runCheckpoint(target);
      checkRun(file, o.device);
      process.stderr.write(`scoring ${shown(file)} on its ${o.split} split (device ${o.device})\n`);
      const r = await evaluateCheckpoint(file, { data: o.data, split: o.split, device: o.device, batchSize: o.batchSize });
      // --data is for data that moved; other data is scored too, but the preparation was refitted on their training images.
      const note = otherDataNote(r, o.data, 'scores');
      if (note) process.stderr.write(`${note}\n`);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      console.log(render(r));
    });
}

/** Classes up to which the confusion matrix is printed (CIFAR-10's 10 fit a terminal; CIFAR-100's 100 do not). */
const MATRIX_MAX = 20;

function render(r: CheckpointEvaluation): string {
  const w = Math.max(12, ...r.classNames.map((n) => n.length)); // CIFAR-100 has 'aquarium_fish'
  const lines = [
    `${r.name} from ${shown(r.file)} (epoch ${r.epoch} of ${r.epochs}), ${r.split} split of ${r.data ?? 'the bundled sample'}: ` +
      `${r.count.toLocaleString('en-US')} images`,
    `loss ${r.loss.toFixed(4)}, accuracy ${pct(r.accuracy)}` +
      (r.trainedInPrecision !== 'fp32' ? ` (scored in fp32; the run trained in ${r.trainedInPrecision}, and its result.json was scored under that autocast: the two can differ in the last digits)` : '') +
      (r.diverged ? `\nthis run diverged in epoch ${r.epoch} (its training or validation loss became NaN or infinite): these are the scores of weights that are not numbers` : ''),
    '',
    `${'class'.padEnd(w)} ${'images'.padStart(7)} ${'accuracy'.padStart(9)}  most often mistaken for`,
  ];
  // Classes without images in the split (the CIFAR-100 subsets archive has 20 of 100) are left out.
  const empty = r.perClass.filter((c) => c.count === 0).length;
  r.perClass.forEach((c, t) => {
    if (c.count === 0) return;
    // The largest off-diagonal entries of the row: where this class's errors go (every class tied for it).
    const row = r.confusion[t].map((n, p) => (p === t ? -1 : n));
    const most = Math.max(...row);
    const tied = row.flatMap((n, p) => (n === most ? [r.classNames[p]] : []));
    const mistaken = c.count && most > 0 ? `${tied.join(' or ')} (${pct(most / c.count)}${tied.length > 1 ? ' each' : ''})` : '-';
    lines.push(`${c.name.padEnd(w)} ${c.count.toLocaleString('en-US').padStart(7)} ${pct(c.accuracy).padStart(9)}  ${mistaken}`);
  });
  if (empty) lines.push(`(${empty} of the ${r.classNames.length} classes have no images in this split)`);
  if (r.classNames.length > MATRIX_MAX) {
    lines.push('', `confusion matrix: ${r.classNames.length} x ${r.classNames.length}, too wide to print; --json gives it`);
    return lines.join('\n');
  }
  const short = r.classNames.map((n) => n.slice(0, 6).padStart(7));
  lines.push('', 'confusion matrix (rows: true class, columns: predicted class)', `${''.padEnd(w)}${short.join('')}`);
  r.confusion.forEach((row, t) => lines.push(`${r.classNames[t].padEnd(w)}${row.map((n) => String(n).padStart(7)).join('')}`));
  return lines.join('\n');
}
