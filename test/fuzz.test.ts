/**
 * A short run of scripts/fuzz-addon.js (npm run fuzz runs it for minutes):
 * thousands of random calls to every export, in child processes that must
 * end normally. The cases it found live on in bad-input.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDirs } from './tmp';

const FUZZ = path.resolve(__dirname, '../../scripts/fuzz-addon.js');
const tmp = tempDirs('fuzz');

test.each([1, 2, 3])('2,000 random calls to the addon (seed %i) leave the process alive', (seed) => {
  const log = path.join(tmp(), 'calls.log');
  const r = spawnSync(process.execPath, [FUZZ, '--child', String(seed), '2000', log], { encoding: 'utf8', timeout: 120000 });
  const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
  // On failure, the last calls say what to replay.
  expect({ status: r.status, signal: r.signal, last: r.status === 0 ? [] : calls.slice(-5), stderr: r.status === 0 ? '' : r.stderr.slice(-2000) })
    .toEqual({ status: 0, signal: null, last: [], stderr: '' });
  expect(calls.length).toBeGreaterThan(1500); // most calls are made (a few are skipped when their arguments cannot be built)
});
