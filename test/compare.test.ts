/**
 * `allcnn compare` and compareRuns(): separate training runs beside the
 * paper's Table 3, the settings they differ in, and the paper's claims
 * checked on their numbers; a folder that is not a run gives a clear error.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareRuns, readRunResult, renderComparison, TrainRecord } from '../lib/report/compare';
import { tempDirs } from './tmp';

const BIN = path.resolve(__dirname, '../../bin/allcnn.js');
const tmp = tempDirs('compare');

/** A result.json as `allcnn train` writes it, with the fields compare reads. */
function record(model: string, test: number, config: Record<string, unknown> = {}): TrainRecord {
  return {
    config: { model, epochs: 10, lr: 0.01, seed: 0, prep: 'zca', ...config },
    parameters: 839242,
    history: Array.from({ length: 10 }, () => ({})),
    validation: { loss: 1, accuracy: test - 0.01, count: 1000 },
    test: { loss: 1, accuracy: test, count: 10000 },
    stalled: false,
    resumedFrom: 0,
    seconds: 3375.7,
    imagesPerSecond: 147.9,
    device: 'cpu',
    cudaGraph: 'off',
  } as unknown as TrainRecord;
}

const FAMILY_A = [
  { label: 'run-a', result: record('a', 0.7105) },
  { label: 'run-strided', result: record('strided-cnn-a', 0.5678) },
  { label: 'run-all', result: record('all-cnn-a', 0.6118) },
  { label: 'run-convpool', result: record('convpool-cnn-a', 0.731) },
];

test('each run gets its row with the paper name, percentages and the gap to Table 3', () => {
  const c = compareRuns(FAMILY_A);
  expect(c.rows.map((r) => r.model)).toEqual(['A', 'Strided-CNN-A', 'ALL-CNN-A', 'ConvPool-CNN-A']);
  const a = c.rows[0];
  expect(a.testAccuracy).toBeCloseTo(71.05, 10);
  expect(a.paperTestAccuracy).toBeCloseTo(87.53, 10); // 100 - 12.47
  expect(renderComparison(c)).toContain('| run-a | A | 839,242 | 10 | 0.01 | 0 | 70.05 | 71.05 | 87.53 | -16.48 | 56 min 16 s | 148 |');
  expect(c.differences).toEqual([]);
});

test("the paper's three claims are checked per base model and the ranking is by test accuracy", () => {
  const c = compareRuns(FAMILY_A);
  expect(c.bases.map((b) => b.base)).toEqual(['A']); // B and C were not run
  const [b] = c.bases;
  expect(b.ranking.map((r) => r.model)).toEqual(['ConvPool-CNN-A', 'A', 'ALL-CNN-A', 'Strided-CNN-A']);
  expect(b.claims.map((k) => k.verdict)).toEqual(['does not hold', 'holds', 'does not hold']);
  const md = renderComparison(c);
  expect(md).toContain('- (1) ALL-CNN-A is at least as good as A: **does not hold**. ALL-CNN-A 61.18% vs A 71.05% (-9.87 points).');
  expect(md).toContain('the claims say how the networks compare this early');
});

test('a claim whose networks were not run says so instead of a verdict', () => {
  const c = compareRuns([{ label: 'c', result: record('all-cnn-c', 0.5786) }]);
  expect(c.bases[0].claims.map((k) => k.verdict)).toEqual(['not checked', 'not checked', 'not checked']);
  expect(renderComparison(c)).toContain('- (1) ALL-CNN-C is at least as good as C: not checked: C not run.');
});

test('one run given twice is not called two networks', () => {
  const twice = renderComparison(compareRuns([{ label: 'c', result: record('all-cnn-c', 0.5786) }, { label: 'copy', result: record('all-cnn-c', 0.5786) }]));
  expect(twice).toContain('The runs share every training setting and the network (the same run given twice, or a copy of it?).');
  const two = renderComparison(compareRuns([{ label: 'c', result: record('all-cnn-c', 0.5786) }, { label: 'b', result: record('all-cnn-b', 0.5786) }]));
  expect(two).toContain('The runs share every training setting but the network.');
});

