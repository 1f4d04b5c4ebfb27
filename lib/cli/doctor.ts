/**
 * `allcnn doctor`: what LibTorch and which addon binary were found, CUDA and
 * cuDNN status, and how to fix each problem seen.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';

const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Check {
  ok: boolean;
  what: string;
  fix?: string;
}

function systemLibTorch(): string | null {
  for (const dir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']) {
    const hit = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => /^libtorch_cpu\.so\.\d/.test(f)) : undefined;
    if (hit) return path.join(dir, hit);
  }
  return null;
}

function pytorch(): string | null {
  try {
    return execFileSync('python3', ['-c', 'import torch; print(torch.__version__, torch.__file__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20000 }).trim();
  } catch {
    return null;
  }
}

export function doctorReport(): { checks: Check[]; info: Record<string, unknown> } {
  const checks: Check[] = [];
  const info: Record<string, unknown> = {};
  info.node = process.version;
  info.LIBTORCH = process.env.LIBTORCH ?? null;
  info.systemLibTorch = systemLibTorch();
  info.pytorch = pytorch();
  if (!info.LIBTORCH && !info.systemLibTorch && !info.pytorch) {
    checks.push({ ok: false, what: 'no LibTorch found (LIBTORCH unset, no Debian libtorch-dev, no python3 torch)', fix: 'apt-get install -y libtorch-dev cmake, or set LIBTORCH=/path/to/libtorch, or install PyTorch and use LIBTORCH_USE_PYTORCH=1' });
  }
  let binary: string | null = null;
  try {
    binary = require('node-gyp-build').resolve(ROOT);
    info.binary = path.relative(ROOT, binary!);
    info.binaryKind = binary!.includes(`${path.sep}prebuilds${path.sep}`) ? 'prebuilt (shipped in the package)' : 'built on this machine (build/Release)';
  } catch {
    checks.push({ ok: false, what: 'no addon binary for this platform', fix: 'npm run build:native (needs cmake, a C++ compiler and LibTorch)' });
  }
  if (binary) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const b = require('../backend').backend();
      info.backend = b;
      checks.push({ ok: true, what: `addon loaded: LibTorch ${b.loadedVersion} (compiled against ${b.compiledVersion}) from ${b.libraryPath}` });
      if (b.builtWithCuda && !b.cudaAvailable) checks.push({ ok: false, what: 'libtorch_cuda is linked but no GPU is usable', fix: 'check nvidia-smi and the driver; CUDA runs need a GPU visible to this process' });
      else if (!b.builtWithCuda) checks.push({ ok: true, what: 'CPU-only LibTorch (CUDA not available: for a GPU build, LIBTORCH_USE_PYTORCH=1 npm run build:native with a CUDA PyTorch)' });
      else checks.push({ ok: true, what: `CUDA ${b.cudaVersion}, cuDNN ${b.cudnnVersion ?? 'missing'}, devices: ${b.cudaDevices.join(', ')}` });
    } catch (err) {
      checks.push({ ok: false, what: (err as Error).message.split('\n')[0], fix: (err as Error).message.split('\n').slice(1).join('\n') });
    }
  }
  return { checks, info };
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('show which LibTorch and addon binary allcnn uses, and how to fix problems')
    .option('--json', 'print JSON', false)
    .action((o) => {
      const r = doctorReport();
      if (o.json) {
        console.log(JSON.stringify(r, null, 2));
      } else {
        console.log(`node ${r.info.node}`);
        console.log(`LIBTORCH=${r.info.LIBTORCH ?? '(unset)'}; system LibTorch: ${r.info.systemLibTorch ?? 'none'}; python3 torch: ${r.info.pytorch ?? 'none'}`);
        if (r.info.binary) console.log(`addon binary: ${r.info.binary} (${r.info.binaryKind})`);
        for (const c of r.checks) {
          console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.what}`);
          if (c.fix) console.log(`     fix: ${c.fix.replace(/\n/g, '\n     ')}`);
        }
      }
      if (r.checks.some((c) => !c.ok)) process.exitCode = 1;
    });
}
