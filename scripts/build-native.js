#!/usr/bin/env node
'use strict';
/**
 * npm run build:native: compiles the addon from source with cmake-js into
 * build/Release/allcnn.node (CMakeLists.txt finds LibTorch: LIBTORCH, then
 * LIBTORCH_USE_PYTORCH=1, then the system's), loads it once in a child process
 * and writes its manifest, build/Release/allcnn.json, which the loader
 * (scripts/libtorch.js) reads to pick a binary that matches the LibTorch found.
 *
 *   node scripts/build-native.js [extra cmake-js arguments, e.g. --debug]
 *
 * Downloads nothing: package.json's "binary": {"napi_versions": [8]} makes
 * cmake-js take the Node-API headers from the node-api-headers package.
 */
const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const lt = require('./libtorch');

const ROOT = lt.ROOT;

/** Tools a source build needs that are missing, each with what to install. */
function missingTools(env = process.env) {
  const missing = [];
  const cmake = childProcess.spawnSync('cmake', ['--version'], { encoding: 'utf8' });
  const v = /cmake version (\d+)\.(\d+)/.exec(cmake.stdout || '');
  if (!v) missing.push({ what: 'cmake', install: 'cmake' });
  else if (Number(v[1]) < 3 || (Number(v[1]) === 3 && Number(v[2]) < 18)) missing.push({ what: `cmake >= 3.18 (found ${v[1]}.${v[2]})`, install: 'cmake' });
  const compilers = env.CXX ? [env.CXX.split(' ')[0]] : ['c++', 'g++', 'clang++'];
  if (!compilers.some((c) => !childProcess.spawnSync(c, ['--version'], { stdio: 'ignore' }).error)) missing.push({ what: 'a C++17 compiler', install: 'g++' });
  if (['ninja', 'make'].every((t) => childProcess.spawnSync(t, ['--version'], { stdio: 'ignore' }).error)) missing.push({ what: 'make or ninja', install: 'make' });
  for (const mod of ['cmake-js/package.json', 'node-api-headers', 'node-addon-api']) {
    try {
      require.resolve(mod, { paths: [ROOT] });
    } catch {
      missing.push({ what: `the npm package ${mod.split('/')[0]}`, npm: mod.split('/')[0] });
    }
  }
  return missing;
}

function missingToolsMessage(missing) {
  const apt = missing.filter((m) => m.install).map((m) => m.install);
  const npm = missing.filter((m) => m.npm).map((m) => m.npm);
  const lines = [`allcnn: building the addon from source needs ${missing.map((m) => m.what).join(', ')}.`, 'Install them, then run the build again (npx allcnn doctor --build):'];
  if (apt.length) lines.push(`  apt-get install -y ${apt.join(' ')}   (or your system's packages for them)`);
  if (npm.length) lines.push(`  npm install ${npm.join(' ')}`);
  return lines.join('\n');
}

/**
 * Loads a binary in a child process and returns its backend_info(), or an
 * error message (a missing library, an undefined symbol...).
 */
function probe(file, env = process.env) {
  const code = `const a = require(${JSON.stringify(file)}); process.stdout.write(JSON.stringify(a.backend_info()))`;
  // UCX's memory hooks off, as lib/native.ts does (see keepUcxOffTheHeap there).
  const childEnv = { UCX_MEM_MMAP_HOOK_MODE: 'none', ...env };
  const r = childProcess.spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: childEnv, timeout: 120000 });
  if (r.status === 0) {
    try {
      return { info: JSON.parse(r.stdout) };
    } catch {
      /* fall through */
    }
  }
  const err = (r.stderr || '').split('\n').find((l) => /Error|error:|undefined symbol|cannot open/.test(l)) || (r.error ? r.error.message : `exit ${r.status}`);
  return { error: err.trim() };
}

/** The manifest of a built binary, from what it reports once loaded. */
function manifestFor(file, info, extra = {}) {
  return {
    libtorch: info.compiledVersion,
    loadedVersion: info.loadedVersion,
    libdir: path.dirname(info.libraryPath),
    cuda: info.builtWithCuda,
    cxx11Abi: info.cxx11Abi,
    napi: lt.NAPI_VERSION,
    platform: process.platform,
    arch: process.arch,
    sources: lt.sourcesHash(ROOT),
    sha256: lt.fileHash(file),
    ...extra,
  };
}

