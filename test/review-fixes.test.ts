/**
 * Fixes from a code review: each test failed before its fix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { liveTensors } from '../lib/backend';
import { PRESETS, ReproduceOptions } from '../lib/experiments/presets';
import { reproduce } from '../lib/experiments/runner';
import { tempDirs } from './tmp';

const tmp = tempDirs('review');
process.env.ALLCNN_DATA = tmp();

const TINY: ReproduceOptions = {
  ...PRESETS.smoke, models: ['strided-cnn-a'], lrs: [0.1], epochs: 1, probeEpochs: 1, limit: 32, batchSize: 32,
  extras: [], device: 'cpu', prep: 'std',
};

test('reproduce frees its data set when the journal cannot be read (it leaked the 6 tensors of the splits)', async () => {
  const out = tmp();
  fs.mkdirSync(path.join(out, 'runs.jsonl')); // a folder where the journal should be: reading it fails
  const before = liveTensors();
  await expect(reproduce('tiny', TINY, { out })).rejects.toThrow(/EISDIR/);
  expect(liveTensors()).toBe(before);
});
