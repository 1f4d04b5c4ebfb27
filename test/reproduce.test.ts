/**
 * The experiment runner: resumable after a crash mid-run and mid-grid (the
 * same results as an uninterrupted run), learning-rate selection, reports
 * from the recorded runs, and options that do not match the folder.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { liveTensors } from '../lib/backend';
import { BUNDLED_SAMPLE } from '../lib/data/dataset';
import { PRESETS, ReproduceOptions } from '../lib/experiments/presets';
import { checkClaim, claimFolder, readJournal } from '../lib/experiments/journal';
import { bestRun, buildSummary } from '../lib/experiments/summary';
import { ExperimentEvent, reproduce } from '../lib/experiments/runner';
import { experimentName, reportFolder } from '../lib/experiments/report-folder';
import type { RunRecord, Summary } from '../lib/experiments/types';
import { loadSafetensors, saveSafetensors } from '../lib/io/safetensors';
import { evaluateCheckpoint } from '../lib/train/evaluate-checkpoint';
import { tempDirs } from './tmp';

const BIN = path.resolve(__dirname, '../../bin/allcnn.js');
const tmp = tempDirs('reproduce');
process.env.ALLCNN_DATA = tmp();

// Two fast networks, two learning rates, 2 epochs on 64 images of the bundled sample.
const TINY: ReproduceOptions = {
  ...PRESETS.smoke, models: ['strided-cnn-a', 'strided-cnn-b'], lrs: [0.1, 0.01], epochs: 2, probeEpochs: 1, limit: 64, batchSize: 32,
  extras: [], device: 'cpu', prep: 'std',
};

const rowsOf = (s: Summary) => s.rows.map((r) => ({ label: r.label, lr: r.lr, val: r.validationAccuracy, test: r.testAccuracy, selected: r.selected }));

let reference: Summary;
const referenceOut = tmp();
beforeAll(async () => {
  reference = (await reproduce('tiny', TINY, { out: referenceOut })).summary;
});

test('every network gets a row; the chosen learning rate has the best validation accuracy', () => {
  expect(reference.rows.map((r) => r.label)).toEqual(['Strided-CNN-A', 'Strided-CNN-B']);
  for (const row of reference.rows) {
    expect(row.tried.map((t) => t.lr).sort()).toEqual([0.01, 0.1]);
    const best = Math.max(...row.tried.filter((t) => !t.stalled).map((t) => t.validationAccuracy));
    expect(row.tried.find((t) => t.lr === row.lr)!.validationAccuracy).toBe(best);
    expect(row.epochs).toBe(2);
  }
});

test('a crash in the middle of a run, then the same command, gives the same results', async () => {
  const out = tmp();
  const controller = new AbortController();
  let steps = 0;
  await expect(
    reproduce('tiny', TINY, { out }, {
      signal: controller.signal,
      // Four 1-epoch probes take steps 1-8; kill the first continuation in its second epoch (step 9),
      // so four runs are finished and one continues from its checkpoint.
      onEvent: (e) => e.type === 'run-progress' && e.progress.type === 'step' && ++steps === 9 && controller.abort(),
    }),
  ).rejects.toThrow(/training aborted in epoch \d+; /); // the running run's abort, not a queued one's
  const before = readJournal(path.join(out, 'runs.jsonl'));
  expect(before.length).toBeGreaterThanOrEqual(1);
  const cached: string[] = [];
  const again = await reproduce('tiny', TINY, { out }, { onEvent: (e) => e.type === 'run-end' && e.cached && cached.push(e.record.id) });
  expect(cached.sort()).toEqual(before.map((r) => r.id).sort()); // finished runs are never redone
  expect(rowsOf(again.summary)).toEqual(rowsOf(reference));
});

test('a run that fails (a full disk) stops the experiment: no other run starts after it, and its error is the one thrown', async () => {
  const out = tmp();
  const nodeFs = require('node:fs') as typeof fs;
  const realRename = nodeFs.renameSync;
  const events: string[] = [];
  // Strided-CNN-B's checkpoints find the disk full; Strided-CNN-A's were written before.
  const rename = jest.spyOn(nodeFs, 'renameSync').mockImplementation((from: fs.PathLike, to: fs.PathLike) => {
    if (!String(to).includes('strided-cnn-b')) return realRename(from, to);
    events.push('disk full');
    throw Object.assign(new Error('ENOSPC: no space left on device, rename'), { code: 'ENOSPC' });
  });
  try {
    await expect(reproduce('tiny', { ...TINY, concurrency: 2 }, { out }, {
      onEvent: (e) => e.type === 'run-start' && events.push(`start ${e.task.id}/${e.task.phase}`),
    })).rejects.toThrow(/strided-cnn-b_lr=0\.\d+_seed=0\.safetensors: cannot write/); // not an abort of a run in flight
  } finally {
    rename.mockRestore();
  }
  // Before, every queued run started, and trained until its own checkpoint failed, before the error came.
  const failedAt = events.indexOf('disk full');
  expect(failedAt).toBeGreaterThan(0);
  expect(events.slice(failedAt).filter((e) => e.startsWith('start'))).toEqual([]);
  const again = await reproduce('tiny', TINY, { out }); // the space freed, the same command goes on
  expect(rowsOf(again.summary)).toEqual(rowsOf(reference));
});

test("a run stopped part-way counts the time of the epochs trained before the stop, not only the resumed invocation's", async () => {
  const out = tmp();
  const o: ReproduceOptions = { ...TINY, models: ['strided-cnn-a'], lrs: [0.1], lrSelection: 'full', probeEpochs: 0, epochs: 3 };
  const controller = new AbortController();
  let steps = 0;
  // 64 images in batches of 32: two steps an epoch; stop in the third epoch, two of them in the checkpoint.
  const stop = { signal: controller.signal, onEvent: (e: ExperimentEvent) => e.type === 'run-progress' && e.progress.type === 'step' && ++steps === 5 && controller.abort() };
  await expect(reproduce('tiny', o, { out }, stop)).rejects.toThrow(/training aborted in epoch 3/);
  const journal = path.join(out, 'runs.jsonl');
  expect(readJournal(journal)).toEqual([]);
  // The two epochs in the checkpoint made to have taken 1,000 s each: the resumed run's time holds them.
  const [checkpoint] = fs.readdirSync(path.join(out, 'checkpoints')).map((f) => path.join(out, 'checkpoints', f));
  const { tensors, metadata } = loadSafetensors(checkpoint);
  try {
    saveSafetensors(checkpoint, tensors, { ...metadata, history: JSON.stringify(JSON.parse(metadata.history).map((e: object) => ({ ...e, seconds: 1000 }))) });
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  await reproduce('tiny', o, { out });
  const [record] = readJournal(journal);
  expect(record.history.map((e) => e.seconds >= 1000)).toEqual([true, true, false]);
  expect(record.seconds).toBeGreaterThan(2000);
  expect(record.seconds).toBeLessThan(2000 + 600);
});

test('a crash between runs (mid-grid), then the same command, gives the same results', async () => {
  const out = tmp();
  const controller = new AbortController();
  let startedAfterAbort = 0;
  await expect(
    reproduce('tiny', TINY, { out }, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'run-start' && controller.signal.aborted) startedAfterAbort++;
        if (e.type === 'run-end') controller.abort();
      },
    }),
  ).rejects.toThrow('training aborted before it started'); // between runs: none was in progress
  expect(startedAfterAbort).toBe(0); // the queued runs do not start
  const again = await reproduce('tiny', TINY, { out });
  expect(rowsOf(again.summary)).toEqual(rowsOf(reference));
  // The report's numbers are the recorded ones.
  const report = fs.readFileSync(again.report, 'utf8');
  for (const r of again.summary.rows) expect(report).toContain(`| ${r.label} |`);
  expect(report).toContain((100 * again.summary.rows[0].testAccuracy).toFixed(2));
  // What the rows were trained and scored on.
  expect(report).toContain('- Data: the bundled 600-image CIFAR-10 sample (500 training and 100 test images: a check of the pipeline, not CIFAR-10); ' +
    'at most 64 training images (--limit), 50 validation and 100 test images (the preset\'s test limit, 1000: the data hold no more)'); // TINY's limit, smoke's test limit
  expect(report).toContain("- Preparation: per-channel standardisation, not the paper's GCN + ZCA; no augmentation");
  // The probe each row continued is marked selected: one per network, at its chosen rate.
  const tried = report.split('\n').filter((l) => /^\| Strided-CNN-[AB] \| [\d.]+ \| \d+ \|/.test(l));
  expect(tried).toHaveLength(4);
  for (const r of again.summary.rows) {
    expect(tried.filter((l) => l.startsWith(`| ${r.label} | ${r.lr} |`) && l.includes('| yes | `'))).toHaveLength(1);
    expect(tried.filter((l) => l.startsWith(`| ${r.label} |`) && l.includes('| yes | `'))).toHaveLength(1);
  }
  // Its time is the last invocation's, and it says so.
  expect(again.summary.reusedRuns).toBe(1);
  expect(report).toMatch(/- Total time: .* for the last invocation that trained, which reused 1 run finished earlier; all runs trained for .* in all/);
  expect(reference.reusedRuns).toBe(0);
  expect(fs.existsSync(path.join(out, 'figures', 'summary.png'))).toBe(true);
});

test('a torn last line in runs.jsonl (a kill mid-append) is skipped with a warning and the run redone', async () => {
  const out = tmp();
  await reproduce('tiny', { ...TINY, models: ['strided-cnn-a'] }, { out });
  const journal = path.join(out, 'runs.jsonl');
  const lines = fs.readFileSync(journal, 'utf8').trim().split('\n');
  fs.writeFileSync(journal, `${lines.slice(0, -1).join('\n')}\n${lines[lines.length - 1].slice(0, 50)}`);
  const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  let again: Awaited<ReturnType<typeof reproduce>> | undefined;
  try {
    again = await reproduce('tiny', { ...TINY, models: ['strided-cnn-a'] }, { out });
    const journalWarnings = () => warn.mock.calls.filter((c) => (c[1] as unknown) === 'AllcnnJournalWarning').map((c) => c[0]);
    expect(journalWarnings()).toEqual([`${journal}: line ${lines.length} is not a whole record (an append cut short by a kill, or an edit?): removed; a run with no whole record is trained again`]);
    warn.mockClear();
    expect(readJournal(journal)).toHaveLength(lines.length);
    expect(journalWarnings()).toEqual([]); // the torn line is gone: later reads are clean
  } finally {
    warn.mockRestore();
  }
  expect(rowsOf(again!.summary)).toEqual(rowsOf(reference).filter((r) => r.label === 'Strided-CNN-A'));
});

test('a rerun that trains nothing keeps the time of the invocation that trained; one that only records runs again from their checkpoints says the time is not known', async () => {
  const out = tmp();
  const o = { ...TINY, models: ['strided-cnn-a'] };
  const first = await reproduce('tiny', o, { out });
  expect(first.trainedRuns).toBe(3); // two probes, one full run
  const again = await reproduce('tiny', o, { out });
  expect(again.trainedRuns).toBe(0);
  const timing = (s: Summary) => [s.totalSeconds, s.aggregateImagesPerSecond, s.reusedRuns];
  expect(timing(again.summary)).toEqual(timing(first.summary));
  // The full run's record lost: it is recorded again from its finished checkpoint, and nothing trains.
  // Its few seconds are not the experiment's, and the summary.json there no longer covers the runs.
  const journal = path.join(out, 'runs.jsonl');
  const lines = fs.readFileSync(journal, 'utf8').trim().split('\n');
  fs.writeFileSync(journal, `${lines.filter((l) => (JSON.parse(l) as RunRecord).phase !== 'full').join('\n')}\n`);
  const rerecorded = await reproduce('tiny', o, { out });
  expect(rerecorded.trainedRuns).toBe(0);
  expect(timing(rerecorded.summary)).toEqual([NaN, NaN, 3]);
  expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).totalSeconds).toBeNull();
  expect(fs.readFileSync(rerecorded.report, 'utf8')).toContain("- Total time: not known (no finished invocation's summary.json covers these runs); the 3 recorded runs trained for");
  expect(rowsOf(rerecorded.summary)).toEqual(rowsOf(first.summary));
});

test("a probe whose record was lost after its full run went on is trained again, not read from the full run's checkpoint", async () => {
  const out = tmp();
  const o = { ...TINY, models: ['strided-cnn-a'] };
  await reproduce('tiny', o, { out });
  const journal = path.join(out, 'runs.jsonl');
  const lines = fs.readFileSync(journal, 'utf8').trim().split('\n');
  const records = lines.map((l) => JSON.parse(l) as RunRecord);
  const full = records.find((r) => r.phase === 'full')!;
  // The probe of the chosen rate shares its checkpoint with the full run, which trained on past the probe's epochs.
  const probe = records.find((r) => r.phase === 'probe' && r.lr === full.lr)!;
  expect([probe.history.length, full.history.length]).toEqual([TINY.probeEpochs, TINY.epochs]);
  fs.writeFileSync(journal, `${lines.filter((_, i) => records[i].id !== probe.id).join('\n')}\n`);
  await reproduce('tiny', o, { out });
  const again = readJournal(journal).find((r) => r.id === probe.id)!;
  expect(again.history.length).toBe(TINY.probeEpochs);
  expect([again.validation, again.test]).toEqual([probe.validation, probe.test]);
  // The full run's checkpoint is still the full run's, and the probe's own file is gone.
  expect(fs.readdirSync(path.join(out, 'checkpoints')).filter((f) => f.includes('.probe.'))).toEqual([]);
  expect(readJournal(journal).find((r) => r.id === full.id)).toEqual(full);
});

test('readJournal without repair (allcnn report) skips torn lines, lines that are not records and repeated records, says which, and leaves the file as it is', () => {
  const journal = path.join(tmp(), 'runs.jsonl');
  const whole = (id: string, accuracy = 0.5) => JSON.stringify({
    id, group: 'table3', label: 'A', model: 'A', lr: 0.1, seed: 0, phase: 'full', epochs: 1, stalled: false, parameters: 1,
    validation: { accuracy, loss: 1, count: 1 }, test: { accuracy, loss: null, count: 1 }, history: [], config: {},
  });
  // Line 5 has an id but nothing a report reads (it used to fail as "Cannot read properties of undefined"); line 6 repeats a.
  const text = `${whole('a')}\n{"id":"b\nnull\n${whole('c')}\n{"id":"d"}\n${whole('a', 0.9)}\n`;
  fs.writeFileSync(journal, text);
  const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    expect(readJournal(journal).map((r) => [r.id, r.test.accuracy])).toEqual([['a', 0.5], ['c', 0.5]]);
    expect(warn).toHaveBeenCalledWith(
      `${journal}: lines 2, 3, 5 are not whole records (an append cut short by a kill, or an edit?); line 6 repeats the record of a run recorded above (the first is kept): skipped; resuming the experiment trains a run with no whole record again`,
      'AllcnnJournalWarning',
    );
    expect(fs.readFileSync(journal, 'utf8')).toBe(text);
    expect(readJournal(journal, { repair: true })).toHaveLength(2);
    expect(fs.readFileSync(journal, 'utf8')).toBe(`${whole('a')}\n${whole('c')}\n`);
  } finally {
    warn.mockRestore();
  }
});

test('an experiment resumes with another --concurrency: it changes how runs are scheduled, not what they compute', async () => {
  const out = tmp();
  const one = { ...TINY, models: ['strided-cnn-a'], lrs: [0.1] };
  const first = (await reproduce('tiny', one, { out })).summary;
  const cached: string[] = [];
  const again = (await reproduce('tiny', { ...one, concurrency: 2 }, { out }, { onEvent: (e) => e.type === 'run-end' && e.cached && cached.push(e.record.id) })).summary;
  expect(cached.length).toBeGreaterThan(0);
  expect(cached.length).toBe(readJournal(path.join(out, 'runs.jsonl')).length); // nothing redone
  // Nothing trained: the timing is still the one of the invocation that did (it was 0 images/s).
  expect([again.totalSeconds, again.aggregateImagesPerSecond]).toEqual([first.totalSeconds, first.aggregateImagesPerSecond]);
  expect(first.aggregateImagesPerSecond).toBeGreaterThan(0);
});

test('with --concurrency 2 every run computes what it computes one at a time: the same rows, bit for bit', async () => {
  const out = tmp();
  const { summary } = await reproduce('tiny', { ...TINY, concurrency: 2 }, { out });
  expect(rowsOf(summary)).toEqual(rowsOf(reference));
  // Every epoch's losses, not only the accuracies on 64 images: runs that drew each other's random numbers would differ here.
  const losses = (dir: string) => Object.fromEntries(readJournal(path.join(dir, 'runs.jsonl')).map((r) => [r.id, r.history.map((e) => [e.loss, e.valLoss])]));
  expect(losses(out)).toEqual(losses(referenceOut));
});

test('a folder made with other options is not mixed with new ones', async () => {
  const out = tmp();
  await reproduce('tiny', { ...TINY, models: ['strided-cnn-a'], lrs: [0.1] }, { out });
  await expect(reproduce('tiny', { ...TINY, models: ['strided-cnn-a'], lrs: [0.05] }, { out })).rejects.toThrow(
    `${out} holds an experiment made with other options (differs in: lrs; the folder's: lrs [0.1]); rerun with the same options to resume it, or pick another --name`,
  );
  // Without its experiment.json (deleted) the runs cannot be checked: claimed anew, 2-epoch runs would be reported as 3-epoch ones.
  fs.rmSync(path.join(out, 'experiment.json'));
  const journal = fs.readFileSync(path.join(out, 'runs.jsonl'), 'utf8');
  await expect(reproduce('tiny', { ...TINY, models: ['strided-cnn-a'], lrs: [0.1], epochs: 3 }, { out })).rejects.toThrow(
    `${out} holds runs (its runs.jsonl and checkpoints) but no experiment.json, which records the options and data they were made with: ` +
    "without it they cannot be checked against this command's. Restore experiment.json, or pick another --name (or --out) to start afresh",
  );
  expect([fs.existsSync(path.join(out, 'experiment.json')), fs.readFileSync(path.join(out, 'runs.jsonl'), 'utf8')]).toEqual([false, journal]);
});

test("a folder that holds a run of trainModel is not an experiment's: nothing is written in it", async () => {
  const out = tmp();
  fs.writeFileSync(path.join(out, 'result.json'), '{}');
  await expect(reproduce('tiny', TINY, { out })).rejects.toThrow(`${out} holds a run of \`allcnn train\` or \`allcnn transfer\` (its result.json), not an experiment of \`allcnn reproduce\``);
  expect(fs.readdirSync(out)).toEqual(['result.json']);
});

test('options from code are checked before anything is read or made: each mistake names its field', async () => {
  const out = path.join(tmp(), 'never');
  const cases: Array<[object, string]> = [
    [{ ...TINY, concurrency: 0 }, 'Expected an integer >= 1 for concurrency but received 0'], // a pool of 0 would wait for ever
    [{ ...TINY, lrs: [] }, 'Expected a non-empty list for lrs but received [] of type array'],
    [{ ...TINY, models: ['d'] }, 'for models but received "d" of type string'],
    [{ ...TINY, probeEpochs: 3 }, 'Expected an integer in [1, 2] for probeEpochs but received 3'],
    [{ ...TINY, extras: ['rotations'] }, 'Expected one of augment, ablations, cifar100 for extras but received "rotations"'],
    [{ ...TINY, devise: 'cpu' }, 'for options key but received "devise" of type string'],
    [{ ...PRESETS.smoke }, 'Expected a value (start from one of PRESETS) for options.device but received undefined'],
    // These were found at the first run, after experiment.json had locked the folder to them.
    [{ ...TINY, lrs: [150] }, 'Expected a number in [0, 100] for lrs but received 150'],
    [{ ...TINY, models: ['strided-cnn-a', 'strided-cnn-a'] }, 'Expected a list without repeats for models'], // the same run twice, into one journal
    [{ ...TINY, lrs: [0.1, 0.1] }, 'Expected a list without repeats for lrs'],
  ];
  for (const [o, message] of cases) await expect(reproduce('tiny', o as ReproduceOptions, { out })).rejects.toThrow(message);
  await expect(reproduce(undefined as never, TINY, { out })).rejects.toThrow("Expected the experiment's name (REPORT.md's title) for name but received undefined");
  await expect(reproduce('tiny', TINY, { out }, { onEvent: 5 } as never)).rejects.toThrow('Expected a function for hooks.onEvent but received 5');
  await expect(reproduce('tiny', TINY, { out }, { sigal: new AbortController().signal } as never)).rejects.toThrow('Expected one of onEvent, signal for hooks key but received "sigal"');
  await expect(reproduce('tiny', TINY, { out, dta: 'cifar.tar.gz' } as never)).rejects.toThrow('Expected one of out, data, data100 for where key but received "dta"');
  expect(fs.existsSync(out)).toBe(false);
});

test('bad data leave no folder behind, so the run with the right data records where they came from', async () => {
  const out = path.join(tmp(), 'tiny');
  const wrong = path.join(tmp(), 'not-cifar.tar.gz');
  fs.writeFileSync(wrong, 'not an archive');
  const o = { ...TINY, models: ['strided-cnn-a'], lrs: [0.1], epochs: 1, probeEpochs: 1 };
  await expect(reproduce('tiny', o, { out, data: wrong })).rejects.toThrow(`${wrong} is not a gzip-compressed tar archive`);
  expect(fs.existsSync(out)).toBe(false);
  await reproduce('tiny', o, { out });
  expect(JSON.parse(fs.readFileSync(path.join(out, 'experiment.json'), 'utf8')).data).toBe('bundled sample');

  // Data given as a path: REPORT.md names them, when written by the run and by `allcnn report` again.
  const copy = path.join(tmp(), 'cifar copy.tar.gz');
  fs.copyFileSync(BUNDLED_SAMPLE, copy);
  const named = path.join(tmp(), 'named');
  const { report } = await reproduce('tiny', o, { out: named, data: copy });
  expect(fs.readFileSync(report, 'utf8')).toContain(`- Data: \`${copy}\`; at most 64 training images (--limit)`);
  fs.rmSync(report);
  await reportFolder(named);
  expect(fs.readFileSync(report, 'utf8')).toContain(`- Data: \`${copy}\`; at most 64 training images (--limit)`);

  // Resumed on other data, the journal would mix two data sets. experiment.json records the digest of the images read:
  // the same images in another file resume (the sample's copy, a repacked archive), other images do not, even at the same size and path.
  expect(JSON.parse(fs.readFileSync(path.join(named, 'experiment.json'), 'utf8')).dataDigest).toEqual({ data: expect.stringMatching(/^[0-9a-f]{24}$/) });
  await reproduce('tiny', o, { out, data: copy });
  const tar = zlib.gunzipSync(fs.readFileSync(copy));
  const repacked = path.join(tmp(), 'repacked.tar.gz');
  // Stored (gzip level 0): an archive with one pixel changed is then of the very same size.
  fs.writeFileSync(repacked, zlib.gzipSync(tar, { level: 0 }));
  await reproduce('tiny', o, { out: named, data: repacked });
  tar[100000] ^= 0xff; // a pixel of data_batch_1.bin
  const other = path.join(tmp(), 'other.tar.gz');
  fs.writeFileSync(other, zlib.gzipSync(tar, { level: 0 }));
  expect(fs.statSync(other).size).toBe(fs.statSync(repacked).size);
  await expect(reproduce('tiny', o, { out: named, data: other })).rejects.toThrow(`${named} holds an experiment trained on other data (${other} holds other images than its data, ${copy}, did)`);
  fs.copyFileSync(other, copy);
  await expect(reproduce('tiny', o, { out: named, data: copy })).rejects.toThrow(`${named} holds an experiment trained on other data (${copy} holds other images than it did)`);
  // An experiment.json written before the digest was kept: the archive's size decides, before the data are read.
  const file = path.join(named, 'experiment.json');
  const { dataDigest, ...old } = JSON.parse(fs.readFileSync(file, 'utf8'));
  expect(dataDigest).toBeDefined();
  fs.writeFileSync(file, JSON.stringify(old));
  const padded = path.join(tmp(), 'padded.tar.gz');
  fs.writeFileSync(padded, Buffer.concat([fs.readFileSync(repacked), Buffer.alloc(10)]));
  await expect(reproduce('tiny', o, { out: named, data: padded })).rejects.toThrow(`${named} holds an experiment trained on other data (its data was ${copy}, ${old.dataBytes.data} bytes; now ${padded})`);
  // The same archive moved elsewhere resumes.
  fs.writeFileSync(copy, fs.readFileSync(BUNDLED_SAMPLE));
  const moved = path.join(tmp(), 'moved.tar.gz');
  fs.renameSync(copy, moved);
  await reproduce('tiny', o, { out: named, data: moved });
});

test("with --concurrency 2, the ablations start once ALL-CNN-C's rate is chosen, and the rows keep the paper's order", async () => {
  const o: ReproduceOptions = { ...TINY, models: ['strided-cnn-a'], lrs: [0.1], limit: 32, testLimit: 32, extras: ['ablations'], concurrency: 2 };
  const events: string[] = [];
  const out = tmp();
  const { summary } = await reproduce('tiny', o, { out }, {
    onEvent: (e) => (e.type === 'run-start' ? events.push(`start ${e.task.id}/${e.task.phase}`) : e.type === 'run-end' && events.push(`end ${e.record.id}`)),
  });
  // ALL-CNN-C is trained although not asked for, and goes first: the ablations need its rate.
  expect(events[0]).toBe('start table3/all-cnn-c/lr=0.1/probe');
  const firstAblation = events.findIndex((e) => e.startsWith('start ablation/'));
  expect(firstAblation).toBeGreaterThan(events.indexOf('end table3/all-cnn-c/lr=0.1/seed=0/probe'));
  expect(firstAblation).toBeLessThan(events.indexOf('end table3/all-cnn-c/lr=0.1/seed=0/full'));
  expect(summary.rows.map((r) => r.label)).toEqual([
    'Strided-CNN-A', 'ALL-CNN-C', 'ALL-CNN-C, fully-connected top', 'ALL-CNN-C, batch normalisation', 'ALL-CNN-C, no dropout',
    'ALL-CNN-C, Kaiming initialisation', 'ALL-CNN-C, no final ReLU',
  ]);
  // Every checkpoint the README points `allcnn evaluate` at is scored, the ablations' too (they record a spec's name, not an id).
  const checkpoints = path.join(out, 'checkpoints');
  const scored = await Promise.all(fs.readdirSync(checkpoints).filter((f) => f.startsWith('ablation')).sort().map((f) => evaluateCheckpoint(path.join(checkpoints, f))));
  expect(scored.map((s) => s.name)).toEqual([
    'ALL-CNN-C (batch normalisation)', 'ALL-CNN-C (fully-connected top)', 'ALL-CNN-C', 'ALL-CNN-C (no dropout)', 'ALL-CNN-C',
  ]);
  expect(scored.every((s) => s.count === 32)).toBe(true);
});

test('allcnn report: a folder stopped part-way is reported with what it has, and fully once resumed to the end', async () => {
  const out = tmp();
  const controller = new AbortController();
  await expect(reproduce('tiny', TINY, { out }, { signal: controller.signal, onEvent: (e) => e.type === 'run-end' && controller.abort() })).rejects.toThrow();
  const first = readJournal(path.join(out, 'runs.jsonl'));
  expect(first).toHaveLength(1);
  const partial = await reportFolder(out);
  // 2 networks x (2 probes + 1 full run); no row is finished yet.
  expect(partial.progress).toMatchObject({ planned: 6, finished: 1, restarts: 0, pendingExtras: [] });
  expect(partial.progress.pending.map((p) => p.model)).toEqual(['Strided-CNN-A', 'Strided-CNN-B']);
  expect(partial.summary.rows).toEqual([]);
  const text = fs.readFileSync(partial.report, 'utf8');
  expect(text).toContain('**Unfinished:** 1 of the 6 planned runs are recorded.');
  const r = first[0];
  const cell = `${(100 * r.validation.accuracy).toFixed(2)} / ${(100 * r.test.accuracy).toFixed(2)}`;
  expect(text).toMatch(new RegExp(`\\| ${r.label} \\|.*${cell.replace(/\./g, '\\.')}.*\\| not run \\|`));
  expect(text).toContain("- Total time: not known (no finished invocation's summary.json covers these runs); the 1 recorded run trained for");

  const finished = await reproduce('tiny', TINY, { out });
  const byRunner = fs.readFileSync(finished.report, 'utf8');
  const full = await reportFolder(out);
  expect(full.progress).toMatchObject({ planned: 6, finished: 6, pending: [], pendingExtras: [] });
  expect(rowsOf(full.summary)).toEqual(rowsOf(reference));
  // Once finished, the same report as the runner's (its timing comes from summary.json), but for the date and the name.
  const comparable = (t: string) => t.replace(/^- Date: .*$/m, '').replace(/^# .*$/m, '');
  expect(comparable(fs.readFileSync(full.report, 'utf8'))).toBe(comparable(byRunner));
  expect(byRunner).not.toContain('Unfinished');
  // A copy that does not keep the files' times (cp -r) is still known to be finished: its time is kept.
  const later = new Date(Date.now() + 60000);
  fs.utimesSync(path.join(out, 'runs.jsonl'), later, later);
  expect((await reportFolder(out)).summary.totalSeconds).toBe(finished.summary.totalSeconds);
});

test('allcnn report refuses a folder a running reproduce holds (its REPORT.md could land after, and replace, the final one), and reports it once that has stopped', async () => {
  const out = tmp();
  const controller = new AbortController();
  let during: Promise<unknown> | undefined;
  const onEvent = (e: ExperimentEvent) => {
    if (e.type !== 'run-end' || during) return;
    during = reportFolder(out).then(() => null, (err: Error) => err.message);
    controller.abort();
  };
  await expect(reproduce('tiny', TINY, { out }, { signal: controller.signal, onEvent })).rejects.toThrow();
  expect(await during).toBe(`${out} is in use: another call in this process is still training in it, and writes REPORT.md itself when it ends; ` +
    'run `allcnn report` again once it has ended or been stopped (its own output shows the progress meanwhile)');
  expect(fs.existsSync(path.join(out, 'REPORT.md'))).toBe(false);
  expect((await reportFolder(out)).progress.finished).toBe(1);
  expect(fs.existsSync(path.join(out, '.lock'))).toBe(false);
});

test('allcnn report: a folder that holds no experiment is refused with what to pass', async () => {
  const dir = tmp();
  await expect(reportFolder(dir)).rejects.toThrow(`${dir} has no experiment.json: pass the results folder of \`allcnn reproduce\` (its --out)`);
  await expect(reportFolder(path.join(dir, 'nowhere'))).rejects.toThrow(`${path.join(dir, 'nowhere')} does not exist: pass the results folder`);
  // The transfer preset stopped while pretraining: its options are not recorded yet, and the folder is not someone else's.
  const pretraining = tmp();
  fs.mkdirSync(path.join(pretraining, 'pretrain'));
  await expect(reportFolder(pretraining)).rejects.toThrow(`${pretraining}: an \`allcnn reproduce --preset transfer\` stopped while pretraining, before any run was recorded: nothing to report yet; the same command resumes the pretraining`);
  // A damaged experiment.json is named, for report and for reproduce, rather than a bare JSON error.
  const file = path.join(dir, 'experiment.json');
  fs.writeFileSync(file, '{"options": {');
  const damaged = `${file}: not valid JSON (`;
  await expect(reportFolder(dir)).rejects.toThrow(damaged);
  await expect(reproduce('tiny', TINY, { out: dir })).rejects.toThrow(damaged);
  // An experiment.json that holds no experiment: said so, without sending a CLI user to a library function.
  fs.writeFileSync(file, '{}');
  const cli = spawnSync(process.execPath, [BIN, 'report', dir], { encoding: 'utf8' });
  expect([cli.status, cli.stderr.trim()]).toEqual([1, `allcnn: ${file} holds no experiment of \`allcnn reproduce\` (its options list no models and learning rates): restore the file allcnn wrote, or pass the --out of an \`allcnn reproduce\` run`]);
});

test('with seeds 3, each network trains its chosen rate with two more seeds, and its row is their mean ± sd', async () => {
  const out = tmp();
  const o: ReproduceOptions = { ...TINY, models: ['strided-cnn-a'], seeds: 3 };
  const controller = new AbortController();
  // Stopped once the first seed's full run is in: the row is that run, and the report says the other seeds are missing.
  await expect(reproduce('tiny', o, { out }, { signal: controller.signal, onEvent: (e) => e.type === 'run-end' && e.record.phase === 'full' && controller.abort() })).rejects.toThrow();
  const partial = await reportFolder(out);
  expect(partial.progress).toMatchObject({ planned: 5, finished: 3, pending: [], pendingSeeds: ['Strided-CNN-A'] });
  expect(fs.readFileSync(partial.report, 'utf8')).toContain('Extra seeds not all recorded yet (their rows are the mean of those that are): Strided-CNN-A.');

  const { summary, report } = await reproduce('tiny', o, { out });
  const runs = readJournal(path.join(out, 'runs.jsonl'));
  const row = summary.rows[0];
  const full = runs.filter((r) => r.phase === 'full');
  // The rate chosen on seed 0, then seeds 1000 and 2000 at that rate, trained from scratch.
  expect(full.map((r) => [r.seed, r.lr, r.repeat ?? 0]).sort()).toEqual([[0, row.lr, 0], [1000, row.lr, 1], [2000, row.lr, 2]]);
  const test = full.map((r) => r.test.accuracy);
  const mean = (test[0] + test[1] + test[2]) / 3;
  const sd = Math.sqrt(test.reduce((s, t) => s + (t - mean) ** 2, 0) / 2);
  expect(row.testAccuracy).toBeCloseTo(mean, 12);
  expect(row.overSeeds).toMatchObject({ runs: 3, failed: 0 });
  expect(row.overSeeds!.testSd).toBeCloseTo(sd, 12);
  expect(row.selected).toBe(`table3/strided-cnn-a/lr=${row.lr}/seed=0/full`);
  expect(row.tried.map((t) => t.lr).sort()).toEqual([0.01, 0.1]); // the probes, not the seeds
  expect(fs.readFileSync(report, 'utf8')).toContain(`${(100 * mean).toFixed(2)} ± ${(100 * sd).toFixed(2)} (3 seeds)`);
  expect(fs.readFileSync(path.join(out, 'figures', 'summary.svg'), 'utf8')).toContain('black lines: ± the standard deviation between seeds');
  expect((await reportFolder(out)).progress.pendingSeeds).toEqual([]);
});

test('an experiment recorded before --seeds existed resumes: its options count as one seed', async () => {
  const out = tmp();
  const o = { ...TINY, models: ['strided-cnn-a'], lrs: [0.1] };
  await reproduce('tiny', o, { out });
  const file = path.join(out, 'experiment.json');
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  delete saved.options.seeds;
  fs.writeFileSync(file, JSON.stringify(saved));
  const cached: string[] = [];
  await reproduce('tiny', o, { out }, { onEvent: (e) => e.type === 'run-end' && e.cached && cached.push(e.record.id) });
  expect(cached).toHaveLength(2);
  expect((await reportFolder(out)).progress.planned).toBe(2);
  await expect(reproduce('tiny', { ...o, seeds: 2 }, { out })).rejects.toThrow('differs in: seeds');
  await expect(reproduce('tiny', { ...o, seeds: 2, maxRestarts: 1000 }, { out: tmp() })).rejects.toThrow('Expected an integer in [0, 999] for maxRestarts');
});

test('a report written again keeps the name the experiment ran under (--name, or the preset), not its folder\'s', () => {
  const dir = path.join(tmp(), 'r2');
  fs.mkdirSync(dir);
  expect(experimentName(dir)).toBe('r2');
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ name: 'smoke' }));
  expect(experimentName(dir)).toBe('smoke');
  fs.writeFileSync(path.join(dir, 'summary.json'), '{"name": '); // a damaged one is as good as none
  expect(experimentName(dir)).toBe('r2');
  // Stopped before its first summary: the name it was claimed under.
  fs.writeFileSync(path.join(dir, 'experiment.json'), JSON.stringify({ name: 'fast-h200', options: {} }));
  expect(experimentName(dir)).toBe('fast-h200');
});

test('a resume may list the networks, rates and extras in another order: the same runs, and a tie between rates goes the same way', () => {
  const out = tmp();
  const o: ReproduceOptions = { ...TINY, models: ['strided-cnn-a', 'strided-cnn-b'], lrs: [0.1, 0.01], extras: ['augment', 'ablations'] };
  claimFolder(out, o, {}, 'tiny');
  expect(JSON.parse(fs.readFileSync(path.join(out, 'experiment.json'), 'utf8')).name).toBe('tiny');
  expect(checkClaim(out, { ...o, models: ['strided-cnn-b', 'strided-cnn-a'], lrs: [0.01, 0.1], extras: ['ablations', 'augment'] }, {})).toBe(true);
  expect(() => checkClaim(out, { ...o, lrs: [0.1] }, {})).toThrow('differs in: lrs');
  // Both rates at the same validation accuracy: the row takes the higher, whichever order they were listed (and finished) in.
  const run = (lr: number) => ({
    id: `table3/a/lr=${lr}/seed=0/full`, group: 'table3' as const, label: 'A', model: 'A', lr, seed: 0, phase: 'full' as const, epochs: 1, stalled: false, diverged: false,
    validation: { accuracy: 0.5, loss: 1, count: 10 }, test: { accuracy: 0.4, loss: 1, count: 10 }, parameters: 1, seconds: 1, imagesPerSecond: 1, device: 'cpu',
    history: [{ epoch: 1 }], config: {}, finishedAt: '',
  }) as unknown as RunRecord;
  for (const lrs of [[0.1, 0.01], [0.01, 0.1]]) {
    expect(bestRun(lrs.map(run)).lr).toBe(0.1); // the runner's choice
    expect(buildSummary('t', { ...o, lrSelection: 'full' }, lrs.map(run), { totalSeconds: 1, aggregateImagesPerSecond: 1 }).rows[0].lr).toBe(0.1); // the report's row
  }
});

test('reproduce frees its data set when the journal cannot be read (it leaked the 6 tensors of the splits)', async () => {
  const out = tmp();
  fs.mkdirSync(path.join(out, 'runs.jsonl')); // a folder where the journal should be: reading it fails
  const before = liveTensors();
  await expect(reproduce('tiny', TINY, { out })).rejects.toThrow(/EISDIR/);
  expect(liveTensors()).toBe(before);
});
