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
 *   NODE=/path/to/node ./allcnn-bundle/run.sh bench --device cuda     (npm-free: see run.sh)
 *
 * `npm run bundle -- --with-tests` adds jest and the compiled tests
 * (run.sh test), about 13 MB more.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const outDir = path.resolve(process.argv.slice(2).find((a) => !a.startsWith('--')) || path.join(root, 'bundle'));
const stage = path.join(outDir, 'allcnn-bundle');

const withTests = process.argv.includes('--with-tests');

/**
 * The installed folders (node_modules/...) of `names` and everything they
 * depend on, resolved from package-lock.json the way Node resolves them:
 * a nested node_modules first, then each parent's. (`npm ls <name>` lists
 * only the package itself, not what it needs.)
 */
function closure(names) {
  const lock = require(path.join(root, 'package-lock.json')).packages;
  const found = new Set();
  const resolve = (from, name) => {
    for (let dir = from; ; dir = dir.includes('/node_modules/') ? dir.slice(0, dir.lastIndexOf('/node_modules/')) : '') {
      const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (lock[key]) return key;
      if (!dir) return null;
    }
  };
  const visit = (key) => {
    if (!key || found.has(key) || !fs.existsSync(path.join(root, key))) return; // optional, other platforms
    found.add(key);
    const pkg = lock[key];
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) visit(resolve(key, dep));
  };
  for (const name of names) visit(resolve('', name));
  return [...found];
}

const pkg = require(path.join(root, 'package.json'));
const needed = closure([
  ...Object.keys(pkg.dependencies),
  'cmake-js', 'node-addon-api', 'node-api-headers',
  ...(withTests ? ['jest'] : []),
]).map((key) => path.join(root, key));

fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });
// The tests also read a few files beside the compiled ones: the fuzzer takes the
// addon's signatures from lib/native.ts, and report.test a recorded experiment.
const testFiles = withTests ? ['lib/native.ts', 'test/fixtures-results'] : [];
for (const item of ['dist', 'bin', 'fixtures', 'native', 'scripts', 'prebuilds', 'CMakeLists.txt', 'package.json', 'README.md', 'docs/MEMORY.md', 'docs/RESULTS.md', 'docs/runs', ...testFiles]) {
  const src = path.join(root, item);
  if (!fs.existsSync(src)) continue;
  fs.mkdirSync(path.dirname(path.join(stage, item)), { recursive: true });
  // The compiled tests come with --with-tests only, as jest does.
  const filter = (file) => withTests || !path.relative(path.join(root, 'dist'), file).startsWith('test');
  fs.cpSync(src, path.join(stage, item), { recursive: true, filter });
}
for (const dir of needed) {
  const rel = path.relative(root, dir);
  if (!rel.startsWith('node_modules')) continue;
  // Nested node_modules are copied as packages of their own, when needed.
  fs.cpSync(dir, path.join(stage, rel), { recursive: true, dereference: true, filter: (src) => !path.relative(dir, src).startsWith('node_modules') });
}

fs.writeFileSync(path.join(stage, 'run.sh'), `#!/usr/bin/env bash
# allcnn launcher for a host without npm: builds the addon on first use
# (against python3's torch when there is one), then runs \`allcnn "$@"\`.
#   NODE=/path/to/node ./run.sh <allcnn command> [options]
#   NODE=/path/to/node ./run.sh bench [--device cuda ...]      (the training-step benchmark)
#   NODE=/path/to/node ./run.sh test [jest args]                (the test suite; bundles made with --with-tests)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
NODE="\${NODE:-$(command -v node || echo "$HERE/node")}"
[ -x "$NODE" ] || { echo "run.sh: no Node.js binary: set NODE=/path/to/node" >&2; exit 1; }
export PATH="$(dirname "$NODE"):$PATH"   # CMakeLists.txt asks \`node\` for node-addon-api
cd "$HERE"
if [ ! -f build/Release/allcnn.node ]; then
  # LIBTORCH (if set) wins; else python3's torch; else the system LibTorch.
  if [ -z "\${LIBTORCH:-}" ] && python3 -c 'import torch' 2>/dev/null; then export LIBTORCH_USE_PYTORCH=1; fi
  # A shipped prebuilt that goes with that LibTorch needs no build: the loader picks it.
  if ! "$NODE" -e "process.exit(require('./scripts/libtorch.js').choose().chosen ? 0 : 1)" 2>/dev/null; then
    echo "run.sh: building the addon (once)" >&2
    # cmake-js, then a manifest the loader checks; doctor runs even if it fails, to say what is missing.
    "$NODE" scripts/build-native.js >&2 || [ "\${1:-}" = doctor ] || { echo "run.sh: the build failed; see above (./run.sh doctor says what was found)" >&2; exit 1; }
  fi
fi
case "\${1:-}" in
  bench) shift; exec "$NODE" dist/bench/train-step.js "$@" ;;
  bench:ops) shift; exec "$NODE" dist/bench/ops.js "$@" ;;
  bench:concurrency) shift; exec "$NODE" dist/bench/concurrency.js "$@" ;;
  bench:profile) shift; exec "$NODE" dist/bench/profile.js "$@" ;;
  test)
    shift
    [ -d node_modules/jest ] || { echo "run.sh: this bundle has no tests: make it with npm run bundle -- --with-tests" >&2; exit 1; }
    exec "$NODE" node_modules/jest/bin/jest.js --runInBand "$@" ;;
  *) exec "$NODE" bin/allcnn.js "$@" ;;
esac
`, { mode: 0o755 });

const tarball = path.join(outDir, 'allcnn-bundle.tar.gz');
execFileSync('tar', ['czf', tarball, '-C', outDir, 'allcnn-bundle']);
for (const f of fs.readdirSync(outDir)) if (f.startsWith('allcnn-bundle.tar.gz.part-')) fs.rmSync(path.join(outDir, f));
execFileSync('split', ['-b', '50M', '-d', tarball, `${tarball}.part-`]);
const size = fs.statSync(tarball).size;
console.log(`bundle: ${path.relative(process.cwd(), stage)}/ and ${path.relative(process.cwd(), tarball)} (${(size / 1e6).toFixed(1)} MB, ${fs.readdirSync(outDir).filter((f) => f.includes('.part-')).length} part(s) of <= 50 MB)`);
