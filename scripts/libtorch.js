'use strict';
/**
 * Which LibTorch this machine has, and which allcnn addon binary goes with it.
 *
 * Plain CommonJS without dependencies, shared by the install script
 * (scripts/install.js, which runs before any TypeScript is compiled), the
 * loader (lib/native.ts) and `allcnn doctor`.
 *
 * Every binary that allcnn's scripts make has a manifest beside it
 * (allcnn.node -> allcnn.json): the LibTorch version it was compiled against,
 * the folder that LibTorch was loaded from, CPU or CUDA, the C++ ABI, and a
 * hash of the native sources. A binary is used only when the LibTorch in that
 * folder is still the version and flavour (CPU/CUDA) it was built for, and,
 * when LIBTORCH or LIBTORCH_USE_PYTORCH names a LibTorch, only when it is
 * that one.
 *
 * Candidates, in order (the first that is not a mismatch wins):
 *   1. ALLCNN_BINARY=/path/to/allcnn.node   (forced; still checked)
 *   2. build/Release/allcnn.node            (built from source on this machine)
 *   3. build/Debug/allcnn.node
 *   4. prebuilds/<platform>-<arch>/*.node   (shipped in the package, made by
 *                                            `npm run build:prebuild`)
 * A binary without a manifest (built by running cmake-js directly) is
 * "unverified": it is loaded, and its LibTorch is checked right after.
 */
const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
/** Node-API version the addon is compiled for (package.json "binary.napi_versions"). */
const NAPI_VERSION = 8;

const FIX = {
  debian: 'apt-get install -y libtorch-dev   (Debian/Ubuntu: LibTorch 1.13 for CPU; the prebuilt binary in the package then works with no compiler)',
  folder: 'LIBTORCH=/path/to/libtorch npx allcnn doctor --build   (an unpacked LibTorch zip; needs cmake and a C++ compiler)',
  pytorch: 'LIBTORCH_USE_PYTORCH=1 npx allcnn doctor --build   (the LibTorch inside python3\'s torch, CPU or CUDA; needs cmake and a C++ compiler)',
};

function majorMinor(v) {
  return String(v).split('+')[0].split('.').slice(0, 2).join('.');
}

function realpath(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function readdir(dir) {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function flavour(lt) {
  return `LibTorch ${lt.version} (${lt.cuda ? 'CUDA' : 'CPU'}) in ${lt.libdir}`;
}

/**
 * The LibTorch in a lib folder, read the way native/backend.cc reads the loaded
 * one: the version from the file name (Debian: libtorch_cpu.so.1.13.0), from
 * ../version.py (a PyTorch install) or ../build-version (a LibTorch zip).
 */
function libtorchAt(libdir, source = 'folder') {
  const files = readdir(libdir);
  if (!files.some((f) => /^libtorch_cpu\.(so|dylib)(\.|$)/.test(f) || f === 'torch_cpu.dll')) return null;
  let version = 'unknown';
  const versioned = files.map((f) => /^libtorch_cpu\.so\.(\d+\.\d+(\.\d+)?)$/.exec(f)).filter(Boolean);
  if (versioned.length) {
    version = versioned.map((m) => m[1]).sort((a, b) => b.length - a.length)[0];
  } else {
    try {
      const m = /__version__\s*=\s*'([^']+)'/.exec(fs.readFileSync(path.join(libdir, '..', 'version.py'), 'utf8'));
      if (m) version = m[1];
    } catch {
      try {
        const line = fs.readFileSync(path.join(libdir, '..', 'build-version'), 'utf8').trim();
        if (line) version = line;
      } catch {
        /* unknown */
      }
    }
  }
  const cuda = files.some((f) => /^libtorch_cuda\.(so|dylib)(\.|$)/.test(f) || f === 'torch_cuda.dll');
  // libdir: where the libraries really are, as the loaded addon reports it
  // (Debian's python3-torch links torch/lib/*.so to the system's); root: the
  // folder with include/ and lib/, for a build that skips LibTorch's CMake config.
  const cpu = files.find((f) => /^libtorch_cpu\.(so|dylib)$/.test(f));
  const real = cpu ? path.dirname(realpath(path.join(libdir, cpu))) : realpath(libdir);
  return { source, libdir: real, root: path.dirname(realpath(libdir)), version, cuda };
}

/** Debian's libtorch-dev (or another LibTorch in a system library folder). */
function systemLibTorch() {
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  for (const dir of dirs) {
    const lt = libtorchAt(dir, 'system');
    if (lt) return lt;
  }
  return null;
}