test('settings that differ between runs are listed; a network run twice leaves its claims unchecked', () => {
  const c = compareRuns([
    { label: 'lr-01', result: record('a', 0.71) },
    { label: 'lr-05', result: record('a', 0.74, { lr: 0.05 }) },
    { label: 'all', result: record('all-cnn-a', 0.6) },
  ]);
  expect(c.differences).toEqual(['lr (0.01, 0.05)']);
  expect(c.bases[0].claims).toEqual([]);
  expect(c.bases[0].ambiguous).toEqual(['A']);
  const md = renderComparison(c);
  expect(md).toContain('The runs differ in: lr (0.01, 0.05).');
  expect(md).toContain('1. A (lr-05) 74.00%, 2. A (lr-01) 71.00%, 3. ALL-CNN-A (all) 60.00%');
  expect(md).toContain("The paper's claims are not checked: A was run more than once with other settings than the seed.");
});

test('a network run with several seeds is scored by its mean, and the spread between the seeds sets the noise', () => {
  const c = compareRuns([
    { label: 'a-s0', result: record('a', 0.70) },
    { label: 'a-s1', result: record('a', 0.72, { seed: 1 }) },
    { label: 'a-s2', result: record('a', 0.74, { seed: 2 }) },
    { label: 'all-s0', result: record('all-cnn-a', 0.715) },
    { label: 'all-s1', result: record('all-cnn-a', 0.73, { seed: 1 }) },
    { label: 'strided', result: record('strided-cnn-a', 0.60, { seed: 5 }) },
  ]);
  expect(c.differences).toEqual(['seed (0, 1, 2, 5)']);
  const [b] = c.bases;
  expect(b.ambiguous).toEqual([]);
  const a = b.ranking.find((r) => r.model === 'A')!;
  expect(a.test).toBeCloseTo(72, 10);
  expect(a.seeds!.runs).toBe(3);
  expect(a.seeds!.sd).toBeCloseTo(2, 10); // sample sd of 70, 72, 74
  expect(a.label).toBe('a-s0, a-s1, a-s2');
  expect(b.ranking.map((r) => r.model)).toEqual(['ALL-CNN-A', 'A', 'Strided-CNN-A']);
  expect(b.claims.map((k) => k.verdict)).toEqual(['inconclusive', 'holds', 'not checked']);
  const md = renderComparison(c);
  expect(md).toContain('The runs differ in: seed (0, 1, 2, 5). The claims below take a network run with several seeds by its mean.');
  expect(md).toContain('Ranking by test accuracy: 1. ALL-CNN-A 72.25% (mean of 2 seeds), 2. A 72.00% (mean of 3 seeds), 3. Strided-CNN-A 60.00%.');
  expect(md).toContain('Over seeds: ALL-CNN-A 72.25% ± 1.06 (mean ± sd of 2 runs: all-s0, all-s1); A 72.00% ± 2.00 (mean ± sd of 3 runs: a-s0, a-s1, a-s2).');
  // 0.25 points apart, inside the noise of the difference: A's sd 2 / sqrt(3) = 1.15 points and ALL-CNN-A's 1.06 / sqrt(2) = 0.75
  // (each more than the binomial 0.45 of 10,000 test images), 1.38 in quadrature.
  expect(md).toContain('- (1) ALL-CNN-A is at least as good as A: **inconclusive**. ALL-CNN-A 72.25% (mean of 2 seeds) vs A 72.00% (mean of 3 seeds) (+0.25 points); within the ±1.38-point noise of the difference (one standard error), so these runs cannot tell.');
});

test('a stalled seed is left out of the mean, and counted, as reproduce --seeds leaves it out', () => {
  const stalled = { ...record('a', 0.1, { seed: 2 }), stalled: true };
  const c = compareRuns([
    { label: 'a-s0', result: record('a', 0.70) },
    { label: 'a-s1', result: record('a', 0.72, { seed: 1 }) },
    { label: 'a-s2', result: stalled },
  ]);
  const [a] = c.bases[0].ranking;
  expect(a.test).toBeCloseTo(71, 10);
  expect(a.seeds).toEqual({ runs: 2, sd: expect.any(Number), failed: 1 });
  expect(renderComparison(c)).toContain('Over seeds: A 71.00% ± 1.41 (mean ± sd of 2 runs: a-s0, a-s1; 1 more stalled or diverged, left out).');
});

