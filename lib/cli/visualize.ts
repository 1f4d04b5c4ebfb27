/** `allcnn visualize`: guided backpropagation of a trained run's units (the paper's figures 3 and 4) as a PNG. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkFolder, makeFolder } from '../io/folder';
import { writeFileAtomic } from '../report/atomic';
import { runCheckpoint } from '../train/evaluate-checkpoint';
import { findSpecLayer, METHODS } from '../visualize/guided-backprop';
import { lastConvolution, MAX_TOP, Visualization, visualizeCheckpoint } from '../visualize/visualize';
import { argumentPath, deviceName, int, list, oneOf, pathTo } from './options';
import { checkRun, otherDataNote, shown } from './util';

/** "0-3,7" -> [0, 1, 2, 3, 7]. */
function channelList(v: string): number[] {
  const bad = () => new InvalidArgumentError(`--channels takes numbers and ranges like 0-3,7, got "${v}"`);
  const parts = v.split(',').map((s) => s.trim());
  const channels = parts.flatMap((part) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const [from, to] = m ? [Number(m[1]), Number(m[2] ?? m[1])] : [0, -1];
    // No layer has anywhere near 65,536 channels; the bound keeps a typo from allocating billions.
    if (!m || to < from || to >= 65536) throw bad();
    return Array.from({ length: to - from + 1 }, (_, k) => from + k);
  });
  // As --method: a channel twice would draw its block twice.
  const twice = channels.find((c, i) => channels.indexOf(c) !== i);
  if (twice !== undefined) throw new InvalidArgumentError(`--channels lists ${twice} twice, got "${v}"`);
  return channels;
}

export function visualizeCommand(): Command {
  return new Command('visualize')
    .description('show what drives a trained network\'s units: its strongest test images and their guided-backpropagation reconstructions (the paper\'s figure 3), as a PNG')
    .argument('<checkpoint>', 'a checkpoint.safetensors, or the --out folder of `allcnn train` that holds one', argumentPath('a checkpoint or a run folder'))
    .option('--layer <name>', 'the layer, as `allcnn models --layers` names it (default: the last convolution; in the twelve networks, its channels are the classes)')
    .option('--channels <list>', 'channels to show, like 0-9 or 3,17,40 (default: the first 10; of the class layer, the first 10 classes that have images)', channelList)
    .option('--top <n>', 'strongest test images per channel', int('--top', 1, MAX_TOP), 8)
    .addOption(new Option('--method <list>', `one or more of ${METHODS.join(', ')} (the paper's figure 4 compares all three)`).argParser(list('--method', oneOf('--method', METHODS))).default(['guided'], 'guided'))
    .option('--no-crop', 'show whole images, not the patches of them that the units see (the receptive fields)')
    .option('--images <n>', 'search only the first n test images (default: all)', int('--images', 1))
    .option('--data <path>', 'the run\'s CIFAR-10 (or CIFAR-100) archive or folder (default: the one it was trained on)', pathTo('--data', 'an archive or a folder'))
    .option('--device <name>', 'cpu, cuda or cuda:N', deviceName('--device'), 'cpu')
    .option('--out <file>', 'the PNG to write (default: beside the checkpoint, <layer>-<methods>.png, or <checkpoint name>.<layer>-<methods>.png for one not named checkpoint.safetensors, such as reproduce\'s); a .json with the images and activations goes beside it', pathTo('--out', 'a .png file'))
    .action(async (target: string, o) => {
      const file = runCheckpoint(target);
      if (o.out !== undefined && !/\.png$/i.test(o.out)) throw Object.assign(new Error(`--out must name a .png file (the figure is a PNG), got "${o.out}"`), { exitCode: 2 });
      const run = checkRun(file, o.device);
      if (o.layer !== undefined) findSpecLayer(run.spec, o.layer); // a wrong layer too, before the line that says the search has begun
      // Written after the search: fail now if it cannot be (the default too: its layer is known from the checkpoint).
      const planned = o.out ?? defaultOut(file, o.layer ?? lastConvolution(run.spec), o.method);
      checkFolder(path.dirname(path.resolve(planned)));
      checkOutputs(planned, sideJson(planned));
      process.stderr.write(`searching the test images of ${shown(file)} (device ${o.device})\n`);
      const v = await visualizeCheckpoint(file, {
        layer: o.layer, channels: o.channels, top: o.top, methods: o.method, images: o.images, data: o.data, device: o.device, crop: o.crop,
      });
      const note = otherDataNote(v, o.data, 'strongest images');
      if (note) process.stderr.write(`${note}\n`);
      const out = o.out ?? defaultOut(file, v.layer, v.methods);
      const json = sideJson(out);
      checkOutputs(out, json); // again: anything may have changed during the search
      makeFolder(path.dirname(path.resolve(out)));
      writeFileAtomic(out, v.png);
      const { png: _png, ...record } = v;
      writeFileAtomic(json, `${JSON.stringify(record, null, 2)}\n`);
      console.log(render(v));
      console.log(`\nwrote ${out} and ${json}`);
    });
}

