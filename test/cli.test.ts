/** The `allcnn` command as a user runs it: output, files, exit codes and messages. */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { shown } from '../lib/cli/util';
import { BUNDLED_SAMPLE } from '../lib/data/dataset';
import { tempDirs } from './tmp';

const BIN = path.resolve(__dirname, '../../bin/allcnn.js');
const tmp = tempDirs('cli');
const cache = tmp();

function allcnn(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ALLCNN_DATA: cache }, timeout: 300000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('--help works for every command', () => {
  for (const cmd of [[], ['train'], ['evaluate'], ['compare'], ['models'], ['doctor'], ['reproduce'], ['report'], ['transfer']]) {
    const r = allcnn(...cmd, '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: allcnn');
  }
});

test('paths are shown relative inside the working folder and absolute outside it', () => {
  expect(shown(path.join(process.cwd(), 'results', 'x'))).toBe(path.join('results', 'x'));
  expect(shown(process.cwd())).toBe('.');
  expect(shown('/tmp/run/checkpoint.safetensors')).toBe('/tmp/run/checkpoint.safetensors');
  expect(shown('../x')).toBe(path.resolve('../x'));
});

test('models lists the 12 networks with exact parameter counts', () => {
  const r = allcnn('models', '--json');
  expect(r.code).toBe(0);
  const rows = JSON.parse(r.out) as Array<{ id: string; parameters: number }>;
  expect(rows).toHaveLength(12);
  expect(rows.find((m) => m.id === 'all-cnn-c')!.parameters).toBe(1369738);
  expect(allcnn('models').out).toMatch(/all-cnn-c +ALL-CNN-C +1,369,738 +Model C with each max-pooling layer replaced/);
  // --layers: the names `visualize --layer` takes, the lines of the paper's tables, the shapes.
  const layers = allcnn('models', '--layers').out;
  expect(layers).toMatch(/ conv3 +conv 3x3 96 \/2 relu +-> 96x16x16\n/);
  expect(layers).toMatch(/ gap1 +gap +-> 10\n/);
  const json = JSON.parse(allcnn('models', '--layers', '--json').out) as Array<{ id: string; layers: Array<{ name: string; layer: string; output: number[] }> }>;
  expect(json.find((m) => m.id === 'all-cnn-c')!.layers.find((l) => l.name === 'conv3')).toEqual({ name: 'conv3', layer: 'conv 3x3 96 /2 relu', output: [96, 16, 16] });
});

test('doctor reports the LibTorch it loaded', () => {
  const r = allcnn('doctor');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/ok {3}addon loaded: LibTorch \d+\.\d+/);
});

test('a ZCA cache that cannot be written is said above the epoch table, not inside it', () => {
  const file = path.join(tmp(), 'a-file');
  fs.writeFileSync(file, '');
  const r = spawnSync(process.execPath, [BIN, 'train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '64', '--out', path.join(tmp(), 'run')],
    { encoding: 'utf8', env: { ...process.env, ALLCNN_DATA: file }, timeout: 300000 });
  expect(r.status).toBe(0);
  const warning = r.stderr.indexOf(`\nwarning: ZCA cache not written (cannot make the folder ${path.join(file, 'zca')}: ${file} is a file, not a folder); set $ALLCNN_DATA to a writable folder`);
  expect(warning).toBeGreaterThan(-1);
  expect(warning).toBeLessThan(r.stderr.indexOf('epoch   train loss'));
});

test('train on the bundled sample writes a result, weights and a checkpoint, then refuses to overwrite them', () => {
  const out = tmp();
  const r = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '64', '--prep', 'std', '--out', out, '--json');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.out); // stdout holds the JSON alone; progress goes to stderr
  expect(r.err).toContain('epoch   train loss  train acc');
  expect(result.config.model).toBe('strided-cnn-a');
  expect(result.history).toHaveLength(1);
  expect(result.validation.accuracy).toBeGreaterThanOrEqual(0);
  expect(fs.readdirSync(out).sort()).toEqual(['checkpoint.safetensors', 'result.json', 'weights.safetensors']);
  const again = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '64', '--prep', 'std', '--out', out);
  expect(again.code).toBe(1);
  expect(again.err).toContain('checkpoint.safetensors exists: pass --resume to continue that run, or another --out to start afresh');
  const resumed = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '2', '--limit', '64', '--prep', 'std', '--out', out, '--resume');
  expect(resumed.code).toBe(1);
  expect(resumed.err).toContain('written by a different configuration (differs in: epochs; the checkpoint\'s: epochs 1)');
  expect(resumed.err).not.toContain('reading'); // refused before the data are read
  const finished = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '64', '--prep', 'std', '--out', out, '--resume');
  expect(finished.code).toBe(0);
  expect(finished.out).toContain('nothing left to train (the checkpoint is at the last epoch, 1)');
});

