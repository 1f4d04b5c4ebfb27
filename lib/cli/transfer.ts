/** `allcnn transfer`: a CIFAR-10 network moved to a CIFAR-100 subset (features, finetune or scratch). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { BUNDLED_CIFAR100_SAMPLE, BUNDLED_SAMPLE, PREPS } from '../data/dataset';
import { checkCifar100Subsets } from '../data/subsets';
import { cudaAvailable, requireDevice } from '../backend';
import { checkFolder } from '../io/folder';
import { readSafetensorsMetadata } from '../io/safetensors';
import { checkClaim } from '../experiments/journal';
import { checkLock, lockFolder } from '../experiments/lock';
import { reproduceTransfer, runLabel, TRANSFER_PRESETS, TransferEvent, TransferPresetOptions } from '../experiments/transfer';
import { runCheckpoint } from '../train/evaluate-checkpoint';
import { SCHEDULES } from '../train/schedule';
import { TRANSFER_DEFAULTS, TRANSFER_MODES } from '../transfer/config';
import { HEADS } from '../transfer/heads';
import { pretrainCifar10 } from '../transfer/pretrain';
import { modelIdOf, readPretrained } from '../transfer/pretrained';
import { transfer, TransferProgress } from '../transfer/transfer';
import { MODEL_IDS } from '../../models';
import { above, batchSize, deviceName, int, num, oneOf, pathTo } from './options';
import { consoleProgress, epochLine } from './progress';
import { count } from '../report/format';
import { abortOnSignal, closingLine, pct, saveRun, shown } from './util';

/** A CIFAR-10 network within this factor of chance (10%) has learned next to nothing. */
const CHANCE_MARGIN = 1.2;

/** Pretraining when no --from is given: the transfer preset's, on the CPU or a GPU. */
function pretrainDefaults(device: string) {
  return TRANSFER_PRESETS[device.startsWith('cuda') ? 'gpu' : 'cpu'];
}

