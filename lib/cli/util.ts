/** Small helpers shared by the commands. */
import * as path from 'node:path';
import { requireDevice } from '../backend';
import { BUNDLED_CIFAR100_SAMPLE, BUNDLED_SAMPLE, DatasetName } from '../data/dataset';
import { makeFolder } from '../io/folder';
import type { Network } from '../model/network';
import { writeFileAtomic } from '../report/atomic';
import { exportWeights } from '../train/checkpoint';
import { readRun } from '../train/evaluate-checkpoint';

/** A share as a percentage with two decimals ('57.86%'); '-' when there is none (NaN). */
export const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : '-');

/** A path as one would type it here: relative inside the working folder, absolute outside it ('../../x' helps no one). */
export function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  if (relative === '') return '.';
  return relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(file) : relative;
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
 * The closing line of `allcnn reproduce`: the invocation's time (and
 * `speed`), or, when it trained nothing, that every run was finished earlier
 * and what the last invocation that trained took, where that is known (a
 * summary.json that covers the runs). Its own few seconds would read as the
 * experiment's.
 */
export function closingLine(r: { trainedRuns: number; summary: { totalSeconds: number } }, speed: string, report: string): string {
  const took = Number.isFinite(r.summary.totalSeconds) ? `${r.summary.totalSeconds.toFixed(0)} s${speed}` : null;
  if (r.trainedRuns > 0) return `${took}; report: ${shown(report)}`;
  return `nothing left to train: every run was finished earlier${took ? ` (the last invocation that trained took ${took})` : ''}; report: ${shown(report)}`;
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

/** What to do when a write failed for want of room or of a writable disk, by the error's code. */
const DISK_FIXES: Record<string, string> = {
  ENOSPC: 'free some space on that disk',
  EDQUOT: 'free some space within your disk quota',
  EROFS: 'make that file system writable again',
};

/**
 * Adds what to do to an error of a write that found the disk full or
 * read-only (its code: ENOSPC, EDQUOT, EROFS): make room (or pick another
 * folder, where the command has --out: `hasOut`), then `again` (default:
 * the same command; train, reproduce and transfer go on from their
 * checkpoints and runs.jsonl). Other errors, and one told already, are left
 * as they are.
 */
export function withDiskFix(err: unknown, again = 'run the same command again', hasOut = true): unknown {
  const e = err as (Error & { code?: unknown; diskFix?: boolean }) | null;
  const fix = e instanceof Error && typeof e.code === 'string' ? DISK_FIXES[e.code] : undefined;
  if (!fix || e!.diskFix) return err;
  e!.message += `; ${fix}${hasOut ? ' (or pass another --out)' : ''}, then ${again}`;
  e!.diskFix = true;
  return err;
}

/**
 * The checkpoint `file` of a command that reads a run (evaluate, predict,
 * visualize) read, with `device` checked: a missing GPU, or a missing or
 * foreign checkpoint, fails before the command's first line says it began.
 */
export function checkRun(file: string, device: string): ReturnType<typeof readRun> {
  requireDevice(device);
  return readRun(file);
}
