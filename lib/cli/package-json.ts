/** allcnn's own package.json, for `--version` and doctor's Node.js check. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The fields read from it; {} when it cannot be read (dist/lib/cli is three folders below it, in the repository and in the bundle). */
export function packageJson(): { version?: string; engines?: { node?: string } } {
  try {
    return JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
  } catch {
    return {};
  }
}