export function transferCommand(): Command {
  return new Command('transfer')
    .description('transfer a CIFAR-10 network to a CIFAR-100 subset: fixed features, fine-tuning, or from scratch as the baseline')
    .option('--from <file>', 'checkpoint.safetensors or weights.safetensors from `allcnn train`, or its --out folder; omitted: pretrain on CIFAR-10 first (see --data10)', pathTo('--from', 'a checkpoint, a weights file or a run folder'))
    .option('--subset <names>', 'vehicles (near CIFAR-10), flora (far), or comma-separated CIFAR-100 superclass / fine-class names', 'vehicles')
    .addOption(new Option('--mode <mode>', 'features: frozen body, new head; finetune: all layers, body at a lower rate; scratch: random weights').choices(TRANSFER_MODES).default(TRANSFER_DEFAULTS.mode))
    .addOption(new Option('--head <head>', 'new classifier: conv (1x1 convolution before global averaging) or fc (fully connected on the averaged features)').choices(HEADS).default(TRANSFER_DEFAULTS.head))
    .option('--model <id>', `network (${MODEL_IDS.join(', ')}); default: the checkpoint's, or when pretraining ${TRANSFER_PRESETS.cpu.model} on a CPU, ${TRANSFER_PRESETS.gpu.model} on a GPU`, oneOf('--model', MODEL_IDS))
    .option('--data100 <path>', 'CIFAR-100 binary archive or folder (the subsets archive or the full official one); default: the bundled 300-image sample', pathTo('--data100', 'an archive or a folder'))
    .option('--data10 <path>', 'CIFAR-10 binary archive or folder for pretraining when --from is omitted; default: the bundled 600-image sample', pathTo('--data10', 'an archive or a folder'))
    .option('--pretrain-epochs <n>', `epochs of pretraining when --from is omitted (default ${TRANSFER_PRESETS.cpu.pretrainEpochs} on a CPU, ${TRANSFER_PRESETS.gpu.pretrainEpochs} on a GPU)`, int('--pretrain-epochs', 1))
    .option('--epochs <n>', 'epochs on the subset', int('--epochs', 1), 10)
    .option('--lr <x>', `base learning rate (of the head in finetune mode; default ${TRANSFER_DEFAULTS.lr})`, above('--lr', 0, 100))
    .option('--body-lr-scale <x>', `finetune: the body learns at lr times this (default ${TRANSFER_DEFAULTS.bodyLrScale})`, num('--body-lr-scale', 0, 1))
    .option('--batch-size <n>', 'mini-batch size', batchSize, 128)
    .option('--schedule <name>', `learning-rate schedule (${SCHEDULES.join(', ')})`, oneOf('--schedule', SCHEDULES), 'paper')
    .option('--limit <n>', 'train on at most n images of the subset\'s training split', int('--limit', 1))
    .option('--test-limit <n>', 'evaluate on at most n test images', int('--test-limit', 1))
    .option('--validation <n>', 'validation images held out of the subset\'s training images (default: a tenth)', int('--validation', 0))
    .option('--prep <name>', 'preprocessing: zca, std or none (default: the checkpoint\'s kind, refitted on the subset)', oneOf('--prep', PREPS))
    .option('--augment', 'random flips and translations', false)
    .option('--seed <n>', 'random seed (split, head initialisation, batches)', int('--seed', 0), 0)
    .option('--device <name>', 'cpu, cuda or cuda:N', deviceName('--device'), 'cpu')
    .option('--out <dir>', 'folder for result.json and weights.safetensors (default results/transfer-<subset>-<mode>-<head>)', pathTo('--out', 'a folder'))
    .option('--json', 'print the result as JSON on stdout (progress still goes to stderr)', false)
    .action(async (o) => {
      refusePretrainingOptions(o, { data10: '--data10', pretrainEpochs: '--pretrain-epochs' });
      if (o.bodyLrScale !== undefined && o.mode !== 'finetune') {
        throw Object.assign(new Error(`--body-lr-scale applies to --mode finetune only (${o.mode} trains no pretrained body at its own rate)`), { exitCode: 2 });
      }
      requireDevice(o.device); // before any line that would say the run had begun
      const subsetSlug = String(o.subset).replace(/[^\w.-]+/g, '_');
      const out = path.resolve(o.out ?? path.join('results', `transfer-${subsetSlug}-${o.mode}-${o.head}`));
      checkFolder(out); // written after training: fail now if it cannot be
      // One process at a time, as `allcnn train`: a train run still in this folder would write its result.json over this one's.
      // The lock makes the folder, and its release removes it if nothing was written: a refused run leaves none behind.
      const lock = lockFolder(out);
      try {
        refuseOtherResults(out);
        await transferInto(out, o);
      } finally {
        lock.release();
      }
    });
}

/** Another command's results in `out`: an experiment's folder, a finished run, or an unfinished `allcnn train` run (which --resume would finish over this one). */
function refuseOtherResults(out: string): void {
  if (fs.existsSync(path.join(out, 'experiment.json'))) {
    throw new Error(`${shown(out)} holds the results of \`allcnn reproduce\`: pass another --out for this run`);
  }
  // As `allcnn train` does: a finished run is not overwritten by another (its pretraining checkpoint, pretrain/, is reused).
  if (fs.existsSync(path.join(out, 'result.json'))) {
    // An `allcnn train` folder (its checkpoint beside result.json) is not a transfer run: say which it holds.
    const what = fs.existsSync(path.join(out, 'checkpoint.safetensors')) ? 'an `allcnn train` run' : 'a finished transfer run';
    throw new Error(`${path.join(out, 'result.json')} exists: ${shown(out)} holds ${what}; pass another --out for this one${what.startsWith('a finished') ? ' (or delete that folder to redo it)' : ''}`);
  }
  if (fs.existsSync(path.join(out, 'checkpoint.safetensors'))) {
    throw new Error(`${shown(path.join(out, 'checkpoint.safetensors'))} exists: ${shown(out)} holds an unfinished \`allcnn train\` run; pass another --out for this one`);
  }
}

