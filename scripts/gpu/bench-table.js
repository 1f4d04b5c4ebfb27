#!/usr/bin/env node
'use strict';
/**
 * Turns the JSON files of `npm run bench -- --json` (and bench:concurrency)
 * into the markdown tables of docs/RESULTS.md: one row per network, one
 * column per batch size / precision / CUDA graph, images/s and TFLOP/s.
 *
 * Usage: node scripts/gpu/bench-table.js path/to/bench/*.json
 */
const fs = require('node:fs');

// A benchmark cut off by its time limit leaves an empty or partial file: say so and go on.
const runs = process.argv.slice(2).flatMap((f) => {
  try {
    return [{ file: f, ...JSON.parse(fs.readFileSync(f, 'utf8')) }];
  } catch (err) {
    console.error(`bench-table: skipped ${f}: ${err.message}`);
    return [];
  }
});
// bench:concurrency's files name their one model at the top; the step benchmark's list one per row.
const steps = runs.filter((r) => Array.isArray(r.rows) && !('model' in r));
const concurrency = runs.filter((r) => Array.isArray(r.rows) && 'model' in r);
if (!steps.length && !concurrency.length) {
  console.error('usage: node scripts/gpu/bench-table.js bench/*.json (files written by npm run bench -- --json)');
  process.exit(1);
}

// The candidates for the batch-512 target (bench --foreach-sgd, --fuse-conv-relu) get columns of their own.
const label = (r) => `${r.batchSize} ${r.precision !== 'fp32' ? r.precision : r.tf32 ? 'tf32' : 'fp32'}${r.cudaGraph ? ' graph' : ''}${r.foreachSgd ? ' foreach' : ''}${r.fuseConvRelu ? ' fused' : ''}`;
const order = (r) => [r.batchSize, ['fp32', 'tf32', 'bf16', 'fp16'].indexOf(label(r).split(' ')[1]), r.cudaGraph ? 1 : 0];
steps.sort((a, b) => { const x = order(a), y = order(b); return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; });

if (steps.length) {
  const devices = [...new Set(steps.map((r) => r.device))];
  const dates = steps.map((r) => r.date).sort();
  console.log(`Training-step throughput (images/s, TypeScript-driven; TFLOP/s from each model's counted FLOPs): ${devices.join(', ')}, ${dates[0]} to ${dates[dates.length - 1]}\n`);
  const models = [...new Set(steps.flatMap((r) => r.rows.map((row) => row.model)))];
  console.log(`| model | ${steps.map(label).join(' | ')} |`);
  console.log(`| --- | ${steps.map(() => '---:').join(' | ')} |`);
  for (const m of models) {
    const cells = steps.map((r) => {
      const row = r.rows.find((x) => x.model === m);
      if (!row) return '';
      if (row.error) return 'failed';
      return `${Math.round(row.drivenImagesPerSecond).toLocaleString('en-US')} (${row.tflops.toFixed(row.tflops < 10 ? 2 : 1)})`;
    });
    console.log(`| ${m} | ${cells.join(' | ')} |`);
  }
  for (const r of steps) {
    for (const row of r.rows.filter((x) => x.error)) console.log(`\nFailed: ${row.model}, ${label(r)}: ${row.error}`);
  }
  console.log('\nIn C++ alone (the step looped inside one native call), ALL-CNN-C:');
  for (const r of steps) {
    const row = r.rows.find((x) => x.model === 'ALL-CNN-C');
    if (row && !row.error) console.log(`- ${label(r)}: ${Math.round(row.cxxImagesPerSecond).toLocaleString('en-US')} images/s; driven/cxx ${row.drivenOverCxx.toFixed(3)}`);
  }
  // Issue 6's targets for ALL-CNN-C (on an H200): the best setting measured at each batch size.
  console.log('\nTargets, ALL-CNN-C (issue 6, on an H200):');
  for (const [bs, target] of [[128, 60000], [512, 150000]]) {
    const best = steps.filter((r) => r.batchSize === bs).flatMap((r) => r.rows.filter((x) => x.model === 'ALL-CNN-C' && !x.error).map((x) => ({ r, ips: x.drivenImagesPerSecond })))
      .reduce((a, b) => (a && a.ips >= b.ips ? a : b), null);
    console.log(best
      ? `- batch ${bs}: ${Math.round(best.ips).toLocaleString('en-US')} images/s (${label(best.r)}) against ${target.toLocaleString('en-US')}: ${best.ips >= target ? 'met' : 'not met'}`
      : `- batch ${bs}: not measured`);
  }
}
for (const r of concurrency) {
  console.log(`\nConcurrency, ${r.model}, batch ${r.batchSize}, ${r.precision}${r.tf32 ? ' + tf32' : ''}${r.cudaGraph ? ', CUDA graph' : ''}${r.cudaStream ? ', a stream per run' : ''} (${r.device}, ${r.date}):`);
  for (const row of r.rows) console.log(`- ${row.runs} run(s) at once: ${Math.round(row.aggregateImagesPerSecond).toLocaleString('en-US')} images/s in all`);
}
