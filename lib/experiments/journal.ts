/**
 * runs.jsonl: the append-only log of finished runs. A line is appended (and
 * fsynced) only when a run has finished, so a kill at any moment loses at
 * most the run in progress, which resumes from its own checkpoint. A torn
 * last line (a kill mid-append) is skipped with a warning, and removed when
 * the experiment resumes.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { archiveBytes, makeFolder, syncFolder } from '../io/folder';
import { readJsonFile } from '../io/json';
import { cannotWrite, writeFileAtomic } from '../report/atomic';
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
 * Lists whose order says only which run starts first: `--lrs 0.1,0.05` and
 * `--lrs 0.05,0.1` plan the same runs, and a tie between rates goes the same
 * way (runner.ts), so a resume may give them in another order.
 */
const UNORDERED = new Set(['models', 'lrs', 'extras']);

/** The option `k` as compared between an experiment and its resume. */
function comparable(k: string, v: unknown): string {
  return JSON.stringify(UNORDERED.has(k) && Array.isArray(v) ? [...v].sort() : v);
}

/**
 * Where an experiment's data came from: the archives or folders it was given,
 * by key ('data', 'data100'; none: the bundled sample), and the files its
 * runs start from ('from': a pretrained network, absent when there is none).
 */
export type DataSources = Record<string, string | undefined | null>;

const BUNDLED = 'bundled sample';

/** Files up to this size are also told apart by their SHA-256 (two checkpoints of one network can have one size); larger ones, by size. */
const HASHED_BYTES = 64 * 1024 * 1024;

