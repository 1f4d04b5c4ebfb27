/**
 * A results folder's lock. Two processes resuming one experiment would train
 * the same runs side by side, each appending its own record of them to
 * runs.jsonl, and take twice the GPU time. The first to claim the folder
 * creates `<out>/.lock` (exclusively), holding its process id; a second is
 * refused with who holds it, before it reads any data.
 *
 * A lock outlives a process killed with SIGKILL (or a machine that went
 * away), and an interrupted experiment must resume with the same command, so
 * a lock is taken over when its holder is gone: on this machine when that
 * process no longer runs (or its id now names another process: the
 * process's start time is recorded too), or the machine was rebooted since.
 * A lock written on another host cannot be checked from here (a folder
 * copied from a GPU host, or shared over the network): it is taken over with
 * a warning that says so.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TEMP_SUFFIX } from '../report/atomic';

const LOCK_FILE = '.lock';

interface Holder {
  pid: number;
  host: string;
  /** Linux: the boot's id and the process's start time (clock ticks since boot), which tell a reused process id from its first owner. */
  bootId: string | null;
  processStart: string | null;
  startedAt: string;
}

/** The folders this process holds: its own id is in their lock, so only this tells a second call in one process from a stale lock. */
const held = new Set<string>();

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat, the process's start time; null off Linux, or when there is no such process. */
function processStart(pid: number): string | null {
  const stat = readOrNull(`/proc/${pid}/stat`);
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null : null;
}

function bootId(): string | null {
  return readOrNull('/proc/sys/kernel/random/boot_id')?.trim() ?? null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // running, as another user
  }
}

/** Whether the process that wrote `h` on this host still runs; false when it is gone. */
function stillRuns(dir: string, h: Holder): boolean {
  if (h.pid === process.pid) return held.has(dir);
  const boot = bootId();
  if (h.bootId && boot && h.bootId !== boot) return false;
  if (!alive(h.pid)) return false;
  const start = processStart(h.pid);
  return !(h.processStart && start && h.processStart !== start);
}

function lockError(dir: string, file: string, h: Holder): Error {
  const who = h.pid === process.pid ? 'another call in this process' : `process ${h.pid}`;
  return new Error(`${dir} is in use: ${who} has been running an experiment in it since ${h.startedAt} (${file}). ` +
    'Wait for it to finish, or stop it first; two processes in one folder would train the same runs twice. ' +
    'Results of other options go in another --out (--name)');
}

/** The lock's holder when the file holds one; null when there is no lock, or it is not one (a torn write: nobody to wait for). */
function readHolder(file: string): Holder | null {
  const text = readOrNull(file);
  if (text === null) return null;
  try {
    const h = JSON.parse(text) as Holder;
    return Number.isInteger(h?.pid) && typeof h.host === 'string' ? h : null;
  } catch {
    return null;
  }
}

/**
 * Creates `file` holding `text` unless it exists (then false): one process
 * wins. Linked from a whole temporary file, so that a reader never finds the
 * lock empty and takes it for a torn one; where the file system has no hard
 * links, created exclusively instead.
 */
function create(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}${TEMP_SUFFIX}`;
  fs.writeFileSync(tmp, text);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    try {
      fs.writeFileSync(file, text, { flag: 'wx' });
      return true;
    } catch (err2) {
      if ((err2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err2;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Throws when a running process holds `dir`'s lock. Takes nothing, so it
 * can run before the data are read (and before the folder exists).
 */
export function checkLock(dir: string): void {
  const file = path.join(dir, LOCK_FILE);
  const h = readHolder(file);
  if (h && h.host === os.hostname() && stillRuns(path.resolve(dir), h)) throw lockError(dir, file, h);
}

/**
 * Takes `dir`'s lock (the folder must exist) until release(); throws when a
 * running process holds it. A stale lock is taken over (see above).
 */
export function lockFolder(dir: string): { release(): void } {
  const key = path.resolve(dir);
  const file = path.join(dir, LOCK_FILE);
  const me: Holder = { pid: process.pid, host: os.hostname(), bootId: bootId(), processStart: processStart(process.pid), startedAt: new Date().toISOString() };
  const text = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; ; attempt++) {
    if (create(file, text)) break;
    const h = readHolder(file);
    if (h && h.host === os.hostname() && stillRuns(key, h)) throw lockError(dir, file, h);
    if (attempt > 0) throw new Error(`${dir} is in use: another process took ${file} as this one started; wait for it to finish, or stop it first`);
    if (h && h.host !== os.hostname()) {
      process.emitWarning(`${file} was left by process ${h.pid} on host ${h.host} (since ${h.startedAt}), which cannot be checked from here: taken over. If that process still runs, stop one of the two`, 'AllcnnLockWarning');
    }
    fs.rmSync(file, { force: true });
  }
  held.add(key);
  return {
    release() {
      held.delete(key);
      // Only our own: a lock removed by hand and taken by another process stays.
      if (readOrNull(file) === text) fs.rmSync(file, { force: true });
    },
  };
}
