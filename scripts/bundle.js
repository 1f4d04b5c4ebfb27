#!/usr/bin/env node
'use strict';
/**
 * npm run bundle: a self-contained folder + tarball for an air-gapped GPU
 * host that has only PyTorch (its LibTorch, CUDA, cuDNN), a C++ toolchain,
 * cmake and a copied Node binary. The tarball holds the compiled JS, the
 * production dependencies plus what the native build needs (cmake-js,
 * node-addon-api, node-api-headers), the native sources and a launcher,
 * run.sh, that builds the addon there on first use and runs any `allcnn`
 * command. The tarball is also split into 50 MB parts for hosts that take
 * files in pieces.
 *
 * Usage on the GPU host:
 *   cat allcnn-bundle.tar.gz.part-* > allcnn-bundle.tar.gz && tar xzf allcnn-bundle.tar.gz
 *   NODE=/path/to/node ./allcnn-bundle/run.sh doctor
 *   NODE=/path/to/node ./allcnn-bundle/run.sh bench -- --device cuda   (npm-free: see run.sh)
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const outDir = path.resolve(process.argv[2] || path.join(root, 'bundle'));
const stage = path.join(outDir, 'allcnn-bundle');

function packagesFor(args) {
  const out = execFileSync('npm', ['ls', '--all', '--parseable', ...args], { cwd: root, encoding: 'utf8' });
  return out.split('\n').filter((p) => p && p !== root);
}

const needed = new Set([
  ...packagesFor(['--omit=dev']),
  ...packagesFor(['cmake-js']),
  path.join(root, 'node_modules', 'node-addon-api'),
  path.join(root, 'node_modules', 'node-api-headers'),
]);

fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });
for (const item of ['dist', 'bin', 'fixtures', 'native', 'scripts', 'prebuilds', 'CMakeLists.txt', 'package.json', 'README.md', 'docs/MEMORY.md', 'docs/RESULTS.md']) {
  const src = path.join(root, item);
  if (!fs.existsSync(src)) continue;
  fs.mkdirSync(path.dirname(path.join(stage, item)), { recursive: true });
  fs.cpSync(src, path.join(stage, item), { recursive: true });
}
for (const dir of needed) {
  const rel = path.relative(root, dir);
  if (!rel.startsWith('node_modules')) continue;
  fs.cpSync(dir, path.join(stage, rel), { recursive: true, dereference: true });
}

fs.writeFileSync(path.join(stage, 'run.sh'), `#!/usr/bin/env bash
# allcnn launcher for a host without npm: builds the addon on first use
# (against python3's torch when there is one), then runs \`allcnn "$@"\`.
#   NODE=/path/to/node ./run.sh <allcnn command> [options]
#   NODE=/path/to/node ./run.sh bench [--device cuda ...]      (the training-step benchmark)
#   NODE=/path/to/node ./run.sh test-cuda                        (the CUDA test suite, needs jest: not bundled)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
NODE="\${NODE:-$(command -v node || echo "$HERE/node")}"
[ -x "$NODE" ] || { echo "run.sh: no Node.js binary: set NODE=/path/to/node" >&2; exit 1; }
export PATH="$(dirname "$NODE"):$PATH"   # CMakeLists.txt asks \`node\` for node-addon-api
cd "$HERE"
if [ ! -f build/Release/allcnn.node ]; then
  # LIBTORCH (if set) wins; else python3's torch; else the system LibTorch.
  if [ -z "\${LIBTORCH:-}" ] && python3 -c 'import torch' 2>/dev/null; then export LIBTORCH_USE_PYTORCH=1; fi
  echo "run.sh: building the addon (once)" >&2
  "$NODE" scripts/build-native.js >&2   # cmake-js, then a manifest the loader checks
fi
case "\${1:-}" in
  bench) shift; exec "$NODE" dist/bench/train-step.js "$@" ;;
  bench:ops) shift; exec "$NODE" dist/bench/ops.js "$@" ;;
  *) exec "$NODE" bin/allcnn.js "$@" ;;
esac
`, { mode: 0o755 });

const tarball = path.join(outDir, 'allcnn-bundle.tar.gz');
execFileSync('tar', ['czf', tarball, '-C', outDir, 'allcnn-bundle']);
for (const f of fs.readdirSync(outDir)) if (f.startsWith('allcnn-bundle.tar.gz.part-')) fs.rmSync(path.join(outDir, f));
execFileSync('split', ['-b', '50M', '-d', tarball, `${tarball}.part-`]);
const size = fs.statSync(tarball).size;
console.log(`bundle: ${path.relative(process.cwd(), stage)}/ and ${path.relative(process.cwd(), tarball)} (${(size / 1e6).toFixed(1)} MB, ${fs.readdirSync(outDir).filter((f) => f.includes('.part-')).length} part(s) of <= 50 MB)`);
