/** `allcnn reproduce`: the paper's Table 3, scripted, resumable, reported. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { MultiBar, Presets, SingleBar } from 'cli-progress';
import { cudaAvailable, requireDevice } from '../backend';
import { PREPS } from '../data/dataset';
import { checkReproduceOptions, EXTRAS, MAX_SEEDS, PRESET_NAMES, PRESETS, PresetName, ReproduceOptions, SEED_STRIDE } from '../experiments/presets';
import { checkClaim } from '../experiments/journal';
import { checkLock } from '../experiments/lock';
import { ExperimentEvent, reproduce } from '../experiments/runner';
import { PRECISIONS } from '../train/config';
import { count } from '../report/format';
import { AbortError } from '../train/train';
import { MODEL_IDS } from '../../models';
import { above, batchSize, deviceName, folderName, int, list, oneOf, pathTo } from './options';
import { reproduceTransferCommand } from './transfer';
import { abortOnSignal, closingLine, pct, shown } from './util';

export function reproduceCommand(): Command {
  return new Command('reproduce')
    .description('run the paper\'s Table 3 grid (12 networks x learning rates), the augmented runs, the ablations (and with --extras ...,cifar100 the CIFAR-100 row); write REPORT.md')
    .addOption(new Option('--preset <name>', 'paper (350 epochs), fast (40 epochs, lr probes), smoke (CPU, minutes) or transfer (CIFAR-10 -> CIFAR-100 subsets)').choices([...PRESET_NAMES, 'transfer']).default('smoke'))
    .option('--data <path>', 'CIFAR-10 binary archive or folder; default: the bundled 600-image sample', pathTo('--data', 'an archive or a folder'))
    .option('--from <file>', 'transfer: the CIFAR-10 checkpoint or weights to transfer from, or its run folder (default: pretrain one first, on --data)', pathTo('--from', 'a checkpoint, a weights file or a run folder'))
    .option('--data100 <path>', 'CIFAR-100 binary archive or folder: with --extras ...,cifar100 the official one (all 100 classes), with --preset transfer the subsets; default: the bundled sample', pathTo('--data100', 'an archive or a folder'))
    .option('--pretrain-epochs <n>', 'transfer: epochs of pretraining on CIFAR-10 when --from is omitted', int('--pretrain-epochs', 1))
    .option('--name <name>', 'experiment name: results go to results/<name> (default: the preset)', folderName('--name'))
    .option('--out <dir>', 'results folder (overrides --name)', pathTo('--out', 'a folder'))
    .option('--models <ids>', `comma-separated model ids (${MODEL_IDS.join(', ')})`, list('--models', oneOf('--models', MODEL_IDS)))
    .option('--epochs <n>', 'epochs per run', int('--epochs', 1))
    .option('--lrs <list>', 'learning rates to select from, e.g. 0.25,0.1,0.05,0.01', list('--lrs', above('--lrs', 0, 100)))
    .option('--batch-size <n>', 'mini-batch size', batchSize)
    .option('--augment', 'train the Table 3 runs with flips and translations too')
    .option('--seed <n>', 'first seed (restarts use the next ones)', int('--seed', 0))
    .option('--device <name>', 'cpu, cuda or cuda:N (default: cuda when available, cpu for smoke)', deviceName('--device'))
    .option('--limit <n>', 'train on at most n images of the training split', int('--limit', 1))
    .option('--test-limit <n>', 'evaluate on at most n test images', int('--test-limit', 1))
    .option('--lr-selection <mode>', 'full (every rate to the end) or probe (short prefixes, best continued)', oneOf('--lr-selection', ['full', 'probe']))
    .option('--probe-epochs <n>', 'epochs of each learning-rate probe', int('--probe-epochs', 1))
    .option('--extras <list>', `extra rows after Table 3: ${EXTRAS.join(',')} (or "none"); default augment,ablations (cifar100 reads --data100)`, (v: string) => (v === 'none' ? [] : list('--extras', oneOf('--extras', EXTRAS))(v)))
    .option('--concurrency <n>', 'runs trained at once on the device (for a GPU: on a CPU they only share the cores); the results are the same', int('--concurrency', 1))
    .option('--seeds <n>', `train each Table 3 network at its chosen rate with n seeds (the rate is chosen on the first; with --preset transfer, every transfer run); its row is their mean ± sd (default 1, as the paper)`, int('--seeds', 1, MAX_SEEDS))
    .option('--max-restarts <n>', 'restarts of a stalled run, each with the next seed', int('--max-restarts', 0))
    .option('--precision <p>', 'fp32, bf16 or fp16', oneOf('--precision', PRECISIONS))
    .option('--prep <name>', 'zca (the paper), std or none', oneOf('--prep', PREPS))
    .option('--no-fast-path', 'on CUDA: plain fp32 steps (no TF32, channels-last, CUDA graphs or streams per run)')
    .option('--json', 'print the summary as JSON on stdout (progress still goes to stderr)', false)
    .action(async (o) => {
      if (o.preset === 'transfer') return reproduceTransferCommand(o);
      const preset = PRESETS[o.preset as PresetName];
      const device = o.device ?? (o.preset !== 'smoke' && cudaAvailable() ? 'cuda' : 'cpu');
      const options: ReproduceOptions = {
        ...preset, device,
        ...pick(o, ['models', 'epochs', 'lrs', 'batchSize', 'augment', 'seed', 'limit', 'testLimit', 'lrSelection', 'probeEpochs', 'extras', 'concurrency', 'seeds', 'maxRestarts', 'precision', 'prep', 'fastPath']),
      };
      if (options.lrSelection === 'probe' && options.probeEpochs > options.epochs) {
        throw Object.assign(new Error(`--probe-epochs ${options.probeEpochs} is more than the ${options.epochs} epochs of a run: pass a smaller --probe-epochs or more --epochs`), { exitCode: 2 });
      }
      if (options.seeds > 1 && options.maxRestarts >= SEED_STRIDE) {
        throw Object.assign(new Error(`--max-restarts ${options.maxRestarts} with --seeds ${options.seeds}: a seed's restarts would reach the next seed's (${SEED_STRIDE} apart); pass at most ${SEED_STRIDE - 1}`), { exitCode: 2 });
      }
      checkReproduceOptions(options); // the rest of what reproduce() would refuse, before the header says what will run
      const transferOnly = (['from', 'pretrainEpochs'] as const).filter((k) => o[k] !== undefined);
      if (transferOnly.length) {
        throw Object.assign(new Error(`${transferOnly.map((k) => (k === 'from' ? '--from' : '--pretrain-epochs')).join(' and ')} belong${transferOnly.length === 1 ? 's' : ''} to --preset transfer, not to ${o.preset}`), { exitCode: 2 });
      }
      if (o.data100 !== undefined && !options.extras.includes('cifar100')) {
        throw Object.assign(new Error('--data100 is read by --preset transfer and by the CIFAR-100 row: add cifar100 to --extras (--extras augment,ablations,cifar100)'), { exitCode: 2 });
      }
      const name = o.name ?? o.preset;
      const out = path.resolve(o.out ?? path.join('results', name));
      // Before the header, which would read as if this one ran: a missing GPU, a folder another process is training in.
      requireDevice(device);
      checkLock(out);
      // Another experiment's folder, or train's or transfer's run (a new experiment is not written beside, and later over, it).
      checkClaim(out, options, options.extras.includes('cifar100') ? { data: o.data, data100: o.data100 } : { data: o.data });
      // The extras start from ALL-CNN-C's chosen rate: it trains (probes and full run) whether or not --models names it.
      const added = options.extras.length > 0 && !options.models.includes('all-cnn-c') ? ' (and ALL-CNN-C, whose chosen rate the extras start from)' : '';
      const models = `${count(options.models.length, 'model')}${added}`;
      console.error(`reproduce ${name}: preset ${options.preset}, ${models} x lrs [${options.lrs.join(', ')}] (${options.lrSelection}${options.lrSelection === 'probe' ? `, ${options.probeEpochs}-epoch probes` : ''}), ` +
        `${count(options.epochs, 'epoch')}${options.seeds > 1 ? ` x ${options.seeds} seeds` : ''}, batch ${options.batchSize}${options.augment ? ', Table 3 trained with flips and translations (--augment)' : ''}, device ${device}, concurrency ${options.concurrency}, extras: ${options.extras.join(', ') || 'none'}\n` +
        `data: ${o.data === undefined ? 'the bundled 600-image CIFAR-10 sample' : shown(path.resolve(o.data))}\nresults: ${out}`);
      // The long presets on the sample or on a CPU run as asked, but say what that gives.
      if (o.preset !== 'smoke' && o.data === undefined) {
        console.error('note: without --data the bundled sample stands in for CIFAR-10: a check of the pipeline; its accuracies say nothing about the paper\'s (pass --data cifar-10-binary.tar.gz)');
      } else if (o.preset !== 'smoke' && device === 'cpu' && options.limit == null) {
        const epochs = o.preset === 'paper' ? 'thousands' : 'hundreds';
        console.error(`note: an epoch of ALL-CNN-C on 49,000 images took about 9 minutes on a 2-core CPU (95 images/s, docs/RESULTS.md), and preset ${o.preset} runs ${epochs} of epochs: it is GPU work (--device cuda)`);
      }
      const { signal, armed } = abortOnSignal();
      const done = await reproduce(name, options, { out, data: o.data, ...(o.data100 !== undefined ? { data100: o.data100 } : {}) }, { signal, onEvent: armed(consoleEvents()) }).catch((err) => {
        if (signal.aborted) console.error(`stopped: \`allcnn report ${shown(out)}\` reports what is recorded so far; the same command goes on`);
        // Stopped between runs: "training aborted before it started" would only confuse; the line above says it all.
        if (signal.aborted && err instanceof AbortError && err.beforeStart) Object.assign(err, { printed: true });
        throw err;
      });
      const { summary, report } = done;
      if (o.json) {
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        return;
      }
      console.log(`\n${'row'.padEnd(48)} ${'lr'.padStart(6)} ${'val'.padStart(8)} ${'test'.padStart(8)}`);
      for (const r of summary.rows) console.log(`${r.label.padEnd(48)} ${String(r.lr).padStart(6)} ${pct(r.validationAccuracy).padStart(8)} ${pct(r.testAccuracy).padStart(8)}`);
      if (summary.stalled.length) console.log(`${summary.stalled.length} run(s) stalled at chance level: see REPORT.md`);
      if (summary.diverged?.length) console.log(`${summary.diverged.length} run(s) diverged (training loss NaN or infinite): see REPORT.md`);
      const reused = done.trainedRuns > 0 && summary.reusedRuns ? ` (${count(summary.reusedRuns, 'run')} finished earlier)` : '';
      console.log(`\n${closingLine(done, `, ${summary.aggregateImagesPerSecond.toFixed(0)} training images/s in all${reused}`, report)}`);
    });
}

function pick(o: Record<string, unknown>, keys: string[]): Partial<ReproduceOptions> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}

/** One line per finished run; a progress bar per running run on a TTY. */
function consoleEvents(): (e: ExperimentEvent) => void {
  const tty = process.stderr.isTTY;
  const multi = tty ? new MultiBar({ format: '{label} [{bar}] epoch {epoch} {value}/{total} | loss {loss} | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true, stream: process.stderr }, Presets.shades_classic) : null;
  const bars = new Map<string, SingleBar>();
  const log = (s: string) => (multi ? multi.log(`${s}\n`) : process.stderr.write(`${s}\n`));
  return (e) => {
    switch (e.type) {
      case 'run-start':
        log(`start  ${e.task.id}/seed=${e.seed}/${e.task.phase}`);
        break;
      case 'run-progress': {
        if (!multi || e.progress.type !== 'step') break;
        const key = e.task.id + e.task.phase;
        let bar = bars.get(key);
        if (!bar) {
          bar = multi.create(e.progress.steps, 0, { label: e.task.label.padEnd(20).slice(0, 20), epoch: e.progress.epoch, loss: '-' });
          bars.set(key, bar);
        }
        if (e.progress.step === 1) bar.setTotal(e.progress.steps);
        bar.update(e.progress.step, { epoch: e.progress.epoch, loss: e.progress.loss === null ? '-' : e.progress.loss.toFixed(3) });
        break;
      }
      case 'run-end': {
        const r = e.record;
        const key = r.id.replace(/\/seed=\d+\/(probe|full)$/, '') + r.phase;
        const bar = bars.get(key);
        if (bar) {
          multi!.remove(bar);
          bars.delete(key);
        }
        log(`${e.cached ? 'done*' : 'done '}  ${r.id}: val ${pct(r.validation.accuracy)} test ${pct(r.test.accuracy)} ${r.stalled ? 'STALLED ' : ''}${r.diverged ? `DIVERGED in epoch ${r.history.length} ` : ''}(${r.seconds.toFixed(0)} s${e.cached ? ', from runs.jsonl' : ''})`);
        break;
      }
      case 'stalled':
        log(`stalled ${e.record.id}: training loss at chance level${e.restarting ? '; restarting with the next seed' : '; no restarts left, reported as stalled'}`);
        break;
    }
  };
}