function dataSha256(p: string): string | null {
  const bytes = archiveBytes(p);
  return bytes === null || bytes > HASHED_BYTES ? null : crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

/**
 * The data an experiment already in `out` was trained on against `data`: a
 * run on other data would join the same journal and the same rows. The path
 * may change (the archive moved, another machine); the sample against an
 * archive, or an archive of another size, may not. Where experiment.json
 * records the digest of the images read (dataDigest), that decides instead,
 * once the data are read (claimFolder): an archive repacked or extracted to
 * a folder is then the same data, and other images at the same path and
 * size are not. experiment.json files written before the sizes were
 * recorded are checked for the first only.
 */
function checkData(out: string, saved: Record<string, unknown>, data: DataSources): void {
  const sizes = (saved.dataBytes ?? {}) as Record<string, unknown>;
  const hashes = (saved.dataSha256 ?? {}) as Record<string, unknown>;
  const digests = (saved.dataDigest ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(data)) {
    if (typeof saved[k] !== 'string' || typeof digests[k] === 'string') continue;
    const bytes = archiveBytes(v);
    const otherSize = typeof sizes[k] === 'number' && bytes !== null && bytes !== sizes[k];
    const otherBytes = !otherSize && typeof hashes[k] === 'string' && v && fs.existsSync(v) && dataSha256(v) !== hashes[k];
    if ((saved[k] === BUNDLED) !== !v || otherSize || otherBytes) {
      const was = `${saved[k]}${otherSize ? `, ${sizes[k]} bytes` : otherBytes ? ', a file with other contents' : ''}`;
      throw otherData(out, k, `its ${k} was ${was}; now ${v ? path.resolve(v) : BUNDLED}`);
    }
  }
}

function otherData(out: string, k: string, why: string): Error {
  return new Error(`${out} holds an experiment trained ${k === 'from' ? 'from another network' : 'on other data'} (${why}): rerun with the same files to resume it, or pick another --name (or --out)`);
}

/** The images read against the digests experiment.json recorded (checkData leaves those to this, once the data are read). */
function checkDigests(out: string, saved: Record<string, unknown>, data: DataSources, digests: Record<string, string>): void {
  const recorded = (saved.dataDigest ?? {}) as Record<string, unknown>;
  for (const [k, digest] of Object.entries(digests)) {
    if (typeof recorded[k] !== 'string' || recorded[k] === digest) continue;
    const now = data[k] ? path.resolve(data[k]!) : BUNDLED;
    throw otherData(out, k, now === saved[k] ? `${now} holds other images than it did` : `${now} holds other images than its ${k}, ${String(saved[k])}, did`);
  }
}

/**
 * Whether `out` holds an experiment already; throws when it holds one made
 * with other options (but for SCHEDULING_ONLY), or on other data (`data`,
 * when given; and, once they are read, on other images: `digests`), so one
 * journal never mixes two experiments. Makes and writes nothing, so it can
 * run before the data are read.
 */
export function checkClaim(out: string, options: object, data?: DataSources, digests: Record<string, string> = {}): boolean {
  const file = path.join(out, 'experiment.json');
  if (!fs.existsSync(file)) {
    checkNotARun(out);
    checkNoUnclaimedRuns(out);
    return false;
  }
  const experiment = readExperiment(file) as Record<string, unknown> & { options?: Record<string, unknown> };
  const saved = { ...ADDED_OPTIONS, ...experiment.options } as Record<string, unknown>;
  const differs = Object.keys(options).filter((k) => !SCHEDULING_ONLY.has(k) && comparable(k, saved[k]) !== comparable(k, (options as Record<string, unknown>)[k]));
  if (differs.length) {
    const was = differs.map((k) => `${k} ${JSON.stringify(saved[k] ?? null)}`); // the options to resume with
    throw new Error(`${out} holds an experiment made with other options (differs in: ${differs.join(', ')}; the folder's: ${was.join(', ')}); rerun with the same options to resume it, or pick another --name (or --out)`);
  }
  if (data) {
    checkData(out, experiment, data);
    checkDigests(out, experiment, data, digests);
  }
  return true;
}

/**
 * Refuses a folder that holds the run of `allcnn train` or `allcnn transfer`
 * (their result.json, or train's checkpoint) as the results folder of a new
 * experiment: its records would be written beside them, and a later
 * `allcnn train --out` there would overwrite the experiment's files.
 */
export function checkNotARun(out: string): void {
  const found = ['result.json', 'checkpoint.safetensors'].filter((f) => fs.existsSync(path.join(out, f)));
  if (found.length) {
    throw new Error(`${out} holds a run of \`allcnn train\` or \`allcnn transfer\` (its ${found.join(' and ')}), not an experiment of \`allcnn reproduce\`: pass another --out (or --name)`);
  }
}

/**
 * Refuses runs.jsonl or checkpoints/ without the experiment.json that
 * claimFolder writes before either (it was deleted): claimed anew with this
 * command's options, the folder would report its runs as made with them,
 * whatever epochs or data they had.
 */
function checkNoUnclaimedRuns(out: string): void {
  const nonEmpty = (f: string) => fs.existsSync(f) && (fs.statSync(f).isDirectory() ? fs.readdirSync(f).length > 0 : fs.statSync(f).size > 0);
  const found = ['runs.jsonl', 'checkpoints'].filter((f) => nonEmpty(path.join(out, f)));
  if (found.length) {
    throw new Error(`${out} holds runs (its ${found.join(' and ')}) but no experiment.json, which records the options and data they were made with: ` +
      'without it they cannot be checked against this command\'s. Restore experiment.json, or pick another --name (or --out) to start afresh');
  }
}

/**
 * Claims a results folder for an experiment (checkClaim first): the first
 * run writes experiment.json, the options and where the data came from (and
 * their size and, up to 64 MB, their SHA-256, and the digests of the images
 * read, `digests` by the keys of `data`, which a resume must match), and the
 * experiment's name, which titles the report of a folder stopped before its
 * summary was written. A resume compares the images read with the digests
 * recorded. Called once the data have been read, so a bad archive leaves no
 * folder.
 */
export function claimFolder(out: string, options: object, data: DataSources, name?: string, digests: Record<string, string> = {}): void {
  if (checkClaim(out, options, data, digests)) return;
  makeFolder(out);
  const sources = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v ? path.resolve(v) : BUNDLED]));
  const recorded = (of: (p: string) => unknown) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v ? of(v) : null]).filter(([, x]) => x !== null));
  const digest = Object.keys(digests).length ? { dataDigest: digests } : {};
  writeFileAtomic(path.join(out, 'experiment.json'), `${JSON.stringify({ ...(name ? { name } : {}), options, ...sources, dataBytes: recorded(archiveBytes), dataSha256: recorded(dataSha256), ...digest }, null, 2)}\n`);
}

/**
 * experiment.json, parsed. allcnn writes it atomically, so one that does not
 * parse was changed by something else: say which file and what to do.
 */