test('runs of one network with the same seed, or other settings too, are not taken as seeds', () => {
  const same = compareRuns([{ label: 'x', result: record('a', 0.70) }, { label: 'y', result: record('a', 0.71) }]);
  expect(same.bases[0].ambiguous).toEqual(['A']);
  expect(same.bases[0].copies).toEqual(['A']);
  expect(renderComparison(same)).toContain("The paper's claims are not checked: A appears twice with the same settings and seed (the same run given twice, or a copy of its folder?).");
  expect(renderComparison(same)).not.toContain('The claims below compare them all the same');
  const mixed = compareRuns([{ label: 'x', result: record('a', 0.70) }, { label: 'y', result: record('a', 0.71, { seed: 1, lr: 0.05 }) }]);
  expect(mixed.bases[0].ambiguous).toEqual(['A']);
  expect(mixed.bases[0].ranking.every((r) => r.seeds === undefined)).toBe(true);
});

test('any config field that changes what a run measures is compared, execution-only ones are not', () => {
  const c = compareRuns([
    { label: 'sample', result: record('a', 0.3, { data: null, validation: 50, device: 'cpu' }) },
    { label: 'real', result: record('strided-cnn-a', 0.5, { data: 'cifar-10-binary.tar.gz', validation: 1000, device: 'cuda' }) },
  ]);
  expect(c.differences).toEqual(['data (null, "cifar-10-binary.tar.gz")', 'validation (50, 1000)']);
});

test('no runs give an empty comparison, not an error', () => {
  const c = compareRuns([]);
  expect(c).toEqual({ rows: [], differences: [], protocol: [], bases: [] });
  expect(renderComparison(c).split('\n')[0]).toMatch(/^\| Run \| Model \|/);
  expect(renderComparison(c)).not.toContain('at most');
});

test('a network outside Table 3 is listed without a paper figure', () => {
  const c = compareRuns([{ label: 'tiny', result: record('Tiny', 0.4) }]);
  expect(c.rows[0].model).toBe('Tiny');
  expect(c.rows[0].paperTestAccuracy).toBeNaN();
  expect(c.bases).toEqual([]);
  expect(renderComparison(c)).toContain('| tiny | Tiny | 839,242 | 10 | 0.01 | 0 | 39.00 | 40.00 | — | — |');
});

test('readRunResult takes a run folder or its result.json and rejects anything else clearly', () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'result.json'), JSON.stringify(record('a', 0.7)));
  expect(readRunResult(dir).config.model).toBe('a');
  expect(readRunResult(path.join(dir, 'result.json')).test.accuracy).toBe(0.7);
  expect(() => readRunResult(path.join(dir, 'missing'))).toThrow(/no such file or folder; pass the --out folder of `allcnn train`/);
  expect(() => readRunResult(tmp())).toThrow(/has no result.json: is it the --out folder of a finished `allcnn train` run\?/);
  const reproduced = tmp();
  fs.writeFileSync(path.join(reproduced, 'runs.jsonl'), '');
  expect(() => readRunResult(reproduced)).toThrow(/holds `allcnn reproduce` results: its REPORT.md compares them with the paper already/);
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, '{');
  expect(() => readRunResult(bad)).toThrow(/bad.json: not valid JSON/);
  fs.writeFileSync(bad, '{"config": {"model": "a"}, "history": []}'); // a run without its scores
  expect(() => readRunResult(bad)).toThrow(/not a result.json written by `allcnn train`/);
  fs.writeFileSync(bad, 'null');
  expect(() => readRunResult(bad)).toThrow(/not a result.json written by `allcnn train`/);
  // Edited values compare would show and judge: an accuracy of 2.5 (250%), a data set it does not know, an epoch that is null.
  const good = record('a', 0.3);
  for (const edit of [{ test: { ...good.test, accuracy: 2.5 } }, { config: { ...good.config, dataset: 'mnist' } }, { history: [null] }]) {
    fs.writeFileSync(bad, JSON.stringify({ ...good, ...edit }));
    expect(() => readRunResult(bad)).toThrow(/not a result.json written by `allcnn train`/);
  }
  // From code: compareRuns takes labelled results.
  expect(() => compareRuns('run1' as never)).toThrow('Expected a list of { label, result } (result: readRunResult(folder)) for runs but received "run1"');
  expect(() => compareRuns([good] as never)).toThrow('for runs[0] but received');
  // A transfer run's result.json has the same fields, but its scores are on a CIFAR-100 subset.
  const transferred = JSON.parse(fs.readFileSync(path.join(dir, 'result.json'), 'utf8'));
  fs.writeFileSync(bad, JSON.stringify({ ...transferred, config: { ...transferred.config, subset: ['vehicles'], mode: 'features' } }));
  expect(() => readRunResult(bad)).toThrow('bad.json: an `allcnn transfer` run (CIFAR-100 subset vehicles), not a CIFAR-10 run of `allcnn train`: Table 3 does not apply to it');
});