/** The transfer run itself, into `out` (locked): pretraining first when no --from is given. */
async function transferInto(out: string, o: Record<string, any>): Promise<void> {
  let from: string | undefined = o.from === undefined ? undefined : runCheckpoint(o.from); // a wrong --from before the first line
  const say = (s: string) => process.stderr.write(`${s}\n`);
  const { signal, armed } = abortOnSignal();
  if (!o.data100) say(`data: the bundled CIFAR-100 sample (${shown(BUNDLED_CIFAR100_SAMPLE)}, a few images per class: a smoke test); pass --data100 for the real subsets`);

  const p = pretrainDefaults(o.device);
  if (!from && o.mode !== 'scratch') {
    // No checkpoint: pretrain one now, into the output folder (reused on the next call),
    // once the CIFAR-100 archive and the subset's names are known to be good.
    await checkCifar100Subsets(o.data100, [o.subset]);
    from = path.join(out, 'pretrain', 'checkpoint.safetensors');
    const model = o.model ?? p.model;
    const epochs = o.pretrainEpochs ?? p.pretrainEpochs;
    const prep = o.prep ?? p.prep ?? undefined;
    say(`no --from: pretraining ${model} on CIFAR-10 (${o.data10 ?? `the bundled sample, ${shown(BUNDLED_SAMPLE)}`}${p.pretrainLimit ? `, at most ${p.pretrainLimit} images` : ''}) ` +
      `for ${count(epochs, 'epoch')} (lr ${p.pretrainLr}, final ReLU ${p.finalRelu ? 'on' : 'off'}, prep ${prep ?? 'zca'}) into ${shown(from)}`);
    const trained = await pretrainCifar10(
      { model, data: o.data10, epochs, lr: p.pretrainLr, limit: p.pretrainLimit ?? undefined, prep, finalRelu: p.finalRelu, seed: o.seed, device: o.device, stallEpochs: 0 },
      from, { onProgress: armed(consoleProgress({ label: 'pretrain ' })), signal },
    );
    if (!trained) say(`using the finished pretraining checkpoint ${shown(from)}`);
  } else if (!from) {
    say(`scratch: no checkpoint, ${o.model ?? p.model} from random weights`);
  } else if (o.mode === 'scratch') {
    say(`scratch: random weights, with the network and preprocessing of ${shown(from)} (the baseline to set beside it; its weights are not loaded)`);
  }
  if (from) {
    const pre = readPretrained(from);
    pre.dispose();
    const trainedWith = pre.config?.prep;
    // The body's filters were learnt on images prepared one way: another preparation feeds them inputs they never saw.
    if (o.mode !== 'scratch' && o.prep !== undefined && trainedWith && trainedWith !== o.prep) {
      say(`note: ${shown(from)} was trained on ${trainedWith}-prepared images, and --prep ${o.prep} prepares these otherwise: its features may transfer poorly (leave out --prep to use ${trainedWith})`);
    }
    // A weights file records neither: the defaults are a guess, which the user should know is one.
    if (!pre.config && o.prep === undefined) {
      say(`note: ${shown(from)} is a weights file, which does not record how its images were prepared or whether its last convolution had a ReLU: this run takes --prep zca and the final ReLU (pass --prep if it was trained otherwise, or pass its checkpoint.safetensors)`);
    }
  }

  const show = consoleProgress();
  const onProgress = (p: TransferProgress) => (p.type === 'prepared' ? say(describePrepared(p, String(o.subset))) : show(p));
  const result = await transfer(
    {
      from, model: o.model ?? (from ? undefined : p.model), data: o.data100, subset: o.subset, mode: o.mode, head: o.head,
      epochs: o.epochs, lr: o.lr, bodyLrScale: o.bodyLrScale, batchSize: o.batchSize, schedule: o.schedule, limit: o.limit, testLimit: o.testLimit,
      validation: o.validation, augment: o.augment, seed: o.seed, device: o.device,
      // A checkpoint decides preprocessing and the final ReLU; a scratch run without one takes the pretraining defaults.
      prep: o.prep ?? (from ? undefined : p.prep ?? undefined), finalRelu: from ? undefined : p.finalRelu,
    },
    { onProgress: armed(onProgress), signal, keepModel: true },
  );
  if (saveRun(out, result, o.json)) return;
  const label = runLabel(String(o.subset), result.config.mode, result.config.head);
  console.log(`\n${label}: validation accuracy ${pct(result.validation.accuracy)} (${result.validation.count} images), test accuracy ${pct(result.test.accuracy)} ` +
    `(${result.test.count} images), ${count(result.history.length, 'epoch')}, ${result.seconds.toFixed(0)} s on ${result.device}` +
    (result.diverged ? '\nDIVERGED: the training or validation loss became NaN or infinite and the run stopped there; try a lower --lr' : '') +
    (result.stalled ? '\nSTALLED: the training loss stayed at chance level and the network gives every image the same scores; try a lower --lr or another --seed' : ''));
  const pre = result.pretrained;
  if (pre?.validationAccuracy !== null && pre?.validationAccuracy !== undefined && pre.validationAccuracy <= CHANCE_MARGIN / 10) {
    console.log(`note: the CIFAR-10 network scored ${pct(pre.validationAccuracy)} on its validation images, chance level: its features carry little to transfer; pass --from a trained checkpoint`);
  }
  console.log(`wrote ${shown(out)}/{result.json, weights.safetensors}`);
}