test('train into a folder holding another run names what differs instead of suggesting --resume', () => {
  const out = tmp();
  expect(allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '32', '--prep', 'std', '--out', out).code).toBe(0);
  const other = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '32', '--prep', 'std', '--seed', '1', '--out', out);
  expect(other.code).toBe(1);
  expect(other.err).toContain(`${path.join(out, 'checkpoint.safetensors')} holds another run (its options differ in: seed): pass another --out for this one`);
  // Only the data's path differs: the same images in another file would resume, which --resume finds out.
  const copy = path.join(tmp(), 'copy.tar.gz');
  fs.copyFileSync(BUNDLED_SAMPLE, copy);
  const moved = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '32', '--prep', 'std', '--data', copy, '--out', out);
  expect(moved.code).toBe(1);
  expect(moved.err).toContain(`${path.join(out, 'checkpoint.safetensors')} holds a run on other data, or on the same images in another file: pass --resume to continue it if they are the same (they are compared), or another --out for this run`);
  // Data that are not there: said first.
  const missing = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '32', '--prep', 'std', '--data', path.join(out, 'nothing.tar.gz'), '--out', out);
  expect(missing.code).toBe(1);
  expect(missing.err).not.toContain('holds a run');
  expect(missing.err).toContain('nothing.tar.gz');
  // A run's folder is no experiment's, and the other way round: neither is written over.
  const reproduce = allcnn('reproduce', '--preset', 'smoke', '--out', out);
  expect([reproduce.code, reproduce.err.trim()]).toEqual([1, `allcnn: ${out} holds a run of \`allcnn train\` or \`allcnn transfer\` (its result.json and checkpoint.safetensors), not an experiment of \`allcnn reproduce\`: pass another --out (or --name)`]);
  const experiment = tmp();
  fs.writeFileSync(path.join(experiment, 'experiment.json'), '{}');
  const into = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '32', '--out', experiment);
  expect([into.code, into.err.trim()]).toEqual([1, `allcnn: ${experiment} holds the results of \`allcnn reproduce\`: pass another --out for this run`]);
  // A finished run whose checkpoint was removed (or a transfer run, which keeps none).
  fs.rmSync(path.join(out, 'checkpoint.safetensors'));
  const over = allcnn('train', '--model', 'a', '--epochs', '1', '--limit', '32', '--out', out);
  expect([over.code, over.err.trim()]).toEqual([1, `allcnn: ${path.join(out, 'result.json')} exists, without a checkpoint beside it: ${out} holds a finished run (of \`allcnn transfer\`, or one whose checkpoint was removed); pass another --out for this run, or delete that folder to redo it`]);
  expect(JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8')).config.model).toBe('strided-cnn-a');
});

