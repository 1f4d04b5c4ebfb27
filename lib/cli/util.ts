/** Small helpers shared by the commands. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUNDLED_CIFAR100_SAMPLE, BUNDLED_SAMPLE, DatasetName } from '../data/dataset';
import { CheckpointError } from '../errors';
import { makeFolder } from '../io/folder';
import type { Network } from '../model/network';
import { writeFileAtomic } from '../report/atomic';
import { exportWeights } from '../train/checkpoint';

/** A share as a percentage with two decimals ('57.86%'); '-' when there is none (NaN). */
export const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : '-');

/** A path as one would type it here: relative inside the working folder, absolute outside it ('../../x' helps no one). */
export function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  if (relative === '') return '.';
  return relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(file) : relative;
}

/**
 * A command's checkpoint argument: the file itself, or the run folder
 * (`allcnn train --out`) that holds checkpoint.safetensors. A results folder
 * of `allcnn reproduce` holds one checkpoint per run, so it is refused with
 * where they are rather than a missing checkpoint.safetensors.
 */
export function checkpointFile(target: string): string {
  // `allcnn predict pic.png run/` has its arguments the wrong way round: say so, not that a PNG is a bad safetensors file.
  // (Also reached from transfer's --from: the words fit both.)
  if (/\.(png|jpe?g)$/i.test(target)) throw new CheckpointError(`${target} is a picture, not a checkpoint: pass a checkpoint.safetensors or its run folder (predict takes it first, then the pictures)`);
  if (!(fs.existsSync(target) && fs.statSync(target).isDirectory())) return target;
  const file = path.join(target, 'checkpoint.safetensors');
  const runs = path.join(target, 'checkpoints');
  if (!fs.existsSync(file) && fs.existsSync(path.join(target, 'experiment.json')) && fs.existsSync(runs)) {
    const names = fs.readdirSync(runs).filter((n) => n.endsWith('.safetensors')).sort();
    const examples = names.length ? `, such as ${shown(path.join(runs, names[0]))}` : ' (none written yet)';
    throw new CheckpointError(`${shown(target)} holds the results of \`allcnn reproduce\`, one checkpoint per run: pass one of the ${names.length} in ${shown(runs)}${examples}`);
  }
  if (!fs.existsSync(file) && fs.existsSync(path.join(target, 'weights.safetensors')) && fs.existsSync(path.join(target, 'result.json'))) {
    throw new CheckpointError(`${shown(target)} has weights but no checkpoint.safetensors (an \`allcnn transfer\` run keeps none: its scores are in its result.json); this command reads runs of \`allcnn train\` and \`allcnn reproduce\``);
  }
  // Said of the folder given, before a line that would say its checkpoint was being read.
  if (!fs.existsSync(file)) throw new CheckpointError(`${shown(target)} is a folder without a checkpoint.safetensors: pass a checkpoint file, or the --out folder of an \`allcnn train\` run`);
  return file;
}

/**
 * Ctrl-C and SIGTERM for a command that trains, from its first progress
 * event on (`armed(onProgress)` wraps the command's handler and arms them at
 * its first call): the first aborts `signal` (the run stops after its
 * current step), the second exits at once. Before that the data are read and
 * prepared, partly in long native calls (a ZCA fit: half a minute on 2
 * cores) during which no JavaScript handler runs, so a Ctrl-C would wait
 * them out; and nothing has started that a clean stop would keep. So until
 * then the signals keep their default and end the process at once (its
 * lock, if any, is taken over as a dead process's).
 */
export function abortOnSignal(): { signal: AbortSignal; armed: <E>(onEvent: (e: E) => void) => (e: E) => void } {
  const controller = new AbortController();
  let armed = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${sig}: stopping after the current step (again to quit now)\n`);
    controller.abort();
  };
  const arm = () => {
    if (armed) return;
    armed = true;
    // on, not once: two signals that arrive during one native call are both handled when it returns.
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  };
  return { signal: controller.signal, armed: (onEvent) => (e) => { arm(); onEvent(e); } };
}


/**
 * Writes a finished run's outputs to `out`: weights.safetensors (then frees
 * the network; `dataset`, what it was trained on, goes in its metadata) and
 * result.json; prints the record on stdout with --json. Returns true when it
 * printed (the caller prints its summary otherwise).
 */
export function saveRun(out: string, result: { network?: Network }, json: boolean, dataset?: string): boolean {
  makeFolder(out);
  exportWeights(path.join(out, 'weights.safetensors'), result.network!, { dataset });
  result.network!.dispose();
  const { network: _network, ...record } = result;
  writeFileAtomic(path.join(out, 'result.json'), `${JSON.stringify(record, null, 2)}\n`); // readers never see half a file
  if (json) process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
  return json;
}

/**
 * The note evaluate, predict and visualize print when the data read are not
 * those the run was trained on: they are prepared with statistics fitted on
 * their own training images, and what is shown is of other data (predict:
 * its pictures are prepared by a fit on other training images). The
 * checkpoint's digest of its images (`sameData`) tells; for one written
 * before it was kept (null), only a --data other than the recorded path is
 * noted, as maybe other data. Null: nothing to note.
 */
export function otherDataNote(r: { trainedOn: string | null; dataset: DatasetName; sameData: boolean | null }, data: string | undefined, what: 'scores' | 'strongest images' | 'probabilities'): string | null {
  const trainedOn = r.trainedOn ?? 'the bundled sample';
  if (r.sameData === false) {
    const images = what === 'probabilities' ? 'training images' : 'images';
    const other = data === undefined ? `${trainedOn} holds other ${images} now than when the run was trained on it` : `${data} holds other ${images} than the run was trained on (${trainedOn})`;
    return what === 'probabilities'
      ? `note: ${other}; the preparation is fitted on them, so the probabilities can differ from those the run's own preparation gives`
      : `note: ${other}; they are prepared with statistics fitted on their own training images, and the ${what} are of those other data`;
  }
  if (r.sameData === true || data === undefined) return null;
  const where = (d: string | null) => path.resolve(d ?? (r.dataset === 'cifar100' ? BUNDLED_CIFAR100_SAMPLE : BUNDLED_SAMPLE));
  if (where(data) === where(r.trainedOn)) return null;
  return `note: the run was trained on ${trainedOn}, and ${data} is read in its place, with the preparation fitted on its training images; ` +
    `if that is the same data moved, this is right; if not, the ${what} are of other data`;
}