/** The subset's classes and what was loaded, left new and frozen. */
function describePrepared(p: Extract<TransferProgress, { type: 'prepared' }>, subset: string): string {
  const lines = [
    `subset ${subset}: ${p.classes.length} classes (label fine-class (superclass)): ${p.classes.map((c) => `${c.label} ${c.name} (${c.superclass})`).join(', ')}`,
    `images: ${p.trainImages} training, ${p.validationImages} validation, ${p.testImages} test`,
  ];
  if (p.load) {
    lines.push(`from ${shown(p.from!)}: loaded ${p.load.loaded.length} tensors; new head, not loaded (Xavier init): ${p.load.fresh.join(', ')}; ` +
      `unused from the file: ${p.load.unused.join(', ') || 'none'}; frozen: ${p.load.frozen.length ? `${p.load.frozen.length} tensors (the whole body)` : 'none'}`);
  }
  return lines.join('\n');
}

/**
 * `allcnn reproduce --preset transfer`: every mode on both subsets, then
 * REPORT.md. Small CPU settings unless a GPU is used; options of reproduce
 * that have no meaning here (lr selection, extras, concurrency) are refused.
 */
/** The options (key: flag) read only to pretrain a network when --from gives none: with --from they would be ignored. */
function refusePretrainingOptions(o: Record<string, unknown>, flags: Record<string, string>): void {
  const given = Object.keys(flags).find((k) => o[k] !== undefined);
  if (o.from !== undefined && given) {
    throw Object.assign(new Error(`${flags[given]} is for pretraining a CIFAR-10 network when --from is omitted; with --from ${o.from} nothing is pretrained`), { exitCode: 2 });
  }
  // `allcnn transfer --mode scratch` starts from random weights: nothing is pretrained for it either.
  if (o.mode === 'scratch' && o.from === undefined && given) {
    throw Object.assign(new Error(`${flags[given]} is for pretraining a CIFAR-10 network, and --mode scratch trains from random weights: nothing is pretrained`), { exitCode: 2 });
  }
}

/** The model id of the network a checkpoint or weights file holds (its metadata's 'model'), if it is one of the twelve. */
function checkpointModel(file: string): string | undefined {
  return modelIdOf(readSafetensorsMetadata(file).model ?? null);
}