test("reproduce ends with its time and speed; a rerun that trains nothing says so, and gives the time of the one that trained, not its own", () => {
  const out = tmp();
  const args = ['reproduce', '--preset', 'smoke', '--models', 'strided-cnn-a', '--lrs', '0.1', '--epochs', '1', '--probe-epochs', '1', '--extras', 'none', '--limit', '32', '--prep', 'std', '--out', out];
  const first = allcnn(...args);
  expect(first.code).toBe(0);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  const took = `${summary.totalSeconds.toFixed(0)} s, ${summary.aggregateImagesPerSecond.toFixed(0)} training images/s in all`;
  expect(first.out.trim().split('\n').pop()).toBe(`${took}; report: ${path.join(out, 'REPORT.md')}`);
  const again = allcnn(...args);
  expect(again.out.trim().split('\n').pop()).toBe(`nothing left to train: every run was finished earlier (the last invocation that trained took ${took}); report: ${path.join(out, 'REPORT.md')}`);
  fs.writeFileSync(path.join(out, 'summary.json'), 'not JSON'); // then nothing says how long the runs took
  expect(allcnn(...args).out.trim().split('\n').pop()).toBe(`nothing left to train: every run was finished earlier; report: ${path.join(out, 'REPORT.md')}`);
});

test('--version prints the package version', () => {
  const r = allcnn('--version');
  expect(r.code).toBe(0);
  expect(r.out.trim()).toBe(JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')).version);
});

test('train passes the optimiser, schedule, validation and stall options through to the run it records', () => {
  const out = tmp();
  const r = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '64', '--prep', 'std', '--out', out, '--momentum', '0.5',
    '--weight-decay', '0', '--warmup-epochs', '0.5', '--label-smoothing', '0.1', '--validation', '100', '--stall-epochs', '0');
  expect(r.code).toBe(0);
  expect(r.err).toContain('augment off, seed 0, momentum 0.5, weight decay 0, warm-up epochs 0.5, label smoothing 0.1\n');
  const { config, validation } = JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8'));
  expect(config).toMatchObject({ momentum: 0.5, weightDecay: 0, warmupEpochs: 0.5, labelSmoothing: 0.1, validation: 100, stallEpochs: 0 });
  expect(validation.count).toBe(100);
  // The defaults are the paper's, so a run without them resumes a checkpoint written before the options existed.
  const plain = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '64', '--prep', 'std', '--out', tmp(), '--json');
  expect(JSON.parse(plain.out).config).toMatchObject({ momentum: 0.9, weightDecay: 0.001, warmupEpochs: 0, labelSmoothing: 0, validation: null, stallEpochs: 3 });
  const most = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--validation', '600', '--out', tmp());
  expect(most.code).toBe(2); // a value the library refuses is a usage error too
  expect(most.err).toContain('Expected an integer in [0, 499] for --validation (the images held out of the 500 training images) but received 600\n');
});

test('train prints a run header, fixed-column epochs and the final accuracies', () => {
  const r = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '64', '--prep', 'std', '--out', tmp());
  expect(r.code).toBe(0);
  expect(r.err).toContain('strided-cnn-a: 839,242 parameters, 64 training images, device cpu, 1 epoch, batch 128');
  const clamped = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '600', '--prep', 'std', '--out', tmp());
  expect(clamped.err).toContain('450 training images (a limit of 600: the data hold no more), device cpu'); // the sample's 500, less 50 for validation
  expect(r.err).toContain('epoch   train loss  train acc   val loss   val acc');
  expect(r.out).toMatch(/strided-cnn-a: validation accuracy \d+\.\d\d% \(50 images\), test accuracy \d+\.\d\d% \(100 images\)/);
});

