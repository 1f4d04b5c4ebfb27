#!/usr/bin/env node
'use strict';
// The `allcnn` command; the code lives in dist/lib/cli (compiled TypeScript).
require('../dist/lib/cli/main').main(process.argv).catch((err) => {
  // Errors of the addon's loader name allcnn already ("allcnn: no LibTorch found"): not twice.
  const message = String(err && err.message ? err.message : err).replace(/^allcnn: /, '');
  if (!err?.printed) process.stderr.write(`allcnn: ${message}\n`);
  // 130: stopped by Ctrl-C (SIGINT), as shells report an interrupted command.
  process.exit(typeof err?.exitCode === 'number' ? err.exitCode : err?.name === 'AbortError' ? 130 : 1);
});
