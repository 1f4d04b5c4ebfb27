#!/usr/bin/env node
'use strict';
/**
 * Stands in for node-gyp when scripts/prebuild.js runs prebuildify: prebuildify
 * calls `<node-gyp> rebuild --target=... --devdir=... --release` in its working
 * folder and takes build/Release/*.node from there. This builds with cmake-js
 * instead (the one build definition, CMakeLists.txt, with LibTorch's flags;
 * Node-API headers from node-api-headers, so nothing is downloaded, where
 * node-gyp would fetch Node's headers into --devdir), then copies the binary
 * and its manifest into prebuildify's working folder.
 */
const fs = require('node:fs');
const path = require('node:path');
const { build } = require('./build-native');

const args = process.argv.slice(2);
if (args[0] !== 'rebuild') {
  console.error(`prebuildify-backend: expected "rebuild", got: ${args.join(' ')}`);
  process.exit(1);
}
const r = build(args.includes('--debug') ? ['--debug'] : []);
if (r.error) {
  console.error(r.error);
  process.exit(1);
}
const out = path.join(process.cwd(), 'build', args.includes('--debug') ? 'Debug' : 'Release');
fs.mkdirSync(out, { recursive: true });
fs.copyFileSync(r.file, path.join(out, 'allcnn.node'));
fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(r.manifest));
