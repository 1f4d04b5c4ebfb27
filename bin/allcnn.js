#!/usr/bin/env node
'use strict';
// The `allcnn` command; the code lives in dist/lib/cli (compiled TypeScript).
require('../dist/lib/cli/main').main(process.argv).catch((err) => {
  if (!err?.printed) process.stderr.write(`allcnn: ${err && err.message ? err.message : err}\n`);
  process.exit(typeof err?.exitCode === 'number' ? err.exitCode : 1);
});
