/**
 * `allcnn doctor`: what LibTorch and which addon binary were found, which
 * binary was loaded and why, CUDA and cuDNN status, and how to fix each
 * problem seen. `allcnn doctor --build` builds the addon from source for the
 * LibTorch found (what the install script does when no binary matches).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import type { BinarySelection, LibTorchInstall } from '../native';
import { packageJson } from './package-json';

const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Check {
  ok: boolean;
  what: string;
  fix?: string;
  /** A note that does not fail the doctor (exit code stays 0). */
  warning?: boolean;
}

function pytorch(): string | null {
  try {
    return execFileSync('python3', ['-c', 'import torch; print(torch.__version__, torch.__file__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20000 }).trim();
  } catch {
    return null;
  }
}

/** Whether this machine shows an NVIDIA GPU at all (driver device nodes). */
function gpuPresent(): boolean {
  try {
    return fs.readdirSync('/dev').some((f) => /^nvidia\d+$/.test(f));
  } catch {
    return false;
  }
}

function describe(lt: LibTorchInstall | null): string | null {
  return lt ? `LibTorch ${lt.version} (${lt.cuda ? 'CUDA' : 'CPU'}) in ${lt.libdir}` : null;
}


/**
 * UCX, when a LibTorch linked with OpenMPI brings it in: its memory hooks
 * crash Node at random, so lib/native.ts turns them off (see
 * keepUcxOffTheHeap there). `maps` is /proc/self/maps; null when UCX is not loaded.
 */
export function ucxCheck(maps: string, mode: string | undefined): Check | null {
  if (!/\/libucm\.so/.test(maps)) return null;
  if (mode === 'none') return { ok: true, what: 'UCX (linked by this LibTorch through OpenMPI) is loaded with its memory hooks off' };
  return {
    ok: false,
    warning: true,
    what: `UCX's memory hooks are on (UCX_MEM_MMAP_HOOK_MODE=${mode}): with them, Node can die at random with SIGSEGV`,
    fix: 'unset UCX_MEM_MMAP_HOOK_MODE (allcnn then sets it to none) or set it to none',
  };
}

/**
 * Whether this Node.js is one that allcnn supports: package.json's
 * `engines.node`, which is what its dependencies need (cmake-js 8 and npm 11:
 * ^20.17.0 || >=22.9.0; commander 14: >=20). An older Node may still run much
 * of it, so this warns rather than fails. Ranges of other forms are not judged.
 */
export function nodeCheck(version: string, range: string): Check | null {
  const v = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version)?.slice(1).map(Number);
  if (!v) return null;
  const atLeast = (m: number[]) => v[0] !== m[0] ? v[0] > m[0] : v[1] !== m[1] ? v[1] > m[1] : v[2] >= m[2];
  let judged = false;
  for (const alt of range.split('||').map((a) => a.trim())) {
    const m = /^(\^|>=\s*)(\d+)\.(\d+)\.(\d+)$/.exec(alt);
    if (!m) continue;
    judged = true;
    const min = m.slice(2).map(Number);
    if (atLeast(min) && (m[1] !== '^' || v[0] === min[0])) return null;
  }
  if (!judged) return null;
  return {
    ok: false,
    warning: true,
    what: `Node.js ${version} is not one allcnn supports (${range}: what its dependencies cmake-js, commander and npm 11 need)`,
    fix: 'install a current Node.js LTS (22 or 24)',
  };
}

function readMaps(): string {
  try {
    return fs.readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return '';
  }
}

export function doctorReport(): { checks: Check[]; info: Record<string, unknown> } {
  // Loaded lazily: doctor must work (and say why) when the addon cannot load.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const native = require('../native') as typeof import('../native');
  const checks: Check[] = [];
  const info: Record<string, unknown> = {};
  info.node = `${process.version} (Node-API ${process.versions.napi}, ${process.platform}-${process.arch})`;
  const node = nodeCheck(process.version, packageJson().engines?.node ?? '');
  if (node) checks.push(node);
  info.LIBTORCH = process.env.LIBTORCH ?? null;
  info.LIBTORCH_USE_PYTORCH = process.env.LIBTORCH_USE_PYTORCH ?? null;
  let sel: BinarySelection;
  try {
    sel = native.selectBinary();
  } catch (err) {
    checks.push({ ok: false, what: `could not look for LibTorch: ${(err as Error).message}` });
    return { checks, info };
  }
  const lt = native.selector();
  info.systemLibTorch = describe(sel.found.system);
  info.requestedLibTorch = describe(sel.found.requested);
  info.pytorch = pytorch();
  info.candidates = sel.candidates.map((c) => ({ file: native.shownBinary(c.file), kind: c.kind, status: c.status, reason: c.reason }));

  if (sel.found.requestError) {
    checks.push({ ok: false, what: sel.found.requestError, fix: `${lt.FIX.folder}\nor unset it to use the system LibTorch: ${lt.FIX.debian}` });
  } else if (!sel.found.target && !sel.chosen) {
    checks.push({
      ok: false,
      what: 'no LibTorch found (LIBTORCH unset, LIBTORCH_USE_PYTORCH not 1, no system LibTorch such as Debian libtorch-dev)',
      fix: `one of:\n  ${lt.FIX.debian}\n  ${lt.FIX.folder}\n  ${lt.FIX.pytorch}`,
    });
  } else if (sel.found.target) {
    checks.push({ ok: true, what: `LibTorch found: ${describe(sel.found.target)}${sel.found.requested ? ` (asked for by ${sel.found.requested.source === 'LIBTORCH' ? 'LIBTORCH' : 'LIBTORCH_USE_PYTORCH=1'})` : ''}` });
  }

  if (!sel.chosen) {
    const fix = lt.howToFix(sel).split('\n');
    if (!sel.found.requestError) checks.push({ ok: false, what: 'no addon binary goes with the LibTorch found (see above)', fix: fix.slice(fix.findIndex((l) => l.startsWith('Fix it')) + 1, -1).map((l) => l.trim()).join('\n') });
    return { checks, info };
  }

  let loaded;
  try {
    loaded = native.loadedBinary();
  } catch (err) {
    const msg = (err as Error).message;
    const abi = /undefined symbol|does not fit|compiled against/.test(msg);
    // The loader's own error (an indented second line) belongs to what failed, not to the fix.
    const [first, ...rest] = msg.split('\n');
    const raw = rest[0]?.startsWith('  ') ? ` (${rest.shift()!.trim()})` : '';
    checks.push({
      ok: false,
      what: `${abi ? 'ABI mismatch: ' : ''}${first.replace(/^allcnn: /, '')}${raw}`,
      fix: rest.join('\n'),
    });
    return { checks, info };
  }
  info.binary = native.shownBinary(loaded.file);
  info.binaryKind = loaded.kind;
  info.binaryWhy = loaded.reason;
  const m = loaded.manifest;
  if (m && m.sources !== lt.sourcesHash(ROOT)) {
    const prebuilt = loaded.kind.startsWith('prebuilt');
    checks.push({
      ok: false,
      warning: !prebuilt,
      what: `${native.shownBinary(loaded.file)} was built from other native sources than the ones in ${ROOT}`,
      fix: prebuilt ? 'build from these sources: npx allcnn doctor --build (maintainers: npm run build:prebuild, then commit prebuilds/)' : 'rebuild: npm run build:native',
    });
  }

  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const b = (require('../backend') as typeof import('../backend')).backend();
  info.backend = b;
  checks.push({ ok: true, what: `addon loaded: LibTorch ${b.loadedVersion} (compiled against ${b.compiledVersion}) from ${b.libraryPath}` });
  const ucx = ucxCheck(readMaps(), process.env.UCX_MEM_MMAP_HOOK_MODE);
  if (ucx) checks.push(ucx);
  const there = lt.libtorchAt(path.dirname(b.libraryPath));
  if (there?.cuda && !b.builtWithCuda) {
    checks.push({
      ok: false,
      what: `libtorch_cuda not loaded: ${path.dirname(b.libraryPath)} has CUDA, but ${native.shownBinary(loaded.file)} was built without it`,
      fix: `rebuild against it: ${sel.found.requested ? '' : 'LIBTORCH_USE_PYTORCH=1 (or LIBTORCH=...) '}npx allcnn doctor --build`,
    });
  } else if (!b.builtWithCuda && gpuPresent()) {
    checks.push({ ok: false, warning: true, what: 'no GPU in use: an NVIDIA GPU is present but this LibTorch is CPU-only', fix: `for CUDA: ${lt.FIX.pytorch}` });
  } else if (!b.builtWithCuda) {
    checks.push({ ok: true, what: `CPU-only LibTorch: CUDA not available (for a GPU: ${lt.FIX.pytorch})` });
  } else if (!b.cudaAvailable) {
    checks.push({
      ok: false,
      what: 'no GPU: this LibTorch has CUDA (libtorch_cuda loaded) but no CUDA device is usable',
      fix: 'check `nvidia-smi` and the NVIDIA driver (it must support this LibTorch\'s CUDA version), and that CUDA_VISIBLE_DEVICES does not hide the GPUs',
    });
  } else {
    checks.push({ ok: true, what: `CUDA ${b.cudaVersion}: ${b.cudaDeviceCount} device(s): ${b.cudaDevices.join(', ')}` });
    if (b.cudnnAvailable) checks.push({ ok: true, what: `cuDNN ${b.cudnnVersion}` });
    else checks.push({ ok: false, warning: true, what: 'cuDNN not available: convolutions run on slower CUDA kernels', fix: 'install the cuDNN that matches this CUDA version (PyTorch wheels bundle it), then rebuild: npx allcnn doctor --build' });
  }
  return { checks, info };
}

/** Builds the addon from source for the LibTorch found (scripts/build-native.js), showing the compiler's output. */
function buildFromSource(): boolean {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-native.js')], { stdio: 'inherit', cwd: ROOT });
  return r.status === 0;
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('show which LibTorch and addon binary allcnn uses, and how to fix problems')
    .option('--json', 'print JSON', false)
    .option('--build', 'first build the addon from source for the LibTorch found (needs cmake and a C++ compiler)', false)
    .action((o) => {
      if (o.build && !buildFromSource()) {
        process.exitCode = 1;
        return;
      }
      const r = doctorReport();
      if (o.json) {
        console.log(JSON.stringify(r, null, 2));
      } else {
        const i = r.info;
        console.log(`node ${i.node}`);
        console.log(`LIBTORCH=${i.LIBTORCH ?? '(unset)'}  LIBTORCH_USE_PYTORCH=${i.LIBTORCH_USE_PYTORCH ?? '(unset)'}`);
        console.log(`system LibTorch: ${i.systemLibTorch ?? 'none'}`);
        console.log(`python3 torch: ${i.pytorch ?? 'none'}`);
        const cands = (i.candidates ?? []) as Array<{ file: string; kind: string; status: string; reason: string }>;
        if (cands.length) console.log('addon binaries (the first that is not a mismatch is loaded):');
        else console.log('addon binaries: none (no build/Release, no prebuilds/ for this platform)');
        for (const c of cands) console.log(`  ${c.file === i.binary ? '*' : ' '} ${c.file}: ${c.status}: ${c.reason}`);
        if (i.binary) console.log(`addon binary: ${i.binary} (${i.binaryKind}): ${i.binaryWhy}`);
        for (const c of r.checks) {
          console.log(`${c.ok ? 'ok  ' : c.warning ? 'warn' : 'FAIL'} ${c.what}`);
          if (c.fix) console.log(`     fix: ${c.fix.replace(/\n/g, '\n     ')}`);
        }
      }
      if (r.checks.some((c) => !c.ok && !c.warning)) process.exitCode = 1;
    });
}
