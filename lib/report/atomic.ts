/**
 * Atomic file writes: the data goes to a temporary file beside the target,
 * then one rename replaces the target, so a reader (or a crash) never sees a
 * half-written REPORT.md or figure.
 */
import { randomBytes } from 'crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'fs';
import { basename, dirname } from 'path';
import { removeStaleTemporaries, syncFolder } from '../io/folder';

/** The temporary name used while writing `file`; tests look for this suffix. */
export const TEMP_SUFFIX = '.tmp';

/** What the common error codes mean, in words (the code itself is kept on the error). */
const REASONS: Record<string, string> = {
  EACCES: 'permission denied (the folder is not writable)',
  EPERM: 'operation not permitted',
  EROFS: 'a read-only file system',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  ENOENT: 'no such file or folder',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of its path is a file, not a folder',
};

/** Why a file could not be written, in words ('the disk is full'); the code where it has none here, or the message. */
export function reasonOf(err: NodeJS.ErrnoException): string {
  return REASONS[err.code ?? ''] ?? err.code ?? err.message;
}

/** The error of a failed write of `file`: it names the file asked for, says why in words, and keeps the code (the CLI says what to do by it). */
export function cannotWrite(file: string, cause: unknown): Error {
  const code = (cause as NodeJS.ErrnoException).code;
  return Object.assign(new Error(`cannot write ${file}: ${reasonOf(cause as NodeJS.ErrnoException)}`, { cause }), { code });
}

/** Writes `data` (a string, bytes, or bytes in pieces, which are not copied into one buffer first) to `file`, atomically and durably. */
export function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  // Same folder as the target: rename is atomic only within one file system.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
  // Before this write, not only after it: on a nearly full disk a killed write's leftover (a whole checkpoint's
  // size) made this one fail with ENOSPC, every time, and only a write that succeeded removed it.
  removeKilledWrites(file);
  try {
    // On the disk before the rename: after a power cut the rename may be there, and the data must be too.
    const fd = openSync(tmp, 'w');
    try {
      for (const piece of Array.isArray(data) ? data : [data]) writeFileSync(fd, piece);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    // Name the file asked for, not the temporary one (under /proc, say, the open fails with ENOENT).
    throw cannotWrite(file, e);
  }
  syncFolder(dirname(file)); // the rename itself, for the same power cut
}

/**
 * Removes the temporary files (`<name>.<pid>.<hex>.tmp`) that writes of
 * `file` killed between their two steps left: the next write of the file
 * does it, before it writes (they may be what fills the disk). Also `<name>.tmp-<pid>-<ms>`, the temporary files of
 * saveSafetensors before it wrote through writeFileAtomic (2026-12-02): a
 * killed checkpoint write left one the checkpoint's size.
 */
export function removeKilledWrites(file: string): void {
  removeStaleTemporaries(file, (name) => {
    const rest = name.startsWith(`${basename(file)}.`) ? name.slice(basename(file).length) : '';
    const m = /^\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(rest) ?? /^\.tmp-(\d+)-\d+$/.exec(rest);
    return m ? Number(m[1]) : null;
  });
}