/** The LibTorch inside python3's torch (LIBTORCH_USE_PYTORCH=1), or an error. */
function pytorchLibTorch(python = process.env.PYTHON || 'python3') {
  const code =
    'import json, os, torch; print(json.dumps({"dir": os.path.dirname(torch.__file__), "version": torch.__version__, ' +
    '"cuda": torch.version.cuda, "abi": bool(torch._C._GLIBCXX_USE_CXX11_ABI)}))';
  const r = childProcess.spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0 || !r.stdout) {
    const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop() || `exit ${r.status}`;
    return { error: `LIBTORCH_USE_PYTORCH=1 but \`${python} -c "import torch"\` failed: ${why}` };
  }
  const p = JSON.parse(r.stdout.trim().split('\n').pop());
  const lt = libtorchAt(path.join(p.dir, 'lib'), 'pytorch');
  if (!lt) return { error: `PyTorch ${p.version} at ${p.dir} has no lib/libtorch_cpu` };
  return { ...lt, version: p.version, cuda: lt.cuda || !!p.cuda, cxx11Abi: p.abi };
}

/**
 * The LibTorch the user asked for (LIBTORCH, then LIBTORCH_USE_PYTORCH=1, as
 * CMakeLists.txt looks for it), and the system one.
 */
function findLibTorch(env = process.env) {
  const found = { requested: null, requestError: null, system: systemLibTorch() };
  if (env.LIBTORCH) {
    const lt = libtorchAt(path.join(env.LIBTORCH, 'lib'), 'LIBTORCH');
    if (lt) found.requested = lt;
    else found.requestError = `LIBTORCH=${env.LIBTORCH} has no lib/libtorch_cpu.so (it should be an unpacked LibTorch folder, with lib/ and share/cmake/Torch/)`;
  } else if (env.LIBTORCH_USE_PYTORCH === '1') {
    const lt = pytorchLibTorch();
    if (lt.error) found.requestError = lt.error;
    else found.requested = lt;
  }
  /** The LibTorch a source build would use. */
  found.target = found.requestError ? null : found.requested || found.system;
  return found;
}

/** sha256 of the native sources (native/*, CMakeLists.txt): which sources a binary was built from. */
function sourcesHash(root = ROOT) {
  const h = crypto.createHash('sha256');
  const files = ['CMakeLists.txt', ...readdir(path.join(root, 'native')).sort().map((f) => path.join('native', f))];
  for (const f of files) {
    let data;
    try {
      data = fs.readFileSync(path.join(root, f));
    } catch {
      continue;
    }
    h.update(`${f.split(path.sep).join('/')}\0${data.length}\0`);
    h.update(data);
  }
  return h.digest('hex');
}