test('bad options exit with status 2 and say what is wrong', () => {
  const cases: Array<[string[], string]> = [
    [['train', '--epochs', '0'], '--epochs must be an integer >= 1, got "0"'],
    [['train', '--lr', 'fast'], '--lr must be a number > 0 and <= 100, got "fast"'],
    [['train', '--lr', '1e6'], '--lr must be a number > 0 and <= 100, got "1e6"'],
    [['train', '--lr', '0'], '--lr must be a number > 0 and <= 100, got "0"'], // trained nothing
    [['transfer', '--lr', '0'], '--lr must be a number > 0 and <= 100, got "0"'],
    [['reproduce', '--lrs', '0.1,0'], '--lrs must be a number > 0 and <= 100, got "0"'],
    [['train', '--precision', 'fp16'], "--precision 'fp16' needs a CUDA device (LibTorch autocasts to float16 on GPUs only), but device is \"cpu\": use 'bf16' on the CPU"],
    [['reproduce', '--precision', 'fp16', '--device', 'cpu'], "--precision 'fp16' needs a CUDA device (LibTorch autocasts to float16 on GPUs only), but device is \"cpu\": use 'bf16' on the CPU"], // as train says it
    [['train', '--tf32'], '--tf32 needs a CUDA device (device "cuda" or "cuda:N"), but device is "cpu"'],
    [['train', '--cuda-graph', '--device', 'cpu'], '--cuda-graph needs a CUDA device'],
    [['train', '--seed', '99999999999'], 'Expected an integer in [0, 2147483648] for --seed but received 99999999999\n'], // not "of type number"
    [['train', '--model', 'all-cnn-z'], "option '--model <id>' argument 'all-cnn-z' is invalid. Allowed choices are a, strided-cnn-a"],
    [['train', '--prep', 'pca'], '--prep must be one of zca, std, none, got "pca"'],
    [['train', '--batch-size', '100000'], '--batch-size must be an integer in [1, 65536], got "100000"'],
    [['train', '--device', 'mps'], '--device must be cpu, cuda or cuda:N, got "mps"'],
    [['train', '--momentum', '1.5'], '--momentum must be a number in [0, 1], got "1.5"'],
    [['train', '--stall-epochs', '-1'], '--stall-epochs must be an integer >= 0, got "-1"'],
    [['evaluate', 'run', '--device', 'cuda:x'], '--device must be cpu, cuda or cuda:N, got "cuda:x"'],
    [['reproduce', '--preset', 'huge'], "argument 'huge' is invalid. Allowed choices are paper, fast, smoke"],
    [['reproduce', '--lrs', '0.1,x'], '--lrs must be a number > 0 and <= 100, got "x"'],
    [['reproduce', '--models', 'a,zz'], '--models must be one of a, strided-cnn-a'],
    [['reproduce', '--models', 'a,strided-cnn-a,a'], '--models lists a twice, got "a,strided-cnn-a,a"'],
    [['reproduce', '--lrs', '0.1,0.10'], '--lrs lists 0.10 twice, got "0.1,0.10"'],
    [['reproduce', '--models', ','], '--models must list at least one value, got ","'],
    [['reproduce', '--preset', 'smoke', '--probe-epochs', '5', '--epochs', '2'], '--probe-epochs 5 is more than the 2 epochs of a run'],
    [['reproduce', '--seeds', '0'], '--seeds must be an integer in [1, 100], got "0"'],
    [['reproduce', '--seeds', '2', '--max-restarts', '1000'], "--max-restarts 1000 with --seeds 2: a seed's restarts would reach the next seed's (1000 apart); pass at most 999"],
    [['reproduce', '--lrs', '0.1,,0.2'], '--lrs has an empty item, got "0.1,,0.2": separate values with single commas'],
    [['reproduce', '--name', '../elsewhere'], `--name must be a folder name of letters, digits, '.', '-' or '_', got "../elsewhere" (pass --out for a path)`],
    [['train', '--epochs', '2', '--warmup-epochs', '5'], "Expected a number in [0, 2] for --warmup-epochs (at most the run's epochs: a longer warm-up never reaches lr) but received 5\n"],
    [['visualize', 'run', '--out', 'figure.jpg'], '--out must name a .png file (the figure is a PNG), got "figure.jpg"'],
    [['reproduce', '--preset', 'smoke', '--from', 'run'], '--from belongs to --preset transfer, not to smoke'],
    [['reproduce', '--preset', 'transfer', '--from', 'run', '--pretrain-epochs', '2'], '--pretrain-epochs is for pretraining a CIFAR-10 network when --from is omitted; with --from run nothing is pretrained'],
    [['transfer', '--from', 'run', '--data10', 'x.tar.gz'], '--data10 is for pretraining a CIFAR-10 network when --from is omitted; with --from run nothing is pretrained'],
    [['transfer', '--subset', 'bicycle'], '--subset "bicycle" has 1 class; a classifier needs at least 2'], // as --subset foo, a usage error
    [['models', '--classes', 'abc'], '--classes must be an integer in [2, 100000], got "abc"'],
    [['models', '--classes', '1000000000'], '--classes must be an integer in [2, 100000], got "1000000000"'], // as buildNetwork bounds it
    // An empty path resolved to the working folder: `train --out ""` wrote its run there.
    [['train', '--out', ''], '--out: an empty path; pass a folder'],
    [['train', '--data', ''], '--data: an empty path; pass an archive or a folder'],
    [['evaluate', 'run', '--data', ''], '--data: an empty path; pass an archive or a folder'],
    [['visualize', 'run', '--out', ''], '--out: an empty path; pass a .png file'],
    [['reproduce', '--preset', 'transfer', '--from', ' '], '--from: an empty path; pass a checkpoint, a weights file or a run folder'],
    [['reproduce', '--data100', ''], '--data100: an empty path; pass an archive or a folder'],
    [['transfer', '--data10', ''], '--data10: an empty path; pass an archive or a folder'],
    // and so is an empty argument (the API's 'for file ... of type string' named no argument of the command's)
    [['evaluate', ''], "command-argument value '' is invalid for argument 'checkpoint'. an empty path; pass a checkpoint or a run folder"],
    [['visualize', ' '], "command-argument value ' ' is invalid for argument 'checkpoint'. an empty path; pass a checkpoint or a run folder"],
    [['predict', '', 'cat.png'], "command-argument value '' is invalid for argument 'checkpoint'. an empty path; pass a checkpoint or a run folder"],
    [['predict', 'run', 'cat.png', ''], "command-argument value '' is invalid for argument 'images'. an empty path; pass a picture or a folder of them"],
    [['compare', 'run', ''], "command-argument value '' is invalid for argument 'runs'. an empty path; pass a run folder or its result.json"],
    [['report', ''], "command-argument value '' is invalid for argument 'folder'. an empty path; pass the results folder of `allcnn reproduce`"],
    [['frobnicate'], "unknown command 'frobnicate'"],
  ];
  for (const [args, message] of cases) {
    const r = allcnn(...args);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.err).toContain(message);
    expect(r.err).not.toMatch(/^reading |^reproduce /m); // refused before any data are read or the run is announced
  }
});

