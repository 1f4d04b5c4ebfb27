#!/usr/bin/env node
'use strict';
/**
 * The package's install script (npm install / npm ci / npm rebuild).
 *
 * 1. A binary that matches the LibTorch found and was built from these native
 *    sources loads: nothing to do. With Debian's libtorch-dev (LibTorch 1.13,
 *    CPU) that is the prebuilt binary in prebuilds/, so no compiler runs.
 * 2. Otherwise, if a LibTorch is found (LIBTORCH, LIBTORCH_USE_PYTORCH=1, or a
 *    system one of another version), build from source with cmake-js.
 * 3. Otherwise stop with one message that says what to install.
 *
 * Downloads nothing. ALLCNN_SKIP_INSTALL=1 skips all of it (the pure
 * TypeScript parts still work; `npx allcnn doctor --build` builds later).
 *
 * npm 11 asks projects to approve dependencies' install scripts: unreviewed,
 * this script still runs (with a notice); denied (`"allowScripts": {"allcnn":
 * false}`), it does not, and the prebuilt binary is used where it matches.
 */
const path = require('node:path');
const lt = require('./libtorch');
const { build, probe } = require('./build-native');

function log(msg) {
  process.stdout.write(`${msg}\n`);
}

function main() {
  if (process.env.ALLCNN_SKIP_INSTALL === '1') {
    log('allcnn: ALLCNN_SKIP_INSTALL=1: no addon check or build');
    return 0;
  }
  const sel = lt.choose();
  const current = lt.sourcesHash();
  let stale = null;
  for (const c of sel.candidates) {
    if (c.status !== 'match') continue;
    const p = probe(c.file);
    if (p.error) {
      c.status = 'mismatch';
      c.reason = `does not load: ${p.error}`;
      continue;
    }
    if (c.manifest.sources !== current) {
      stale = stale || c;
      continue;
    }
    log(`allcnn: using ${path.relative(lt.ROOT, c.file)}, ${c.kind}: ${c.reason}; nothing to build`);
    return 0;
  }
  if (!sel.found.target) {
    console.error(lt.howToFix(sel));
    return 1;
  }
  log(`allcnn: no binary goes with ${lt.flavour(sel.found.target)}: building from source with cmake-js`);
  for (const c of sel.candidates) log(`  - ${path.relative(lt.ROOT, c.file)}: ${c.status === 'match' ? 'built from other native sources' : c.reason}`);
  const r = build([], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error && stale) {
    // Better an addon from slightly older native sources than none.
    console.error(`${r.error}\nallcnn: using ${path.relative(lt.ROOT, stale.file)} meanwhile (built from older native sources)`);
    return 0;
  }
  if (r.error) {
    console.error(r.error);
    return 1;
  }
  log(`allcnn: built ${path.relative(lt.ROOT, r.file)} against LibTorch ${r.manifest.libtorch} (${r.manifest.cuda ? 'CUDA' : 'CPU'}) in ${r.manifest.libdir}`);
  return 0;
}

process.exitCode = main();
