/**
 * runs.jsonl: the append-only log of finished runs. A line is appended (and
 * fsynced) only when a run has finished, so a kill at any moment loses at
 * most the run in progress, which resumes from its own checkpoint. A torn
 * last line (a kill mid-append) is skipped with a warning, and removed when
 * the experiment resumes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeFolder } from '../io/folder';
import { readJsonFile } from '../io/json';
import { writeFileAtomic } from '../report/atomic';
import { ADDED_OPTIONS } from './presets';
import type { RunRecord } from './types';

/**
 * Options that say how runs are scheduled, not what they compute: a resumed
 * experiment may change them (a run finished alone and one finished beside
 * another are the same run), e.g. to resume on a bigger GPU with more runs
 * at once.
 */
const SCHEDULING_ONLY = new Set(['concurrency']);

/**
 * Whether `out` holds an experiment already; throws when it holds one made
 * with other options (but for SCHEDULING_ONLY), so one journal never mixes
 * two experiments. Makes and writes nothing, so it can run before the data
 * are read.
 */
export function checkClaim(out: string, options: object): boolean {
  const file = path.join(out, 'experiment.json');
  if (!fs.existsSync(file)) return false;
  const saved = { ...ADDED_OPTIONS, ...readExperiment(file).options } as Record<string, unknown>;
  const differs = Object.keys(options).filter((k) => !SCHEDULING_ONLY.has(k) && JSON.stringify(saved[k]) !== JSON.stringify((options as Record<string, unknown>)[k]));
  if (differs.length) {
    throw new Error(`${out} holds an experiment made with other options (differs in: ${differs.join(', ')}); rerun with the same options to resume it, or pick another --name (or --out)`);
  }
  return true;
}

/**
 * Claims a results folder for an experiment (checkClaim first): the first
 * run writes experiment.json, the options and where the data came from.
 * Called once the data have been read, so a bad archive leaves no folder.
 */
export function claimFolder(out: string, options: object, data: Record<string, string | undefined | null>): void {
  if (checkClaim(out, options)) return;
  makeFolder(out);
  const sources = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v ? path.resolve(v) : 'bundled sample']));
  writeFileAtomic(path.join(out, 'experiment.json'), `${JSON.stringify({ options, ...sources }, null, 2)}\n`);
}

/**
 * experiment.json, parsed. allcnn writes it atomically, so one that does not
 * parse was changed by something else: say which file and what to do.
 */
export function readExperiment(file: string): { options?: Record<string, unknown> } {
  return readJsonFile(file, 'allcnn writes it whole, so something else changed it: restore it, or pass another --out (--name) to start afresh') as { options?: Record<string, unknown> };
}

/**
 * The finished runs' records. A line that is not a record (an append cut
 * short by a kill) is skipped with a warning: its run counts as not done.
 * With `repair` (an experiment about to resume, which trains that run again)
 * the file is rewritten without it, so that it is reported only once.
 */
export function readJournal(file: string, o: { repair?: boolean } = {}): RunRecord[] {
  if (!fs.existsSync(file)) return [];
  const out: RunRecord[] = [];
  const whole: string[] = [];
  const torn: number[] = [];
  fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      // not JSON: handled below
    }
    // Whatever is not a record (a torn line, or a hand edit) would fail later, far from its cause.
    if (record !== null && typeof record === 'object' && typeof (record as RunRecord).id === 'string') {
      out.push(record as RunRecord);
      whole.push(line);
    } else {
      torn.push(i + 1);
    }
  });
  if (torn.length) {
    const one = torn.length === 1;
    const which = one ? `line ${torn[0]} is not a whole record` : `lines ${torn.join(', ')} are not whole records`;
    const then = o.repair ? `removed, and ${one ? 'its run is' : 'their runs are'} trained again` : `skipped; resuming the experiment trains ${one ? 'its run' : 'their runs'} again`;
    process.emitWarning(`${file}: ${which} (an append cut short by a kill?): ${then}`, 'AllcnnJournalWarning');
    if (o.repair) writeFileAtomic(file, whole.map((l) => `${l}\n`).join(''));
  }
  return out;
}

/**
 * The records of an experiment about to resume: readJournal with repair,
 * then a turn of the event loop, so that the warning about a torn line
 * (emitted on the next tick) prints before the runs' own lines.
 */
export async function resumeJournal(file: string): Promise<RunRecord[]> {
  const records = readJournal(file, { repair: true });
  await new Promise((r) => setImmediate(r));
  return records;
}

export function appendJournal(file: string, record: RunRecord): void {
  // Start on a fresh line if a previous append was torn.
  const needsNewline = fs.existsSync(file) && fs.statSync(file).size > 0 && !fs.readFileSync(file, 'utf8').endsWith('\n');
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, `${needsNewline ? '\n' : ''}${JSON.stringify(record)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
