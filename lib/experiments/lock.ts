/**
 * A results folder's lock. Two processes resuming one experiment would train
 * the same runs side by side, each appending its own record of them to
 * runs.jsonl, and take twice the GPU time. The first to take the folder
 * creates `<out>/.lock` (exclusively), holding its process id; a second is
 * refused with who holds it.
 *
 * A lock outlives a process killed with SIGKILL (or a machine that went
 * away), and an interrupted experiment must resume with the same command, so
 * a lock is taken over when its holder is gone. On this machine (same host
 * name, same process-id namespace) that is known: the process no longer
 * runs, its id now names another process (the start time is recorded too),
 * or the machine was rebooted since. Elsewhere (a folder shared over the
 * network, or copied from a GPU host, or another container) it cannot be
 * checked, so the holder keeps the file's time fresh while it runs: such a
 * lock is refused while it was touched within STALE_MS, and taken over, with
 * a warning, once it was not.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkFolder, isAlive, makeFolder } from '../io/folder';
import { cannotWrite, removeKilledWrites, TEMP_SUFFIX } from '../report/atomic';

const LOCK_FILE = '.lock';
/** How often a holder touches its lock, and how long one from elsewhere stays valid untouched. */
const TOUCH_MS = 60_000;
export const STALE_MS = 5 * TOUCH_MS;

interface Holder {
  pid: number;
  host: string;
  /** Linux: the process-id namespace, the boot's id and the process's start time (clock ticks since boot), which tell a reused process id from its first owner. */
  pidNamespace: string | null;
  bootId: string | null;
  processStart: string | null;
  startedAt: string;
}

/** The folders this process holds, by real path: its own id is in their lock, so only this tells a second call in one process from a stale lock. */
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