test('where runs leave the paper\'s protocol (data, --limit, preparation, test images) is said, naming the runs when not all do', () => {
  const full = record('a', 0.7, { data: 'cifar-10-binary.tar.gz', limit: null });
  const small = { ...record('strided-cnn-a', 0.6, { data: 'cifar-10-binary.tar.gz', limit: 2000, prep: 'std' }), test: { loss: 1, accuracy: 0.6, count: 1000 } };
  const c = compareRuns([{ label: 'full', result: full }, { label: 'small', result: small as TrainRecord }]);
  expect(c.protocol).toEqual(['at most 2,000 training images (--limit), not 49,000 (small)', 'preparation std, not GCN + ZCA (small)', 'scored on 1,000 test images, not 10,000 (small)']);
  expect(renderComparison(c)).toContain("Unlike the paper's protocol: at most 2,000 training images (--limit), not 49,000 (small); ");
  expect(compareRuns([{ label: 'full', result: full }]).protocol).toEqual([]);
  // A limit the data do not reach keeps all 49,000: no departure ("at most 49,000 ..., not 49,000").
  for (const limit of [49000, 100000]) expect(compareRuns([{ label: 'all', result: record('a', 0.7, { data: 'cifar-10-binary.tar.gz', limit }) }]).protocol).toEqual([]);
  expect(compareRuns([{ label: 'sample', result: record('a', 0.1) }]).protocol).toEqual(['trained on a bundled sample (a few hundred images), not CIFAR-10']);
  expect(compareRuns([{ label: 'c100', result: record('a', 0.1, { dataset: 'cifar100' }) }]).protocol[0]).toBe('trained on a bundled sample (a few hundred images), not CIFAR-100');
});

test('a run trained without validation images (--validation 0) is compared, with no validation accuracy', () => {
  const dir = tmp();
  const r = record('a', 0.7);
  fs.writeFileSync(path.join(dir, 'result.json'), JSON.stringify({ ...r, validation: { loss: NaN, accuracy: NaN, count: 0 } })); // NaN is saved as null
  const [row] = compareRuns([{ label: 'v0', result: readRunResult(dir) }]).rows;
  expect(row.validationAccuracy).toBeNaN();
  expect(row.testAccuracy).toBeCloseTo(70, 9);
  const checkpoint = path.join(dir, 'checkpoint.safetensors');
  fs.writeFileSync(checkpoint, 'not JSON');
  expect(() => readRunResult(checkpoint)).toThrow(`${checkpoint}: a checkpoint; compare reads the result.json beside it: pass the run's --out folder (${dir})`);
});

test('a resumed run counts the time of the epochs before its last invocation, and a resume with nothing left takes its speed from the history', () => {
  const epoch = (seconds: number, imagesPerSecond: number) => ({ seconds, imagesPerSecond });
  const history = [epoch(10, 100), epoch(10, 100), epoch(20, 50)];
  const resumed = { ...record('a', 0.7), history, resumedFrom: 2, seconds: 25, imagesPerSecond: 50 } as unknown as TrainRecord;
  const noop = { ...record('a', 0.7), history, resumedFrom: 3, seconds: 2, imagesPerSecond: NaN } as unknown as TrainRecord;
  const [a, b] = compareRuns([{ label: 'resumed', result: resumed }, { label: 'noop', result: noop }]).rows;
  expect([a.seconds, a.imagesPerSecond]).toEqual([45, 50]);
  expect(b.seconds).toBe(42);
  expect(b.imagesPerSecond).toBeCloseTo(3 / (1 / 100 + 1 / 100 + 1 / 50), 9); // 75: every epoch trains as many images
});

