/** Terminal output for training: a run header, a progress bar, one line per epoch. */
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { DATASET_CLASSES, DATASET_TITLES, DatasetName } from '../data/dataset';
import { cacheDir } from '../data/preprocess';
import { count } from '../report/format';
import { DEFAULTS, ResolvedConfig } from '../train/config';
import type { EpochRecord, Progress } from '../train/train';
import { shown } from './util';

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : '   -  ');

export const EPOCH_HEADER = 'epoch   train loss  train acc   val loss   val acc        lr    img/s      time';
/** A loss in its column: 4 decimals, or 3 significant digits once it no longer fits (a run blowing up). */
const lossText = (v: number): string => (Number.isFinite(v) && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toPrecision(3));

export function epochLine(r: EpochRecord): string {
  return `${String(r.epoch).padStart(5)}   ${lossText(r.loss).padStart(10)}  ${pct(r.trainAccuracy).padStart(9)}  ${lossText(r.valLoss).padStart(9)}  ${pct(r.valAccuracy).padStart(8)}  ${r.lr.toExponential(2).padStart(8)}  ${r.imagesPerSecond.toFixed(0).padStart(7)}  ${r.seconds.toFixed(1).padStart(7)}s`;
}

/** What it means that `absent` classes have no images in the data (the CIFAR-100 subsets archive, say). */
export function absentNote(absent: number, dataset: DatasetName): string {
  const all = DATASET_CLASSES[dataset];
  return `only ${all - absent} of ${DATASET_TITLES[dataset]}'s ${all} classes have images in these data; the network keeps all ${all} outputs, ` +
    `and its accuracy is not comparable with the paper's, which is over all ${all} classes`;
}

/** The optimiser settings a run changed from the paper's (and the defaults'), as ', momentum 0.5, ...'. */
function changedSettings(c: ResolvedConfig): string {
  const names = { momentum: 'momentum', weightDecay: 'weight decay', warmupEpochs: 'warm-up epochs', labelSmoothing: 'label smoothing' } as const;
  return (Object.keys(names) as Array<keyof typeof names>).filter((k) => c[k] !== DEFAULTS[k]).map((k) => `, ${names[k]} ${c[k]}`).join('');
}

/**
 * A progress consumer for trainModel's onProgress. Draws a bar on a TTY
 * (epoch, step, loss, ETA); prints fixed-column epoch lines everywhere.
 */
export function consoleProgress(o: { label?: string; stream?: NodeJS.WriteStream } = {}): (p: Progress) => void {
  const stream = o.stream ?? process.stderr;
  const bar = stream.isTTY
    ? new SingleBar({ stream, format: `${o.label ?? ''}epoch {epoch} [{bar}] {value}/{total} steps | loss {loss} | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: true }) : null;
  const out = (s: string) => stream.write(`${s}\n`);
  return (p) => {
    switch (p.type) {
      case 'start':
        out(`${o.label ?? ''}${p.config.model}: ${p.parameters.toLocaleString('en-US')} parameters, ${p.trainImages} training images${p.config.dataset === 'cifar10' ? '' : ` of ${DATASET_TITLES[p.config.dataset]}`}${p.config.limit !== null && p.config.limit > p.trainImages ? ` (a limit of ${p.config.limit}: the data hold no more)` : ''}, device ${p.config.device}, ` +
          `${count(p.config.epochs, 'epoch')}, batch ${p.config.batchSize}, lr ${p.config.lr} (${p.config.schedule}), prep ${p.config.prep}, ` +
          `augment ${p.config.augment ? 'on' : 'off'}, seed ${p.config.seed}${changedSettings(p.config)}${p.startEpoch ? `, resuming after epoch ${p.startEpoch}` : ''}`);
        if (p.absentClasses.length) out(`note: ${absentNote(p.absentClasses.length, p.config.dataset)}`);
        // A first ZCA fit on real data takes most of a minute on a CPU, even for a --limit run: say why, and that it is once.
        if (p.data && p.config.prep === 'zca' && p.data.zcaCached === false && p.data.seconds >= 5) {
          out(`data prepared in ${p.data.seconds.toFixed(0)} s: ZCA was fitted on all ${p.data.fittedOn.toLocaleString('en-US')} training images of the split (whatever --limit)${p.data.zcaSaved ? `, and is cached for the next run (in ${shown(path.join(cacheDir(), 'zca'))})` : ''}`);
        }
        out(EPOCH_HEADER);
        break;
      case 'step':
        if (!bar) break;
        if (p.step === 1) bar.start(p.steps, 0, { epoch: p.epoch, loss: '-' });
        bar.update(p.step, { epoch: p.epoch, loss: p.loss === null ? '-' : p.loss.toFixed(4) });
        if (p.step === p.steps) bar.stop();
        break;
      case 'epoch':
        out(epochLine(p.record));
        if (p.stalled) out(`  stalled: training loss stayed within 0.02 of ln(K) = chance level and every image gets the same class scores; stopping this run`);
        if (p.diverged) out(`  diverged: the training loss is ${p.record.loss}, so the weights have overflowed and cannot recover; stopping this run`);
        break;
      case 'checkpoint':
        break;
    }
  };
}