function pidNamespace(): string | null {
  try {
    return fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

function bootId(): string | null {
  return readOrNull('/proc/sys/kernel/random/boot_id')?.trim() ?? null;
}

function me(): Holder {
  return { pid: process.pid, host: os.hostname(), pidNamespace: pidNamespace(), bootId: bootId(), processStart: processStart(process.pid), startedAt: new Date().toISOString() };
}

/** Whether a process id written in `h` means a process here: the same host and, where both are known, the same process-id namespace. */
function local(h: Holder): boolean {
  const ns = pidNamespace();
  return h.host === os.hostname() && !(h.pidNamespace && ns && h.pidNamespace !== ns);
}

/** Whether the process that wrote `h` (on this machine) still runs. */
function stillRuns(key: string, h: Holder): boolean {
  if (h.pid === process.pid) return held.has(key);
  const boot = bootId();
  if (h.bootId && boot && h.bootId !== boot) return false;
  if (!isAlive(h.pid)) return false;
  const start = processStart(h.pid);
  return !(h.processStart && start && h.processStart !== start);
}

/** Milliseconds since `file` was last touched (Infinity when it is gone). */
function age(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return Infinity;
  }
}

/** Who holds the lock in `file` now; null when its holder is gone. */
function heldBy(key: string, file: string, h: Holder): string | null {
  if (local(h)) return stillRuns(key, h) ? (h.pid === process.pid ? 'another call in this process' : `process ${h.pid}`) : null;
  const ms = age(file);
  return ms < STALE_MS ? `process ${h.pid} on ${h.host} (its lock, which cannot be checked from here, was touched ${Math.round(ms / 1000)} s ago)` : null;
}

/** The holder the lock text `text` of `file` names (null: none, or a torn one); throws when that holder still holds it. */
function refuseIfHeld(dir: string, key: string, file: string, text: string | null, inUse?: (holder: string) => string): Holder | null {
  const h = readHolder(text);
  const who = h && heldBy(key, file, h);
  if (h && who && inUse) throw new Error(inUse(who));
  if (h && who) {
    throw new Error(`${dir} is in use: ${who} has been training in it since ${h.startedAt} (${file}). ` +
      'Wait for it to finish, or stop it first; two processes in one folder would train the same runs twice, and write over each other\'s checkpoints and results. ' +
      `If no process uses it any more, delete ${file}. Results of other options go in another --out`);
  }
  return h;
}

/** The lock's holder when the file holds one; null when there is no lock, or it is not one (a torn write: nobody to wait for). */
function readHolder(text: string | null): Holder | null {
  if (text === null) return null;
  try {
    const h = JSON.parse(text) as Holder;
    return Number.isSafeInteger(h?.pid) && h.pid > 0 && typeof h.host === 'string' ? h : null;
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
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
  try {
    try {
      fs.writeFileSync(tmp, text);
    } catch (err) {
      // The folder just made, removed by another process's checkLock probe (it makes and removes a missing folder): made again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      makeFolder(path.dirname(file));
      fs.writeFileSync(tmp, text);
    }
  } catch (err) {
    // A full disk: the temporary file, made but not written, is not left behind; the error names the lock, not it.
    fs.rmSync(tmp, { force: true });
    throw cannotWrite(file, err);
  }
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    try {
      fs.writeFileSync(file, text, { flag: 'wx' });
      return true;
    } catch (err2) {
      if ((err2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err2;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
    removeKilledWrites(file); // a process killed right here, before, left its temporary file
  }
}

/**
 * Replaces the stale lock `judged` (its text, or null: none) with `text`,
 * unless the file changed since it was judged: two processes that found one
 * dead holder must not both take over (the second would remove the first's
 * new lock). A guard file makes the check and the swap one step; a guard left
 * by a process killed within it is ignored after a few seconds.
 */
function takeOver(file: string, judged: string | null, text: string): boolean {
  const guard = `${file}.takeover`;
  if (!create(guard, text)) {
    if (age(guard) > 10_000) fs.rmSync(guard, { force: true });
    return false;
  }
  try {
    if (readOrNull(file) !== judged) return false;
    fs.rmSync(file, { force: true });
    return create(file, text);
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

/** The folder's real path (a link and its target are one folder), where it exists. */
function keyOf(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/** Removes the folder `dir` unless anything was written in it. */
function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir); // fails, as it should, when anything was written in it
  } catch {
    // not empty: kept
  }
}

/**
 * Throws when a running process holds `dir`'s lock. Takes nothing, so it
 * can run before the data are read (and before the folder exists).
 */
export function checkLock(dir: string): void {
  checkFolder(dir); // a read-only folder is said so plainly, not as the lock's EROFS
  const key = keyOf(dir);
  const file = path.join(key, LOCK_FILE);
  refuseIfHeld(dir, key, file, readOrNull(file));
}

/**
 * Takes `dir`'s lock until release(), making the folder if it is missing;
 * throws when a running process holds it. A stale lock is taken over (see
 * above). release() removes the lock, and the folder too if this call made
 * it and nothing was written in it (a run refused before it began).
 * `inUse` words the refusal for a caller that does not train (`allcnn report`).
 */
export function lockFolder(dir: string, o: { inUse?: (holder: string) => string } = {}): { release(): void } {
  const made = !fs.existsSync(dir);
  makeFolder(dir);
  checkFolder(dir); // the folder is there now: only whether it can be written (no mkdir probe another process could see)
  const key = keyOf(dir);
  const file = path.join(key, LOCK_FILE);
  const mine = `${JSON.stringify(me())}\n`;
  try {
    for (let attempt = 0; !create(file, mine); attempt++) {
      const text = readOrNull(file);
      const h = refuseIfHeld(dir, key, file, text, o.inUse);
      if (attempt >= 5) throw new Error(`${dir} is in use: other processes are taking ${file} at the same moment; wait for them to finish, or stop them first`);
      if (takeOver(file, text, mine)) {
        if (h && !local(h)) {
          process.emitWarning(`${file} was left by process ${h.pid} on host ${h.host} (since ${h.startedAt}), which cannot be checked from here and was not touched for ${Math.round(STALE_MS / 60_000)} minutes: taken over. If that process still runs, stop one of the two`, 'AllcnnLockWarning');
        }
        break;
      }
    }
  } catch (err) {
    // Refused, or the lock could not be written (a full disk): the folder this call made is not left behind.
    if (made) removeIfEmpty(key);
    throw err;
  }
  held.add(key);
  // Fresh for processes that cannot check this one's id (see above); unref'd: it keeps nothing alive.
  let lost = false;
  const touch = setInterval(() => {
    try {
      const now = readOrNull(file);
      if (now === mine) fs.utimesSync(file, new Date(), new Date());
      else if (!lost) {
        // Removed (by hand, or with its folder) or taken over: another process may train here now. Said once; taken again where free.
        lost = true;
        const again = now === null && create(file, mine);
        process.emitWarning(
          `${file} was ${now === null ? 'removed' : 'taken by another process'} while this one held it${again ? ' (taken again)' : ''}: ` +
            `if ${dir} was deleted, what this run writes from now on lacks what was in it, and a second process may have started there meanwhile`,
          'AllcnnLockWarning',
        );
      }
    } catch {
      // a timer's throw would end the process mid-training
    }
  }, TOUCH_MS);
  touch.unref();
  return {
    release() {
      clearInterval(touch);
      held.delete(key);
      // Only our own: a lock removed by hand and taken by another process stays.
      try {
        if (readOrNull(file) === mine) fs.rmSync(file, { force: true });
      } catch {
        // The folder turned read-only (or vanished): the run's own error says so, and the next run takes over the stale lock.
      }
      if (made) removeIfEmpty(key);
    },
  };
}
