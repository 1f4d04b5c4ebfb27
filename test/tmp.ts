/**
 * Temporary folders for a test file, removed when the file's tests end, so
 * that repeated `npm test` runs do not fill /tmp (a reproduce or CLI test
 * leaves tens of MB: checkpoints, ZCA matrices, extracted archives).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Returns a maker of fresh folders named allcnn-<prefix>-XXXXXX, all deleted in afterAll. */
export function tempDirs(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `allcnn-${prefix}-`));
    made.push(dir);
    return dir;
  };
}
