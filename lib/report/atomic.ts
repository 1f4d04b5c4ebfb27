/**
 * Atomic file writes: the data goes to a temporary file beside the target,
 * then one rename replaces the target, so a reader (or a crash) never sees a
 * half-written REPORT.md or figure.
 */
import { randomBytes } from 'crypto';
import { renameSync, rmSync, writeFileSync } from 'fs';

/** The temporary name used while writing `file`; tests look for this suffix. */
export const TEMP_SUFFIX = '.tmp';

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  // Same folder as the target: rename is atomic only within one file system.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    // Name the file asked for, not the temporary one (under /proc, say, the open fails with ENOENT).
    const err = e as NodeJS.ErrnoException;
    throw Object.assign(new Error(`cannot write ${file}: ${err.code ?? err.message}`, { cause: e }), { code: err.code });
  }
}