function fileHash(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function manifestPath(binary) {
  return binary.replace(/\.node$/, '.json');
}

/** The prebuild's file name tag for a LibTorch flavour: libtorch1_13-cpu. */
function flavourTag(version, cuda) {
  return `libtorch${majorMinor(version).replace('.', '_')}-${cuda ? 'cuda' : 'cpu'}`;
}

/** Node-gyp-build's tags (runtime, napi/abi, uv, armv, libc) plus ours (libtorchX_Y-cpu|cuda). */
function prebuildTags(file) {
  const tags = { file };
  for (const tag of path.basename(file).replace(/\.node$/, '').split('.')) {
    if (tag === 'napi') tags.napi = true;
    else if (/^abi\d+$/.test(tag)) tags.abi = tag.slice(3);
    else if (tag === 'glibc' || tag === 'musl') tags.libc = tag;
    else if (/^libtorch\d+_\d+-(cpu|cuda)$/.test(tag)) tags.libtorch = tag;
  }
  return tags;
}

function thisLibc() {
  return process.platform === 'linux' && fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
}

/** Addon binaries allcnn could load, in order of preference. */
function candidates(root = ROOT, env = process.env) {
  const list = [];
  if (env.ALLCNN_BINARY) list.push({ file: path.resolve(env.ALLCNN_BINARY), kind: 'forced (ALLCNN_BINARY)' });
  for (const cfg of ['Release', 'Debug']) {
    const file = path.join(root, 'build', cfg, 'allcnn.node');
    if (fs.existsSync(file)) list.push({ file, kind: `built on this machine (build/${cfg})` });
  }
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  for (const f of readdir(dir).filter((n) => n.endsWith('.node')).sort()) {
    const tags = prebuildTags(f);
    if (tags.abi && !tags.napi && tags.abi !== process.versions.modules) continue;
    if (tags.libc && tags.libc !== thisLibc()) continue;
    list.push({ file: path.join(dir, f), kind: 'prebuilt (shipped in the package)' });
  }
  for (const c of list) {
    c.manifest = null;
    try {
      const m = JSON.parse(fs.readFileSync(manifestPath(c.file), 'utf8'));
      if (m.sha256 && m.sha256 !== fileHash(c.file)) c.manifestProblem = `${path.basename(manifestPath(c.file))} describes another build of this file`;
      else c.manifest = m;
    } catch {
      c.manifestProblem = 'no manifest beside it (built outside `npm run build:native`)';
    }
  }
  return list;
}

/**
 * Whether a binary goes with the LibTorch on this machine:
 * 'match', 'mismatch' (never loaded) or 'unverified' (no manifest: checked after loading).
 */
function judge(c, found) {
  const m = c.manifest;
  if (!m) return { status: 'unverified', reason: `${c.manifestProblem}; its LibTorch is checked after loading` };
  const built = `built against LibTorch ${m.libtorch} (${m.cuda ? 'CUDA' : 'CPU'}) in ${m.libdir}`;
  if (m.platform && (m.platform !== process.platform || m.arch !== process.arch)) return { status: 'mismatch', reason: `built for ${m.platform}-${m.arch}` };
  if (m.napi && Number(process.versions.napi) < m.napi) return { status: 'mismatch', reason: `needs Node-API ${m.napi}; this Node has ${process.versions.napi}` };
  if (found.requestError) return { status: 'mismatch', reason: found.requestError };
  const there = libtorchAt(m.libdir);
  if (!there) return { status: 'mismatch', reason: `${built}, but there is no LibTorch there now` };
  if (there.version !== 'unknown' && majorMinor(there.version) !== majorMinor(m.libtorch)) {
    return { status: 'mismatch', reason: `${built}, but that folder now has LibTorch ${there.version}` };
  }
  if (m.cuda && !there.cuda) return { status: 'mismatch', reason: `${built}, but libtorch_cuda is no longer there` };
  if (!m.cuda && there.cuda) return { status: 'mismatch', reason: `${built}, but that LibTorch has CUDA: a CPU-only build would leave libtorch_cuda unloaded` };
  const want = found.requested;
  if (want && realpath(want.libdir) !== realpath(m.libdir)) {
    const by = want.source === 'LIBTORCH' ? `LIBTORCH=${process.env.LIBTORCH}` : 'LIBTORCH_USE_PYTORCH=1';
    return { status: 'mismatch', reason: `${built}; ${by} asks for ${flavour(want)}` };
  }
  return { status: 'match', reason: built };
}

/**
 * The binary to load: { found, candidates (each with status and reason), chosen }.
 * chosen is null when none goes with this machine's LibTorch.
 */
function choose(root = ROOT, env = process.env) {
  const found = findLibTorch(env);
  const list = candidates(root, env);
  for (const c of list) Object.assign(c, judge(c, found));
  const chosen = list.find((c) => c.status !== 'mismatch') || null;
  return { found, candidates: list, chosen };
}

/** What to do when no binary can be loaded: one message, with what to install. */
function howToFix(sel) {
  const lines = [];
  const { found } = sel;
  if (found.requestError) {
    lines.push(`allcnn: ${found.requestError}.`);
  } else if (!found.target) {
    lines.push('allcnn: no LibTorch found (LIBTORCH is unset, LIBTORCH_USE_PYTORCH is not 1, and there is no system LibTorch such as Debian\'s libtorch-dev).');
  } else {
    lines.push(`allcnn: no addon binary goes with ${flavour(found.target)}.`);
  }
  if (!found.requestError) for (const c of sel.candidates) lines.push(`  - ${path.relative(ROOT, c.file) || c.file}: ${c.reason}`);
  lines.push('Fix it one of these ways:');
  if (found.requestError) {
    // What the user set is what is wrong: undoing it comes first (installing libtorch-dev, already there, would not help).
    const name = found.requestError.startsWith('LIBTORCH=') ? 'LIBTORCH' : 'LIBTORCH_USE_PYTORCH';
    const unset = found.system ? `unset ${name} to use the system ${flavour(found.system)}` : `unset ${name}, then ${FIX.debian}`;
    lines.push(`  1. ${unset}`, `  2. or ${name === 'LIBTORCH' ? 'point LIBTORCH at an unpacked LibTorch: ' + FIX.folder : 'make python3\'s torch importable: ' + FIX.pytorch}`);
  } else if (!found.target) {
    lines.push(`  1. ${FIX.debian}`, `  2. ${FIX.folder}`, `  3. ${FIX.pytorch}`);
  } else {
    const env = found.target.source === 'LIBTORCH' ? `LIBTORCH=${process.env.LIBTORCH} ` : found.target.source === 'pytorch' ? 'LIBTORCH_USE_PYTORCH=1 ' : '';
    lines.push(`  1. build the addon for it: ${env}npx allcnn doctor --build   (needs cmake >= 3.18 and a C++17 compiler: apt-get install -y cmake g++)`);
    lines.push(`     (npm runs the same build at install time where install scripts are allowed: \`npm install-scripts approve allcnn && npm rebuild allcnn\`)`);
    if (!(found.system && majorMinor(found.system.version) === '1.13' && !found.system.cuda)) lines.push(`  2. or use the prebuilt binary: ${FIX.debian}, with LIBTORCH and LIBTORCH_USE_PYTORCH unset`);
  }
  lines.push('Run `npx allcnn doctor` to see what was found.');
  return lines.join('\n');
}

module.exports = {
  ROOT,
  NAPI_VERSION,
  FIX,
  majorMinor,
  libtorchAt,
  systemLibTorch,
  pytorchLibTorch,
  findLibTorch,
  sourcesHash,
  fileHash,
  manifestPath,
  flavourTag,
  flavour,
  prebuildTags,
  candidates,
  judge,
  choose,
  howToFix,
};
