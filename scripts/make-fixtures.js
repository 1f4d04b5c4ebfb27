#!/usr/bin/env node
/**
 * Builds the small CIFAR archives bundled in fixtures/ from the real data:
 * the first records of each binary file, repacked in the official layout.
 * Tests read them, and the CLI trains on the CIFAR-10 sample when no data
 * set is given.
 *
 *   node scripts/make-fixtures.js [datasets-folder]   (default ../shared/datasets)
 *
 * Output is deterministic (fixed tar mtimes, gzip header without a time), so
 * rerunning on the same data gives byte-identical fixtures.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const tar = require('tar-stream');

const ROOT = path.resolve(__dirname, '..');
const OUT_DIR = path.join(ROOT, 'fixtures');

const CIFAR10_RECORD_BYTES = 1 + 3072; // label, then 3x32x32 pixels
const CIFAR100_RECORD_BYTES = 2 + 3072; // coarse label, fine label, pixels

/** Which records to keep: member path -> record size and count (0 = copy whole file). */
const CIFAR10_SAMPLE = {
  source: 'cifar-10-binary.tar.gz',
  output: 'cifar-10-sample.tar.gz',
  members: {
    'cifar-10-batches-bin/batches.meta.txt': { recordBytes: 1, count: 0 },
    ...Object.fromEntries([1, 2, 3, 4, 5].map((i) => [
      `cifar-10-batches-bin/data_batch_${i}.bin`, { recordBytes: CIFAR10_RECORD_BYTES, count: 100 },
    ])),
    'cifar-10-batches-bin/test_batch.bin': { recordBytes: CIFAR10_RECORD_BYTES, count: 100 },
  },
};

const CIFAR100_SAMPLE = {
  source: 'cifar-100-subsets-binary.tar.gz',
  output: 'cifar-100-sample.tar.gz',
  members: {
    'cifar-100-binary/train.bin': { recordBytes: CIFAR100_RECORD_BYTES, count: 200 },
    'cifar-100-binary/test.bin': { recordBytes: CIFAR100_RECORD_BYTES, count: 100 },
    'cifar-100-binary/fine_label_names.txt': { recordBytes: 1, count: 0 },
    'cifar-100-binary/coarse_label_names.txt': { recordBytes: 1, count: 0 },
  },
};

/** Reads the wanted members of a .tar.gz into memory: name -> Buffer. */
function readMembers(archive, names) {
  return new Promise((resolve, reject) => {
    const found = new Map();
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '');
      const chunks = [];
      stream.on('data', (c) => { if (names.has(name)) chunks.push(c); });
      stream.on('end', () => {
        if (names.has(name)) found.set(name, Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', () => resolve(found));
    extract.on('error', reject);
    const gunzip = zlib.createGunzip({ chunkSize: 1 << 20 });
    gunzip.on('error', reject);
    fs.createReadStream(archive).on('error', reject).pipe(gunzip).pipe(extract);
  });
}

/** Writes the members, in the given order, as a gzip-compressed tar. */
function writeArchive(file, members) {
  return new Promise((resolve, reject) => {
    const pack = tar.pack();
    const folders = new Set([...members.keys()].map((n) => n.split('/')[0]));
    for (const folder of folders) pack.entry({ name: `${folder}/`, type: 'directory', mode: 0o755, mtime: new Date(0) });
    for (const [name, data] of members) pack.entry({ name, size: data.length, mode: 0o644, mtime: new Date(0) }, data);
    pack.finalize();
    const out = fs.createWriteStream(file);
    out.on('finish', resolve);
    out.on('error', reject);
    pack.pipe(zlib.createGzip({ level: zlib.constants.Z_BEST_COMPRESSION })).pipe(out);
  });
}

async function makeSample(datasets, spec) {
  const archive = path.join(datasets, spec.source);
  const names = new Set(Object.keys(spec.members));
  const found = await readMembers(archive, names);
  const out = new Map();
  for (const [name, { recordBytes, count }] of Object.entries(spec.members)) {
    const data = found.get(name);
    if (!data) throw new Error(`${archive}: missing ${name}`);
    const bytes = count === 0 ? data.length : count * recordBytes;
    if (data.length < bytes) throw new Error(`${archive}: ${name} has fewer than ${count} records`);
    out.set(name, data.subarray(0, bytes));
  }
  const file = path.join(OUT_DIR, spec.output);
  await writeArchive(file, out);
  console.log(`${path.relative(ROOT, file)}: ${fs.statSync(file).size} bytes`);
}

async function main() {
  const datasets = path.resolve(ROOT, process.argv[2] || '../shared/datasets');
  fs.mkdirSync(OUT_DIR, { recursive: true });
  await makeSample(datasets, CIFAR10_SAMPLE);
  await makeSample(datasets, CIFAR100_SAMPLE);
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