function writeManifest(file, manifest) {
  fs.writeFileSync(lt.manifestPath(file), `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * A build folder configured for another LibTorch keeps it in CMakeCache.txt
 * (Torch_DIR): start that configuration afresh so the LibTorch found is used.
 */
function forgetOtherLibTorch(target) {
  const cache = path.join(ROOT, 'build', 'CMakeCache.txt');
  let text;
  try {
    text = fs.readFileSync(cache, 'utf8');
  } catch {
    return;
  }
  const m = /^Torch_DIR:PATH=(.*)$/m.exec(text);
  if (!m || m[1].endsWith('-NOTFOUND')) return;
  let torchDir = m[1];
  try {
    torchDir = fs.realpathSync(torchDir);
  } catch {
    /* gone: reconfigure */
  }
  if (torchDir.startsWith(`${target.root}${path.sep}`)) return;
  console.error(`allcnn: build/ was configured for the LibTorch in ${m[1]}; reconfiguring for ${lt.flavour(target)}`);
  fs.rmSync(cache, { force: true });
  fs.rmSync(path.join(ROOT, 'build', 'CMakeFiles'), { recursive: true, force: true });
}

/**
 * Builds build/<Release|Debug>/allcnn.node and its manifest.
 * Returns { file, manifest } or { error } (a message saying what to do).
 */
function build(args = [], { env = process.env, stdio = 'inherit' } = {}) {
  const missing = missingTools(env);
  if (missing.length) return { error: missingToolsMessage(missing) };
  const found = lt.findLibTorch(env);
  if (!found.target) return { error: lt.howToFix({ found, candidates: [] }) };
  forgetOtherLibTorch(found.target);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [ROOT] });
  const compile = (e) => childProcess.spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build', ...args], { cwd: ROOT, env: e, stdio });
  const config = args.includes('--debug') || args.includes('-D') ? 'Debug' : 'Release';
  const file = path.join(ROOT, 'build', config, 'allcnn.node');
  let r = compile(env);
  if (r.status !== 0 && found.target.source !== 'system' && !env.ALLCNN_TORCH_ROOT) {
    // LibTorch's CMake config can fail on things the addon does not need (the
    // CUDA toolkit's version, cuDNN, nvToolsExt): build again with its
    // include/ and lib/ folders directly (CMakeLists.txt, ALLCNN_TORCH_ROOT).
    const root = found.target.root;
    console.error(`allcnn: LibTorch's CMake config is missing or failed; building again with ${root}/include and ${root}/lib directly`);
    fs.rmSync(path.join(ROOT, 'build', 'CMakeCache.txt'), { force: true });
    fs.rmSync(path.join(ROOT, 'build', 'CMakeFiles'), { recursive: true, force: true });
    r = compile({ ...env, ALLCNN_TORCH_ROOT: root, ALLCNN_TORCH_CXX11_ABI: found.target.cxx11Abi === false ? '0' : '1' });
  }
  if (r.status !== 0 || !fs.existsSync(file)) {
    return {
      error:
        `allcnn: the addon did not build against ${lt.flavour(found.target)} (cmake-js exited with ${r.status}; its output is above).\n` +
        'Check that this LibTorch is complete (headers in include/, share/cmake/Torch/) and that the compiler supports C++17,\n' +
        `or use the prebuilt binary instead: ${lt.FIX.debian}, with LIBTORCH and LIBTORCH_USE_PYTORCH unset.`,
    };
  }
  const p = probe(file, env);
  if (p.error) {
    return { error: `allcnn: ${path.relative(ROOT, file)} was built but does not load: ${p.error}\nRun \`npx allcnn doctor\` to see what was found.` };
  }
  const manifest = manifestFor(file, p.info, { source: found.target.source });
  writeManifest(file, manifest);
  return { file, manifest };
}

module.exports = { build, probe, manifestFor, writeManifest, missingTools, missingToolsMessage, forgetOtherLibTorch };

if (require.main === module) {
  const r = build(process.argv.slice(2));
  if (r.error) {
    console.error(r.error);
    process.exit(1);
  }
  const m = r.manifest;
  console.log(`allcnn: built ${path.relative(ROOT, r.file)} against LibTorch ${m.libtorch} (${m.cuda ? 'CUDA' : 'CPU'}) in ${m.libdir}`);
}
