#!/usr/bin/env node
'use strict';
/**
 * npm run build:prebuild: (re)makes the prebuilt binary that ships in the
 * package, prebuilds/linux-x64/allcnn.libtorch1_13-cpu.napi.glibc.node, with
 * prebuildify (Node-API, stripped, libc tag), compiled by cmake-js through
 * scripts/prebuildify-backend.js, plus its manifest (.json beside it).
 *
 * Run it on a machine with Debian's libtorch-dev (LIBTORCH and
 * LIBTORCH_USE_PYTORCH unset) whenever native/* or CMakeLists.txt change,
 * and commit prebuilds/: test/pack.test.ts fails while the prebuild was built
 * from other native sources.
 *
 * File name: prebuildify's tags (name, napi, libc) with allcnn's LibTorch
 * flavour in the name part: node-gyp-build would ignore that tag, so the
 * loader (scripts/libtorch.js) picks among prebuilds itself, by manifest.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const prebuildify = require('prebuildify');
const lt = require('./libtorch');
const { probe } = require('./build-native');

const ROOT = lt.ROOT;

function fail(msg) {
  console.error(`allcnn prebuild: ${msg}`);
  process.exit(1);
}

const found = lt.findLibTorch();
if (found.requested || found.requestError) fail('unset LIBTORCH and LIBTORCH_USE_PYTORCH: prebuilds are made against the system LibTorch (Debian libtorch-dev), whose folder is the same on every machine');
if (!found.system) fail(`no system LibTorch: ${lt.FIX.debian}`);

const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'allcnn-prebuild-'));
const tag = lt.flavourTag(found.system.version, found.system.cuda);
const opts = {
  cwd: stage,
  out: ROOT,
  napi: true,
  strip: true,
  tagLibc: true,
  // prebuildify names a Node-API build by its name alone (no napi/abi tag): say napi.
  name: `allcnn.${tag}.napi`,
  nodeGyp: path.join(__dirname, 'prebuildify-backend.js'),
};
prebuildify(opts, (err) => {
  if (err) fail(err.message);
  const manifest = JSON.parse(fs.readFileSync(path.join(stage, 'build', 'Release', 'manifest.json'), 'utf8'));
  fs.rmSync(stage, { recursive: true, force: true });
  const dir = path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  const file = fs.readdirSync(dir).map((f) => path.join(dir, f)).find((f) => path.basename(f).startsWith(`allcnn.${tag}.`) && f.endsWith('.node'));
  if (!file) fail(`prebuildify left no allcnn.${tag}.*.node in ${dir}`);
  if (lt.flavourTag(manifest.libtorch, manifest.cuda) !== tag) fail(`built against LibTorch ${manifest.libtorch}, expected ${tag}`);
  // The stripped file is what ships: describe that one.
  const p = probe(file);
  if (p.error) fail(`${path.relative(ROOT, file)} does not load: ${p.error}`);
  const { sha256, ...rest } = manifest;
  void sha256;
  require('./build-native').writeManifest(file, { ...rest, source: 'system', sha256: lt.fileHash(file) });
  const kb = Math.round(fs.statSync(file).size / 1024);
  console.log(`allcnn: ${path.relative(ROOT, file)} (${kb} KiB) for LibTorch ${manifest.libtorch} (${manifest.cuda ? 'CUDA' : 'CPU'}) in ${manifest.libdir}; commit prebuilds/`);
});