export function readExperiment(file: string): { name?: unknown; options?: Record<string, unknown> } {
  return readJsonFile(file, 'allcnn writes it whole, so something else changed it: restore it, or pass another --out (--name) to start afresh') as { name?: unknown; options?: Record<string, unknown> };
}

/** A JSON value with the fields the report and the runner read from every record: a line without them would fail later, far from its cause. */
function isRecord(x: unknown): x is RunRecord {
  const r = x as Record<string, any> | null;
  const num = (v: unknown) => typeof v === 'number' || v === null; // NaN is written as null
  const score = (v: any) => v !== null && typeof v === 'object' && num(v.accuracy) && num(v.loss);
  return r !== null && typeof r === 'object' && !Array.isArray(r) &&
    ['id', 'group', 'label', 'model'].every((k) => typeof r[k] === 'string') &&
    ['lr', 'seed', 'epochs', 'parameters'].every((k) => typeof r[k] === 'number') &&
    (r.phase === 'probe' || r.phase === 'full') && typeof r.stalled === 'boolean' &&
    score(r.validation) && score(r.test) && Array.isArray(r.history) && r.config !== null && typeof r.config === 'object';
}

/**
 * The finished runs' records. A line that is not a record (an append cut
 * short by a kill, or an edit) is skipped with a warning: its run counts as
 * not done; so is a second record of a run (the runner writes each once).
 * With `repair` (an experiment about to resume, which trains those runs
 * again) the file is rewritten without them, so that they are reported once.
 */
export function readJournal(file: string, o: { repair?: boolean } = {}): RunRecord[] {
  if (!fs.existsSync(file)) return [];
  const out = new Map<string, { record: RunRecord; line: string }>();
  const torn: number[] = [];
  const repeated: number[] = [];
  fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      // not JSON: handled below
    }
    if (!isRecord(record)) torn.push(i + 1);
    else if (out.has(record.id)) repeated.push(i + 1);
    else out.set(record.id, { record, line });
  });
  const lines = (n: number[], what: string, what2: string) => (n.length === 1 ? `line ${n[0]} ${what}` : `lines ${n.join(', ')} ${what2}`);
  const problems = [
    ...(torn.length ? [`${lines(torn, 'is not a whole record', 'are not whole records')} (an append cut short by a kill, or an edit?)`] : []),
    ...(repeated.length ? [`${lines(repeated, 'repeats the record of a run recorded above', 'repeat records of runs recorded above')} (the first is kept)`] : []),
  ];
  if (problems.length) {
    const then = o.repair ? 'removed; a run with no whole record is trained again' : 'skipped; resuming the experiment trains a run with no whole record again';
    process.emitWarning(`${file}: ${problems.join('; ')}: ${then}`, 'AllcnnJournalWarning');
    if (o.repair) writeFileAtomic(file, [...out.values()].map((r) => `${r.line}\n`).join(''));
  }
  return [...out.values()].map((r) => r.record);
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

/**
 * Appends a run's record as one whole line, or throws and leaves the file as
 * it was. A write to a full disk can be cut short without an error (write(2)
 * writes what fits and returns the count): a torn line was then left, the run
 * counted as recorded until the next read skipped it as a kill's.
 */
export function appendJournal(file: string, record: RunRecord): void {
  // Start on a fresh line if a previous append was torn.
  const exists = fs.existsSync(file);
  const size = exists ? fs.statSync(file).size : 0;
  const needsNewline = size > 0 && !fs.readFileSync(file, 'utf8').endsWith('\n');
  const line = Buffer.from(`${needsNewline ? '\n' : ''}${JSON.stringify(record)}\n`);
  let fd: number;
  try {
    fd = fs.openSync(file, 'a');
  } catch (err) {
    throw cannotWrite(file, err);
  }
  try {
    // Until the whole line is written: a short count is followed by the write that says why (ENOSPC).
    for (let done = 0; done < line.length;) done += fs.writeSync(fd, line, done, line.length - done);
    fs.fsyncSync(fd);
  } catch (err) {
    try {
      fs.ftruncateSync(fd, size); // no torn line left behind: it would read as a kill's, and the run as unrecorded
    } catch {
      // the file keeps the torn line, which the next read skips with a warning
    }
    throw cannotWrite(file, err);
  } finally {
    fs.closeSync(fd);
  }
  if (!exists) syncFolder(path.dirname(path.resolve(file))); // the new file's name, too
}