/**
 * The figure's default path, beside the checkpoint: <layer>-<methods>.png for
 * a run folder's checkpoint.safetensors; for any other, its name first, as
 * reproduce keeps all its runs' checkpoints in one folder, where two runs'
 * conv9-guided.png would be one file.
 */
function defaultOut(file: string, layer: string, methods: readonly string[]): string {
  const name = path.basename(file);
  const stem = name === 'checkpoint.safetensors' ? '' : `${name.replace(/\.safetensors$/i, '')}.`;
  return path.join(path.dirname(file), `${stem}${layer}-${methods.join('-')}.png`);
}

/** The JSON written beside the figure `png`. */
function sideJson(png: string): string {
  return png.replace(/\.png$/i, '') + '.json';
}

/**
 * Refuses outputs that would replace what is not a figure of this command's:
 * `--out run/result.png` would overwrite the run's result.json, and a folder
 * in the way would fail only after the search.
 */
function checkOutputs(png: string, json: string): void {
  for (const f of [png, json]) {
    if (fs.existsSync(f) && fs.statSync(f).isDirectory()) throw new Error(`cannot write ${f}: it is a folder; pass another --out`);
  }
  if (fs.existsSync(json)) {
    let earlier: { units?: unknown; layer?: unknown } | null = null;
    try {
      earlier = JSON.parse(fs.readFileSync(json, 'utf8'));
    } catch {
      // not JSON: not ours
    }
    if (!Array.isArray(earlier?.units) || typeof earlier?.layer !== 'string') {
      throw new Error(`--out ${png} would overwrite ${json}, which is not the JSON of a figure written by allcnn visualize: pass another --out`);
    }
  }
}

function render(v: Visualization): string {
  const lines = [
    `${v.name} from ${shown(v.file)} (epoch ${v.epoch} of ${v.epochs}), layer ${v.layer}: ` +
      `the ${v.units[0]?.images.length ?? 0} strongest of ${v.searched.toLocaleString('en-US')} test images of ${v.data ?? 'the bundled sample'} per channel`,
    `figure: per channel, the ${v.patch ? `${v.patch}x${v.patch} patches the unit sees` : 'images'} in the first row, ` +
      `then ${v.methods.join(', ')} reconstructions (grey is zero); rows in the order of the channels below`,
    '',
  ];
  for (const u of v.units) {
    const head = `channel ${u.channel}${u.className ? ` (${u.className})` : ''}`;
    // A unit no image drives (a dead ReLU) has no strongest images: its row is the first images, and grey
    // for the methods that follow the forward pass. Deconvnet does not: its reconstruction is drawn anyway.
    if (u.images.every((i) => i.activation === 0)) {
      const blank = v.methods.filter((m) => m !== 'deconvnet');
      const rows = blank.length === 0 ? 'its deconvnet row still shows a reconstruction, as that method ignores the forward pass'
        : `its ${blank.join(' and ')} row${blank.length === 1 ? ' is' : 's are'} blank${blank.length < v.methods.length ? ' (deconvnet ignores the forward pass: its row is not)' : ''}`;
      lines.push(`${head}: never active on the ${v.searched.toLocaleString('en-US')} test images searched (its activation is 0 on every one): a dead unit; ${rows}`);
      continue;
    }
    const images = u.images.map((i) => `${i.label} ${i.activation.toFixed(2)}`).join(', ');
    lines.push(`${head}: ${images}`);
  }
  return lines.join('\n');
}