test('a results folder of reproduce, given where a run is expected, is refused with where its checkpoints are', () => {
  const folder = tmp();
  fs.writeFileSync(path.join(folder, 'experiment.json'), '{}');
  fs.mkdirSync(path.join(folder, 'checkpoints'));
  fs.writeFileSync(path.join(folder, 'checkpoints', 'table3_c_lr=0.05_seed=0.safetensors'), '');
  for (const args of [['evaluate', folder], ['predict', folder, 'cat.png'], ['visualize', folder]]) {
    const r = allcnn(...args);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${folder} holds the results of \`allcnn reproduce\`, one checkpoint per run: pass one of the 1 in ${folder}/checkpoints, ` +
      `such as ${folder}/checkpoints/table3_c_lr=0.05_seed=0.safetensors`);
  }
});

test('missing or corrupt data gives a clear error, exit status 1', () => {
  const r = allcnn('train', '--data', '/no/such/cifar.tar.gz', '--out', tmp());
  expect(r.code).toBe(1);
  expect(r.err).toContain('no such file or folder: /no/such/cifar.tar.gz');
  const bad = path.join(tmp(), 'bad.tar.gz');
  fs.writeFileSync(bad, 'not an archive at all');
  const r2 = allcnn('train', '--data', bad, '--out', tmp());
  expect(r2.code).toBe(1);
  expect(r2.err).toContain('is not a gzip-compressed tar archive');
});