test('`allcnn compare` prints the table from run folders, JSON with --json, and exits 1 on a bad folder', () => {
  const folders = FAMILY_A.map(({ label, result }) => {
    const dir = path.join(tmp(), label);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'result.json'), JSON.stringify(result));
    return dir;
  });
  const run = (...args: string[]) => spawnSync(process.execPath, [BIN, 'compare', ...args], { encoding: 'utf8' });
  const md = run(...folders);
  expect(md.status).toBe(0);
  expect(md.stdout).toContain('| run-convpool | ConvPool-CNN-A | 839,242 | 10 | 0.01 | 0 | 72.10 | 73.10 | 89.79 | -16.69 |');
  expect(md.stdout).toContain('### Model A and its variants');
  const json = run('--json', ...folders);
  expect(json.status).toBe(0);
  expect(JSON.parse(json.stdout).bases[0].claims).toHaveLength(3);
  const bad = run(folders[0], path.join(folders[0], 'nowhere'));
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/^allcnn: .*nowhere: no such file or folder/);
  // The same run twice is a mistake; two runs in folders of the same name are told apart by their paths.
  const twice = run(folders[0], path.join(folders[0], 'result.json'));
  expect(twice.status).toBe(2);
  expect(twice.stderr).toContain('is given twice: each run is a row of its own');
  const namesake = path.join(tmp(), path.basename(folders[0]));
  fs.mkdirSync(namesake);
  fs.copyFileSync(path.join(folders[0], 'result.json'), path.join(namesake, 'result.json'));
  const both = run(folders[0], namesake);
  expect(both.status).toBe(0);
  expect(both.stdout).toContain(`| ${folders[0]} |`);
  expect(both.stdout).toContain(`| ${namesake} |`);
});

test('the run records kept in docs/runs (real CPU runs) are read back and compared as measured', () => {
  // Their numbers are in docs/RESULTS.md; this keeps them readable as the record format evolves.
  const root = path.resolve(__dirname, '../../docs/runs');
  const runs = fs.readdirSync(root).map((label) => ({ label, result: readRunResult(path.join(root, label)) }));
  expect(runs.length).toBeGreaterThan(0);
  const c = compareRuns(runs);
  for (const [i, { result }] of runs.entries()) {
    expect(result.history).toHaveLength(result.config.epochs);
    expect(result.test.count).toBe(10000); // the whole CIFAR-10 test set
    expect(c.rows[i].testAccuracy).toBeCloseTo(100 * result.test.accuracy, 10);
    expect(c.rows[i].paperTestAccuracy).toBeGreaterThan(85); // every one is a network of Table 3
  }
  const modelC = runs.find((r) => r.label === 'cpu-c');
  expect(modelC?.result.test.accuracy).toBeCloseTo(0.6572, 10);
  // Three seeds each of Strided-CNN-A and A (docs/RESULTS.md, "How much one seed says"): taken as repeats, by their means.
  const seeds = compareRuns(runs.filter((r) => r.label.startsWith('seeds-')));
  const [a] = seeds.bases;
  expect(a.ambiguous).toEqual([]);
  expect(a.ranking.map((r) => [r.model, r.test.toFixed(2), r.seeds?.sd.toFixed(2), r.seeds?.runs])).toEqual([['Strided-CNN-A', '36.92', '2.10', 3], ['A', '35.58', '2.50', 3]]);
  expect(renderComparison(seeds)).toContain('- (2) Strided-CNN-A is below A: **inconclusive**. Strided-CNN-A 36.92% (mean of 3 seeds) vs A 35.58% (mean of 3 seeds) (+1.34 points); within the ±1.89-point noise of the difference');
});
