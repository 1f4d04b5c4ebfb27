/** `allcnn predict`: a trained run's checkpoint applied to your own PNG or JPEG pictures. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { DataError } from '../errors';
import { FITS } from '../data/images';
import { runCheckpoint } from '../train/evaluate-checkpoint';
import { Predictions, predictImages } from '../train/predict-checkpoint';
import { argumentPath, argumentPaths, deviceName, int, oneOf, pathTo } from './options';
import { checkRun, otherDataNote, pct, shown } from './util';

export function predictCommand(): Command {
  return new Command('predict')
    .description('classify PNG or JPEG pictures with a checkpoint written by `allcnn train` or `allcnn reproduce`')
    .argument('<checkpoint>', 'a checkpoint.safetensors, or the --out folder of `allcnn train` that holds one', argumentPath('a checkpoint or a run folder'))
    .argument('<images...>', 'PNG or JPEG files, or folders of them; pictures that are not 32x32 are resized (see --fit)', argumentPaths('a picture or a folder of them'))
    .option('--top <n>', 'classes listed per picture, most likely first (all when n is more)', int('--top', 1), 3)
    .option('--fit <how>', `${FITS.join(' or ')}: a centred square of the picture, or all of it squeezed, resized to 32x32`, oneOf('--fit', FITS), 'crop')
    .option('--data <path>', 'the CIFAR-10 (or CIFAR-100) archive or folder the run was trained on, whose training images its preparation (GCN + ZCA, or the channel statistics) is fitted on (default: the one it recorded)', pathTo('--data', 'an archive or a folder'))
    .option('--device <name>', 'cpu, cuda or cuda:N', deviceName('--device'), 'cpu')
    .option('--json', 'print every picture\'s class probabilities as JSON on stdout', false)
    .action(async (target: string, args: string[], o) => {
      const file = runCheckpoint(target);
      checkRun(file, o.device);
      const images = pictures(args);
      process.stderr.write(`preparing ${images.length} picture(s) as ${shown(file)}'s test images were (device ${o.device})\n`);
      const r = await predictImages(file, images, { top: o.top, fit: o.fit, data: o.data, device: o.device });
      const note = otherDataNote(r, o.data, 'probabilities');
      if (note) process.stderr.write(`${note}\n`);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      console.log(render(r));
    });
}

const PICTURE = /\.(png|jpe?g)$/i;

/** The pictures named: a file as given, a folder as the PNG and JPEG files in it, by name. */
function pictures(args: string[]): string[] {
  return args.flatMap((arg) => {
    if (!fs.existsSync(arg) || !fs.statSync(arg).isDirectory()) return [arg];
    const found = fs.readdirSync(arg).filter((f) => PICTURE.test(f)).sort().map((f) => path.join(arg, f));
    if (found.length === 0) throw new DataError(`${arg}: a folder with no .png, .jpg or .jpeg file in it`);
    return found;
  });
}

function render(r: Predictions): string {
  const width = Math.max(...r.images.map((i) => i.source.length));
  return [
    `${r.name} from ${shown(r.file)} (epoch ${r.epoch} of ${r.epochs})`,
    ...r.images.map((i) => `${i.source.padEnd(width)}  ${i.top.map((t) => `${t.name} ${pct(t.probability)}`).join(', ')}`),
  ].join('\n');
}
