/** `allcnn train`: train one network and print its validation and test accuracy. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { DATASETS, PREPS } from '../data/dataset';
import { requireDevice } from '../backend';
import { lockFolder } from '../experiments/lock';
import { INITS } from '../init';
import { checkpointDifferences, checkResumeConfig } from '../train/checkpoint';
import { PRECISIONS, resolveConfig, TrainConfig } from '../train/config';
import { SCHEDULES } from '../train/schedule';
import { AbortError, trainModel, type TrainResult } from '../train/train';
import { MODEL_IDS } from '../../models';
import { above, batchSize, deviceName, int, num, oneOf, pathTo } from './options';
import { absentNote, consoleProgress } from './progress';
import { abortOnSignal, pct, saveRun, shown, withDiskFix } from './util';

export function trainCommand(): Command {
  return new Command('train')
    .description('train one network of the All-CNN family on CIFAR-10 (or CIFAR-100)')
    .addOption(new Option('--model <id>', 'network to train').choices(MODEL_IDS).default('all-cnn-c'))
    .addOption(new Option('--dataset <name>', 'cifar10, or cifar100: its 100 fine classes (the paper\'s CIFAR-100 row, ALL-CNN-C)').choices(DATASETS).default('cifar10'))
    .option('--data <path>', 'the data set\'s binary archive (.tar.gz) or extracted folder; default: its bundled sample (600 CIFAR-10 images; 300 CIFAR-100 images of 20 classes)', pathTo('--data', 'an archive or a folder'))
    .option('--epochs <n>', 'epochs', int('--epochs', 1), 10)
    .option('--limit <n>', 'train on at most n images of the 49,000-image training split', int('--limit', 1))
    .option('--test-limit <n>', 'evaluate on at most n test images', int('--test-limit', 1))
    .option('--lr <x>', 'base learning rate', above('--lr', 0, 100), 0.01)
    .option('--batch-size <n>', 'mini-batch size', batchSize, 128)
    .option('--momentum <x>', 'SGD momentum (the paper: 0.9)', num('--momentum', 0, 1), 0.9)
    .option('--weight-decay <x>', 'L2 weight decay (the paper: 0.001)', num('--weight-decay', 0, 1), 0.001)
    .option('--schedule <name>', `learning-rate schedule (${SCHEDULES.join(', ')})`, oneOf('--schedule', SCHEDULES), 'paper')
    .option('--warmup-epochs <x>', 'linear learning-rate warm-up from 0 over this many epochs (the paper has none)', num('--warmup-epochs'), 0)
    .option('--label-smoothing <x>', 'label smoothing of the cross-entropy loss (the paper has none)', num('--label-smoothing', 0, 1), 0)
    .option('--validation <n>', 'training images held out for validation (default: 1,000 of 50,000, a tenth of smaller data)', int('--validation', 0))
    .option('--stall-epochs <n>', 'stop a run whose training loss stays at chance (ln of the classes) for this many epochs; 0: never stop', int('--stall-epochs', 0), 3)
    .option('--prep <name>', `preprocessing: zca (GCN + ZCA, the paper), std or none`, oneOf('--prep', PREPS), 'zca')
    .option('--augment', 'random flips and translations (the paper\'s augmentation)', false)
    .option('--seed <n>', 'random seed', int('--seed', 0), 0)
    .option('--device <name>', 'cpu, cuda or cuda:N', deviceName('--device'), 'cpu')
    .option('--precision <p>', `fp32, bf16 or fp16 (autocast)`, oneOf('--precision', PRECISIONS), 'fp32')
    .option('--tf32', 'CUDA: TF32 tensor cores for fp32 convolutions and matmuls', false)
    .option('--channels-last', 'NHWC memory layout: faster cuDNN kernels on CUDA, and on the CPU faster for the networks with many 3x3 and 1x1 convolutions (docs/RESULTS.md)', false)
    .option('--cuda-graph', 'CUDA: capture the training step once and replay it as a CUDA graph', false)
    .option('--init <name>', `weight initialisation (${INITS.join(', ')})`, oneOf('--init', INITS), 'xavier-uniform')
    .option('--no-final-relu', 'leave out the ReLU after the last 1x1 convolution')
    .option('--out <dir>', 'folder for the checkpoint, weights and result.json (default results/train-<model>, or results/train-<model>-cifar100)', pathTo('--out', 'a folder'))
    .option('--resume', 'continue from the checkpoint in --out if there is one', false)
    .option('--json', 'print the result as JSON on stdout (progress still goes to stderr)', false)
    .action(async (o) => {
      // The lock makes the folder, and its release removes it if nothing was written: a refused run leaves none behind.
      const out = path.resolve(o.out ?? path.join('results', `train-${o.model}${o.dataset === 'cifar10' ? '' : `-${o.dataset}`}`));
      const checkpoint = path.join(out, 'checkpoint.safetensors');
      const config: TrainConfig = {
        model: o.model, dataset: o.dataset, data: o.data, epochs: o.epochs, limit: o.limit, testLimit: o.testLimit, validation: o.validation,
        lr: o.lr, batchSize: o.batchSize, momentum: o.momentum, weightDecay: o.weightDecay, warmupEpochs: o.warmupEpochs,
        labelSmoothing: o.labelSmoothing, stallEpochs: o.stallEpochs, schedule: o.schedule, prep: o.prep, augment: o.augment, seed: o.seed,
        device: o.device, precision: o.precision, init: o.init, finalRelu: o.finalRelu, tf32: o.tf32, channelsLast: o.channelsLast, cudaGraph: o.cudaGraph,
      };
      const resolved = resolveConfig(config); // a bad combination of options is refused before the data are read
      requireDevice(resolved.device); // before "reading ...", which would say the run had begun
      // One process at a time: a second one with the same --out wrote over the first's checkpoint and result.json.
      const lock = lockFolder(out);
      let result: TrainResult;
      try {
        // Another command's results: written over by this run's result.json and weights.
        if (fs.existsSync(path.join(out, 'experiment.json'))) {
          throw new Error(`${shown(out)} holds the results of \`allcnn reproduce\`: pass another --out for this run`);
        }
        if (!fs.existsSync(checkpoint) && fs.existsSync(path.join(out, 'result.json'))) {
          throw new Error(`${shown(path.join(out, 'result.json'))} exists, without a checkpoint beside it: ${shown(out)} holds a finished run (of \`allcnn transfer\`, or one whose checkpoint was removed); pass another --out for this run, or delete that folder to redo it`);
        }
        // Data that are not there are said so first (reading them fails at once): a checkpoint's other data path would only puzzle.
        if (!o.resume && fs.existsSync(checkpoint) && !(o.data && !fs.existsSync(o.data))) {
          // --resume continues only the same run: say so when this one is another.
          const differs = checkpointDifferences(checkpoint, resolved);
          // Only the path of the data differs: the same images repacked or extracted elsewhere would resume (the images are compared then).
          throw new Error(differs.length === 1 && differs[0] === 'data'
            ? `${checkpoint} holds a run on other data, or on the same images in another file: pass --resume to continue it if they are the same (they are compared), or another --out for this run`
            : differs.length
              ? `${checkpoint} holds another run (its options differ in: ${differs.join(', ')}): pass another --out for this one`
              : `${checkpoint} exists: pass --resume to continue that run, or another --out to start afresh`);
        }
        if (o.resume && fs.existsSync(checkpoint)) checkResumeConfig(checkpoint, resolved); // before "reading ...": trainModel would refuse it after no wait either
        const { signal, armed } = abortOnSignal();
        // Before the wait: a first ZCA fit on real data takes most of a minute on a CPU.
        process.stderr.write(`reading ${o.data ? shown(path.resolve(o.data)) : 'the bundled sample'} (prep ${o.prep})\n`);
        result = await trainModel(config, { onProgress: armed(consoleProgress()), signal, checkpoint, resume: o.resume, keepModel: true }).catch((err: unknown) => {
          // The library names the checkpoint; how to go on from it is the command's to say.
          if (err instanceof AbortError && fs.existsSync(checkpoint)) err.message += `; to go on: the same command${o.resume ? '' : ' with --resume'}`;
          throw err;
        });
        if (saveRun(out, result, o.json, result.config.dataset)) return;
      } catch (err) {
        // A full disk after the first epoch: without --resume the same command would refuse the checkpoint it left.
        throw withDiskFix(err, fs.existsSync(checkpoint) && !o.resume ? 'run the same command with --resume: it goes on from the last epoch saved' : undefined);
      } finally {
        lock.release();
      }
      console.log(`\n${result.config.model}: validation accuracy ${pct(result.validation.accuracy)} (${result.validation.count} images), ` +
        `test accuracy ${pct(result.test.accuracy)} (${result.test.count} images), ${result.seconds.toFixed(0)} s, ` +
        (result.resumedFrom < result.history.length ? `${result.imagesPerSecond.toFixed(0)} images/s on ${result.device}`
          : result.diverged || result.stalled ? `nothing trained (the checkpoint's run stopped in epoch ${result.history.length}, see below)`
            : `nothing left to train (the checkpoint is at the last epoch, ${result.history.length})`) +
        (result.cudaGraph.startsWith('failed') ? `\nCUDA graph capture ${result.cudaGraph}; the run used ordinary steps` : '') +
        (result.diverged ? '\nDIVERGED: the training or validation loss became NaN or infinite and the run stopped there; try a lower --lr' : '') +
        (result.absentClasses.length ? `\nnote: ${absentNote(result.absentClasses.length, result.config.dataset)}` : '') +
        (result.stalled ? '\nSTALLED: the training loss stayed at chance level and the network gives every image the same scores; try another --seed or a lower --lr (or --no-final-relu; --stall-epochs 0 trains on regardless)' : ''));
      console.log(`wrote ${shown(out)}/{result.json, weights.safetensors, checkpoint.safetensors}`);
    });
}