test('a CUDA device on a CPU-only build is refused at once, before the data is read, with what to do', () => {
  if (JSON.parse(allcnn('doctor', '--json').out).info.backend?.cudaAvailable) return;
  const out = path.join(tmp(), 'run');
  // A missing archive would be a DataError: the device is checked first.
  const r = allcnn('train', '--device', 'cuda', '--data', path.join(out, 'missing.tar.gz'), '--epochs', '1', '--out', out);
  expect(r.code).toBe(1);
  expect(r.err).toContain('allcnn: device "cuda" requested, but the addon was built against a CPU-only LibTorch');
  expect(r.err).toContain("Use the CPU (device 'cpu'; on the command line --device cpu), or build against a CUDA LibTorch: LIBTORCH_USE_PYTORCH=1 npx allcnn doctor --build");
  for (const args of [['reproduce', '--preset', 'smoke', '--out', out], ['transfer', '--subset', 'vehicles', '--mode', 'features', '--out', out]]) {
    const e = allcnn(...args, '--device', 'cuda:1');
    expect(e.code).toBe(1);
    expect(e.err).toContain('allcnn: device "cuda:1" requested, but the addon was built against a CPU-only LibTorch');
  }
  expect(fs.existsSync(out)).toBe(false); // nothing was made
});

test('evaluate, predict and visualize refuse a missing checkpoint, a weights file or a missing GPU before saying that they score, prepare or search', () => {
  const dir = tmp();
  const missing = path.join(dir, 'missing.safetensors');
  const weights = path.join(dir, 'weights.safetensors');
  fs.writeFileSync(weights, Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')])); // an empty safetensors file, no allcnn format
  const cpuOnly = !JSON.parse(allcnn('doctor', '--json').out).info.backend?.cudaAvailable;
  for (const command of [['evaluate'], ['predict', '<ckpt>', 'cat.png'], ['visualize']]) {
    const run = (file: string, ...more: string[]) => allcnn(...(command.length > 1 ? [command[0], file, ...command.slice(2)] : [command[0], file]), ...more);
    const gone = run(missing);
    expect([gone.code, gone.err]).toEqual([1, `allcnn: ${missing}: no such file (allcnn train writes <out>/checkpoint.safetensors)\n`]);
    const foreign = run(weights);
    expect(foreign.code).toBe(1);
    expect(foreign.err).toMatch(new RegExp(`^allcnn: ${weights}: a weights file, which does not record how the data were prepared`));
    if (cpuOnly) {
      const gpu = run(missing, '--device', 'cuda');
      expect(gpu.code).toBe(1);
      expect(gpu.err).toMatch(/^allcnn: device "cuda" requested, but the addon was built against a CPU-only LibTorch/);
    }
  }
});

test('reproduce says which data it reads, and that the long presets are GPU work', () => {
  const out = path.join(tmp(), 'fast');
  const onCpu = allcnn('reproduce', '--preset', 'fast', '--device', 'cpu', '--data', path.join(out, 'missing.tar.gz'), '--out', out);
  expect(onCpu.code).toBe(1);
  expect(onCpu.err).toContain(`data: ${path.join(out, 'missing.tar.gz')}`);
  expect(onCpu.err).toContain('note: an epoch of ALL-CNN-C on 49,000 images took about 9 minutes on a 2-core CPU');
  expect(onCpu.err).toContain('preset fast runs hundreds of epochs: it is GPU work (--device cuda)');
  expect(onCpu.err).toContain('no such file or folder');
  // The extras start from ALL-CNN-C's rate: the header says it trains too.
  const extras = allcnn('reproduce', '--preset', 'smoke', '--models', 'strided-cnn-a', '--extras', 'cifar100', '--data', path.join(out, 'missing.tar.gz'), '--out', out);
  expect(extras.err).toContain('preset smoke, 1 model (and ALL-CNN-C, whose chosen rate the extras start from) x lrs [0.05, 0.01]');
  // No --data: the sample stands in, and the note says what that is worth (a missing --data100 stops the run once the sample is read).
  const onSample = allcnn('reproduce', '--preset', 'fast', '--device', 'cpu', '--extras', 'cifar100', '--data100', path.join(out, 'missing100.tar.gz'), '--out', out);
  expect(onSample.code).toBe(1);
  expect(onSample.err).toContain('no such file or folder');
  expect(onSample.err).toContain('data: the bundled 600-image CIFAR-10 sample');
  expect(onSample.err).toContain("note: without --data the bundled sample stands in for CIFAR-10: a check of the pipeline; its accuracies say nothing about the paper's");
  // A file as --out is refused before the header.
  const file = path.join(tmp(), 'a-file');
  fs.writeFileSync(file, '');
  const onFile = allcnn('reproduce', '--preset', 'fast', '--device', 'cpu', '--out', file);
  expect([onFile.code, onFile.err.trim()]).toEqual([1, `allcnn: cannot make the folder ${file}: ${file} is a file, not a folder`]);
});

test('Ctrl-C stops train after its current step and says how to go on; the same command with --resume does', async () => {
  const out = tmp();
  const args = [BIN, 'train', '--model', 'strided-cnn-a', '--epochs', '30', '--limit', '64', '--prep', 'std', '--out', out];
  const child = spawn(process.execPath, args, { env: { ...process.env, ALLCNN_DATA: cache } });
  let err = '';
  const checkpoint = path.join(out, 'checkpoint.safetensors');
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    // Once an epoch is saved: stop while a later one trains.
    if (fs.existsSync(checkpoint) && !child.killed) child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code).toBe(130);
  expect(err).toMatch(new RegExp(`training aborted in epoch \\d+; resume from ${checkpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(\\d+ epochs? done\\); to go on: the same command with --resume`));
});