export async function reproduceTransferCommand(o: Record<string, any>): Promise<void> {
  const unsupported = ['lrSelection', 'probeEpochs', 'extras', 'concurrency', 'maxRestarts', 'precision', 'augment'].filter((k) => o[k] !== undefined && o[k] !== false);
  if (unsupported.length) throw Object.assign(new Error(`--preset transfer does not take ${unsupported.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`), { exitCode: 2 });
  refusePretrainingOptions(o, { data: '--data', pretrainEpochs: '--pretrain-epochs' });
  if (o.models && o.models.length !== 1) throw Object.assign(new Error('--preset transfer trains one network: pass one id to --models'), { exitCode: 2 });
  if (o.lrs && o.lrs.length !== 1) throw Object.assign(new Error('--preset transfer takes one learning rate: pass one value to --lrs'), { exitCode: 2 });
  const device = o.device ?? (cudaAvailable() ? 'cuda' : 'cpu');
  requireDevice(device); // before the header, which would say the run had begun
  const base = TRANSFER_PRESETS[device.startsWith('cuda') ? 'gpu' : 'cpu'];
  const from = o.from ? path.resolve(runCheckpoint(o.from)) : null;
  const options: TransferPresetOptions = {
    ...base, device, from,
    // A checkpoint decides the network and (unless --prep says otherwise) the preparation its features were learnt on.
    model: o.models?.[0] ?? (from ? checkpointModel(from) : undefined) ?? base.model,
    pretrainEpochs: o.pretrainEpochs ?? base.pretrainEpochs,
    epochs: o.epochs ?? base.epochs,
    lr: o.lrs?.[0] ?? base.lr,
    batchSize: o.batchSize ?? base.batchSize,
    limit: o.limit ?? base.limit,
    testLimit: o.testLimit ?? base.testLimit,
    prep: o.prep ?? (from ? null : base.prep),
    seed: o.seed ?? base.seed,
    seeds: o.seeds ?? base.seeds,
  };
  const name = o.name ?? 'transfer';
  const out = path.resolve(o.out ?? path.join('results', name));
  checkLock(out); // before the header, which would read as if this one ran
  checkClaim(out, options); // another experiment's folder, or a run of train or transfer (the data are compared once read)
  const say = (s: string) => process.stderr.write(`${s}\n`);
  say(`reproduce ${name}: transfer ${options.from ? `from ${shown(options.from)}` : `from ${options.model} pretrained here for ${count(options.pretrainEpochs, 'epoch')} on ${o.data ?? 'the bundled CIFAR-10 sample'}`} ` +
    `to ${options.subsets.join(', ')} (${o.data100 ?? 'the bundled CIFAR-100 sample; pass --data100 for the real subsets'}): ` +
    `${options.runs.map((r) => `${r.mode}/${r.head}`).join(', ')}; ${count(options.epochs, 'epoch')}${options.seeds > 1 ? ` x ${options.seeds} seeds` : ''}, ${options.limit === null ? 'all the' : `at most ${options.limit}`} training images per subset (after a tenth of the subset's training images is held out for validation: 50 per class in the real subsets), batch ${options.batchSize}, lr ${options.lr}, device ${device}\nresults: ${out}`);
  const progress = new Map<string, (p: any) => void>();
  const { signal, armed } = abortOnSignal();
  const done = await reproduceTransfer(name, options, { out, data10: o.data, data100: o.data100 }, {
    signal,
    onEvent: armed((e: TransferEvent) => {
      if (e.type === 'pretrain') {
        if (!progress.has('pretrain')) progress.set('pretrain', consoleProgress({ label: 'pretrain ' }));
        progress.get('pretrain')!(e.progress);
      } else if (e.type === 'run-start') {
        say(`start  ${e.id}`);
      } else if (e.type === 'run-progress' && e.progress.type === 'epoch') {
        say(`  ${e.label}: ${epochLine(e.progress.record)}`);
      } else if (e.type === 'run-end') {
        say(`${e.cached ? 'done*' : 'done '}  ${e.record.id}: val ${pct(e.record.validation.accuracy)} test ${pct(e.record.test.accuracy)} (${e.record.seconds.toFixed(0)} s${e.cached ? ', from runs.jsonl' : ''})`);
      }
    }),
  });
  const { summary, report } = done;
  if (o.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  console.log(`\n${'run'.padEnd(36)} ${'val'.padStart(8)} ${'test'.padStart(8)}`);
  for (const r of summary.rows) {
    const spread = r.overSeeds && r.overSeeds.runs > 1 ? `  ± ${pct(r.overSeeds.testSd)} over ${r.overSeeds.runs} seeds` : '';
    const failed = r.overSeeds?.failed ? `, ${r.overSeeds.failed} stalled or diverged` : '';
    console.log(`${r.label.padEnd(36)} ${pct(r.validationAccuracy).padStart(8)} ${pct(r.testAccuracy).padStart(8)}${spread}${failed}`);
  }
  console.log(`\n${closingLine(done, '', report)}`);
}
