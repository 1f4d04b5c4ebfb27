/**
 * Example: reproduce the paper's Table 3 (12 networks, learning rates chosen
 * on validation accuracy), in miniature, and write the report.
 *
 *   npm run build:ts && node dist/examples/reproduce-table.js [path/to/cifar-10-binary.tar.gz]
 *
 * This runs the whole pipeline of `allcnn reproduce` (the learning-rate
 * selection, the resumable journal runs.jsonl, summary.json, REPORT.md with
 * the paper's numbers beside ours) on a tiny budget: the 12 networks, one
 * epoch each at one learning rate, on 256 images of the bundled sample. On a
 * two-core CPU it took 57 s (2026-12-01). Expect a 12-row table with
 * parameter counts from 0.84M to 1.37M, accuracies near chance (3-20% there):
 * one epoch on 256 images shows the machinery, not the paper's result. For
 * that: `allcnn reproduce --preset paper --data cifar-10-binary.tar.gz` on a
 * GPU (350 epochs per run), or `--preset fast` (40 epochs).
 *
 * It writes to one folder, allcnn-example-table3 under the OS's temporary
 * folder: interrupt it and run it again, and the finished runs are read back
 * from the journal (delete the folder to start afresh).
 *
 * In your own project: import { reproduce, PRESETS } from 'allcnn'
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { MODEL_IDS, PRESETS, reproduce } from '../lib';
import type { ReproduceOptions } from '../lib';

async function main(): Promise<void> {
  const data = process.argv[2];
  const out = path.join(os.tmpdir(), 'allcnn-example-table3'); // one folder, so that a rerun resumes
  const options: ReproduceOptions = {
    ...PRESETS.smoke,
    device: 'cpu',
    models: MODEL_IDS, // all 12 networks of Table 3
    epochs: 1,
    lrs: [0.05], // the paper selects among 0.25, 0.1, 0.05 and 0.01
    lrSelection: 'full',
    extras: [], // 'augment' and 'ablations' add the rows after Table 3
    limit: 256,
    testLimit: 200,
    prep: 'std',
  };
  const { summary, report, trainedRuns } = await reproduce('example', options, { out, data }, {
    onEvent: (e) => {
      if (e.type === 'run-end' && !e.cached) console.log(`  ${e.record.label.padEnd(16)} lr ${e.record.lr}: validation ${(100 * e.record.validation.accuracy).toFixed(1)}% (${e.record.seconds.toFixed(1)} s)`);
    },
  });
  console.log(`\n${'network'.padEnd(16)} ${'parameters'.padStart(10)} ${'val'.padStart(7)} ${'test'.padStart(7)} ${'paper'.padStart(7)}`);
  for (const r of summary.rows) {
    const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : `${(100 * v).toFixed(1)}%`);
    console.log(`${r.label.padEnd(16)} ${r.parameters.toLocaleString('en-US').padStart(10)} ${pct(r.validationAccuracy).padStart(7)} ${pct(r.testAccuracy).padStart(7)} ${pct(r.paperTestAccuracy).padStart(7)}`);
  }
  // A rerun that finds every run done trains nothing; summary.totalSeconds is then the run's that trained them (NaN if not known).
  console.log(`\n${trainedRuns ? `${summary.totalSeconds.toFixed(0)} s` : 'nothing left to train'}; report: ${report}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