test('Ctrl-C while the data are prepared ends train at once, and the same command then runs', async () => {
  // A ZCA fit (in a cache of its own, so that it runs) is native work that no JavaScript handler
  // could interrupt: before training starts, Ctrl-C keeps its default and ends the process.
  const out = path.join(tmp(), 'run');
  const env = { ...process.env, ALLCNN_DATA: tmp() };
  const args = ['train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '64', '--prep', 'zca', '--out', out];
  const child = spawn(process.execPath, [BIN, ...args], { env });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (/^reading /m.test(err) && !child.killed) child.kill('SIGINT');
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  expect([code, signal]).toEqual([null, 'SIGINT']);
  expect(err).not.toContain('stopping after the current step');
  expect(fs.existsSync(path.join(out, 'checkpoint.safetensors'))).toBe(false);
  // Its lock, left by a process that is gone, does not stop the next run.
  const again = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 300000 });
  expect([again.status, again.stderr]).toEqual([0, expect.stringContaining('epoch   train loss')]);
  expect(fs.existsSync(path.join(out, 'result.json'))).toBe(true);
});

test('Ctrl-C stops reproduce after its current step; `allcnn report` then shows what is recorded and what is missing', async () => {
  const out = path.join(tmp(), 'smoke');
  const child = spawn(process.execPath, [BIN, 'reproduce', '--preset', 'smoke', '--models', 'strided-cnn-a,all-cnn-c', '--extras', 'none', '--out', out], {
    env: { ...process.env, ALLCNN_DATA: cache },
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    // The first finished run: stop while the next one trains.
    if (/^done /m.test(err) && !child.killed) child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code).toBe(130); // interrupted, as a shell reports it
  expect(err).toContain('SIGINT: stopping after the current step');
  expect(err).toContain(`stopped: \`allcnn report ${out}\` reports what is recorded so far; the same command goes on`);
  const r = allcnn('report', out);
  expect(r.code).toBe(0);
  // 2 networks x (2 probes + 1 full run), at least one of them recorded, not all.
  expect(r.out).toMatch(/^[1-5] of 6 planned runs recorded; \d rows?; not finished: /);
  expect(fs.readFileSync(path.join(out, 'REPORT.md'), 'utf8')).toMatch(/\*\*Unfinished:\*\* [1-5] of the 6 planned runs are recorded/);
  // smoke's limits are the preset's, not flags the user passed.
  expect(fs.readFileSync(path.join(out, 'REPORT.md'), 'utf8')).toContain("at most 500 training images (the preset's limit), 50 validation and 100 test images (the preset's test limit, 1000: the data hold no more)");
  // As if the ablations were to come: their rows' names have commas of their own, so the list is joined with ';', as in REPORT.md.
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'experiment.json'), 'utf8'));
  fs.writeFileSync(path.join(out, 'experiment.json'), JSON.stringify({ ...saved, options: { ...saved.options, extras: ['ablations'] } }));
  expect(allcnn('report', out).out).toMatch(/; not finished: Strided-CNN-A; ALL-CNN-C; ALL-CNN-C, fully-connected top; ALL-CNN-C, batch normalisation; ALL-CNN-C, no dropout; /);
});

