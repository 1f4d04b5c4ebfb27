/**
 * Output folders: made (like `mkdir -p`) or checked before a long run writes
 * into them, with an error that names the part of the path at fault.
 *
 * Not fs.mkdirSync(dir, {recursive: true}): under /proc, where mkdir gives
 * ENOENT though the parent exists, Node's recursive walk makes the parent
 * again (EEXIST) and retries the child forever, at 100% CPU (seen here with
 * Node 20; Bun's walk had the same loop: oven-sh/bun#40600); and below a
 * symbolic link to a disk that is not mounted it gives a bare ENOENT that
 * names neither. Here each folder is made once, with a plain mkdir, after a
 * walk up the path that names what is in the way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function cannotMake(dir: string, why: string): Error {
  return new Error(`cannot make the folder ${dir}: ${why}`);
}

/** stat (following links) or lstat of `d`; undefined when nothing is there, or a file stands above it (ENOTDIR). */
function statOf(dir: string, d: string, follow: boolean): fs.Stats | undefined {
  try {
    return follow ? fs.statSync(d) : fs.lstatSync(d);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw cannotMake(dir, `${d}: ${code ?? (err as Error).message}`);
  }
}

/**
 * The folders that making `dir` needs, outermost first, after checking that
 * the nearest one that exists is a folder this process may write in.
 */
function missingFolders(dir: string): string[] {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const stat = statOf(dir, d, true);
    if (stat) {
      if (!stat.isDirectory()) throw cannotMake(dir, `${d} is a file, not a folder`);
      if (missing.length > 0) {
        try {
          fs.accessSync(d, fs.constants.W_OK);
        } catch (err) {
          // The code goes with it: the command line says what to do about a read-only disk.
          const code = (err as NodeJS.ErrnoException).code;
          throw Object.assign(cannotMake(dir, code === 'EROFS' ? `${d} is on a read-only file system` : `${d} is not writable`), { code });
        }
      }
      return missing;
    }
    if (statOf(dir, d, false)?.isSymbolicLink()) throw cannotMake(dir, `${d} is a symbolic link to ${fs.readlinkSync(d)}, which does not exist`);
    missing.unshift(d); // the root always exists, so the walk ends
  }
}

/**
 * Throws the error makeFolder(dir) would give, and, when `dir` exists, if
 * this process may not write in it. Leaves nothing behind: where folders are
 * missing, the outermost is made and removed again, since only mkdir can tell
 * (under /proc, or a read-only bind mount, the parent looks writable to root).
 */
export function checkFolder(dir: string): void {
  const missing = missingFolders(dir);
  if (missing.length > 0) {
    try {
      fs.mkdirSync(missing[0]);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST') return; // made meanwhile by another process
      throw cannotMake(dir, `mkdir ${missing[0]} failed (${e.code === 'EROFS' ? 'a read-only file system' : e.code ?? e.message})`);
    }
    try {
      fs.rmdirSync(missing[0]);
    } catch {
      // another process wrote in it meanwhile (two runs sharing a results folder): it stays, as it should
    }
    return;
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw Object.assign(new Error(`cannot write in the folder ${path.resolve(dir)}: ${code === 'EROFS' ? 'a read-only file system' : 'it is not writable'}`), { code });
  }
}

/** Makes `dir` and the folders above it that are missing; nothing when it exists. */
export function makeFolder(dir: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      for (const d of missingFolders(dir)) mkdirOnce(dir, d, attempt === 0);
      return;
    } catch (err) {
      // A parent removed meanwhile (another process's checkFolder probe): walk the path again, once.
      if (!(err instanceof Vanished)) throw err;
    }
  }
}

class Vanished extends Error {}

function mkdirOnce(dir: string, d: string, retry: boolean): void {
  try {
    fs.mkdirSync(d);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Made meanwhile by another process (two runs sharing a results folder): fine.
    if (e.code === 'EEXIST' && statOf(dir, d, true)?.isDirectory()) return;
    if (e.code === 'ENOENT' && retry && statOf(dir, path.dirname(d), true) === undefined) throw new Vanished();
    throw cannotMake(dir, `mkdir ${d} failed (${e.code ?? e.message})`);
  }
}

/**
 * The size of a data archive, which tells a moved copy from other data
 * (experiment.json and checkpoints record it); null for a folder (the one
 * holding extracted files may hold much else), a path that is gone, or none.
 */
export function archiveBytes(file: string | null | undefined): number | null {
  try {
    const stat = file ? fs.statSync(file) : null;
    return stat?.isFile() ? stat.size : null;
  } catch {
    return null;
  }
}

/** When this process started, to tell its own temporaries from those of a dead one that had its pid. */
const STARTED_MS = Date.now() - process.uptime() * 1000;

/**
 * Removes the temporary files that earlier writes of `file` left beside it
 * when their process was killed mid-write (`pidOf` reads the writer's pid
 * from a file name, null for other files). Those of a live process (another
 * run writing the same ZCA cache file, say) are left alone, but for this
 * process's pid when the file predates it: a run restarted in a container
 * often gets the pid of the one that was killed.
 */
export function removeStaleTemporaries(file: string, pidOf: (name: string) => number | null): void {
  const dir = path.dirname(path.resolve(file));
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return; // the folder is gone or unreadable: nothing to tidy
  }
  for (const name of names) {
    const pid = pidOf(name);
    if (pid === null || !Number.isInteger(pid)) continue;
    const at = path.join(dir, name);
    try {
      if (pid === process.pid ? fs.statSync(at).mtimeMs < STARTED_MS : !isAlive(pid)) fs.rmSync(at, { force: true });
    } catch {
      // gone meanwhile, or not ours to remove: the write itself succeeded
    }
  }
}

/** Whether process `pid` exists on this machine (another user's included). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, but another user's
  }
}

/**
 * Puts a rename into `dir` (or a file made there) on the disk. fsync of a
 * file writes its data, but the name that points at it is the folder's data
 * (fsync(2)): without this a power cut after an atomic write can bring back
 * the old file, or none. Best effort: where a folder cannot be opened or
 * synced (Windows, some network file systems) the write stands as it is.
 */
export function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // EISDIR, EPERM or EINVAL where folders cannot be synced: the rename is done, only not yet durable
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