test('a full disk: train says which file it could not write, in words, and what to do (with --resume once a checkpoint is kept)', () => {
  const out = path.join(tmp(), 'run');
  // The disk fills at the second checkpoint: the temporary file of checkpoint.safetensors gets the first epoch's, then no room.
  const preload = path.join(tmp(), 'disk-full.js');
  fs.writeFileSync(preload, `
    const fs = require('fs');
    const [open, write] = [fs.openSync, fs.writeSync];
    const full = new Set();
    let checkpoints = 0;
    fs.openSync = (p, ...rest) => {
      const fd = open(p, ...rest);
      if (/checkpoint\\.safetensors\\..*\\.tmp$/.test(String(p)) && ++checkpoints > Number(process.env.ROOM_FOR)) full.add(fd);
      return fd;
    };
    fs.writeSync = (fd, ...rest) => {
      if (full.has(fd)) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
      return write(fd, ...rest);
    };
  `);
  const train = (roomFor: number, ...more: string[]) => {
    const r = spawnSync(process.execPath, ['--require', preload, BIN, 'train', '--model', 'strided-cnn-a', '--epochs', '2', '--limit', '64', '--prep', 'std', '--out', out, ...more],
      { encoding: 'utf8', env: { ...process.env, ALLCNN_DATA: cache, ROOM_FOR: String(roomFor) }, timeout: 300000 });
    return { code: r.status, err: r.stderr };
  };
  const file = path.join(out, 'checkpoint.safetensors');
  let r = train(0);
  expect(r.code).toBe(1);
  expect(r.err.split('\n').slice(-2)[0]).toBe(`allcnn: ${file}: cannot write (the disk is full); free some space on that disk (or pass another --out), then run the same command again`);
  expect(fs.existsSync(out)).toBe(false); // nothing written: the folder the run made is gone again
  r = train(1);
  expect(r.err.split('\n').slice(-2)[0]).toBe(`allcnn: ${file}: cannot write (the disk is full); free some space on that disk (or pass another --out), then run the same command with --resume: it goes on from the last epoch saved`);
  expect(fs.readdirSync(out).sort()).toEqual(['checkpoint.safetensors']); // the first epoch's, whole; no temporary file, no lock
  r = train(1, '--resume');
  expect(r.code).toBe(0);
  expect(fs.readdirSync(out).sort()).toEqual(['checkpoint.safetensors', 'result.json', 'weights.safetensors']);
});

test('train without --resume on a checkpoint cut short says what to do about it, as with --resume', () => {
  const out = tmp();
  const file = path.join(out, 'checkpoint.safetensors');
  fs.writeFileSync(file, '');
  const expected = `allcnn: ${file}: not a valid safetensors file (too short); it cannot be resumed: delete it to train the run again from its first epoch\n`;
  for (const resume of [[], ['--resume']]) {
    const r = allcnn('train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '64', '--prep', 'std', '--out', out, ...resume);
    expect([r.code, r.err.split('\n').slice(-2).join('\n')]).toEqual([1, expected]);
  }
});
