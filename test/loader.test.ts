/** Loading the addon, in a fresh process as a user's program does. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nodeCheck, ucxCheck } from '../lib/cli/doctor';
import { packageJson } from '../lib/cli/package-json';

const LIB = path.resolve(__dirname, '..', 'lib', 'index.js');

/**
 * Loads the addon in a child process with `env`; returns UCX_MEM_MMAP_HOOK_MODE
 * as it was when the addon (and so LibTorch, and UCX if linked) was dlopen()ed.
 */
function hookModeAtLoad(env: NodeJS.ProcessEnv): string {
  const code =
    `const dlopen = process.dlopen; let seen = 'not loaded';` +
    `process.dlopen = function (...a) { seen = String(process.env.UCX_MEM_MMAP_HOOK_MODE); return dlopen.apply(this, a); };` +
    `require(${JSON.stringify(LIB)}).backend(); console.log(seen)`;
  const r = spawnSync(process.execPath, ['-e', code], { env, encoding: 'utf8', timeout: 120000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.trim();
}

describe("UCX's memory hooks (LibTorch builds linked with OpenMPI patch libc's brk and mmap with them)", () => {
  const { UCX_MEM_MMAP_HOOK_MODE: _, ...clean } = process.env;

  test('are turned off before LibTorch loads', () => {
    expect(hookModeAtLoad(clean)).toBe('none');
  });

  test('are left as the user set them', () => {
    expect(hookModeAtLoad({ ...clean, UCX_MEM_MMAP_HOOK_MODE: 'reloc' })).toBe('reloc');
  });

  test('allcnn doctor says whether they are on, when UCX is loaded', () => {
    const maps = '7f0000000000-7f0000001000 r-xp 00000000 00:00 1 /usr/lib/x86_64-linux-gnu/libucm.so.0.0.0\n';
    expect(ucxCheck('7f0000000000-7f0000001000 r-xp 00000000 00:00 1 /usr/lib/libc.so.6\n', undefined)).toBeNull();
    expect(ucxCheck(maps, 'none')).toEqual({ ok: true, what: 'UCX (linked by this LibTorch through OpenMPI) is loaded with its memory hooks off' });
    expect(ucxCheck(maps, 'bistro')).toMatchObject({ ok: false, warning: true, what: expect.stringContaining('UCX_MEM_MMAP_HOOK_MODE=bistro'), fix: expect.stringContaining('unset UCX_MEM_MMAP_HOOK_MODE') });
  });
});

test("allcnn doctor warns on a Node.js outside package.json's engines, and judges the range as npm does", () => {
  const range = '^20.17.0 || >=22.9.0';
  for (const v of ['v20.17.0', 'v20.20.2', 'v22.9.0', 'v22.23.5', 'v24.22.3', 'v25.0.0']) expect(nodeCheck(v, range)).toBeNull();
  for (const v of ['v18.20.8', 'v20.16.9', 'v21.7.3', 'v22.8.0']) {
    expect(nodeCheck(v, range)).toMatchObject({ ok: false, warning: true, what: expect.stringContaining(`Node.js ${v} is not one allcnn supports (${range}:`), fix: expect.stringContaining('LTS') });
  }
  expect(nodeCheck(process.version, packageJson().engines!.node!)).toBeNull();
  // A range of another form is not judged: no warning rather than a wrong one.
  expect(nodeCheck('v18.0.0', '18 - 20')).toBeNull();
});

test('ALLCNN_BINARY naming a file that is not the addon is said to be one, with the fix, not "backend_info is not a function"', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allcnn-loader-'));
  const notAddon = path.join(dir, 'afile');
  fs.writeFileSync(notAddon, '');
  try {
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(LIB)}).backend()`], { env: { ...process.env, ALLCNN_BINARY: notAddon }, encoding: 'utf8', timeout: 120000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`ALLCNN_BINARY=${notAddon} names ${notAddon}, which is not the allcnn addon (it has no backend_info(): not a .node file built from native/?)`);
    expect(r.stderr).toContain('Unset ALLCNN_BINARY to use the binary allcnn picks itself');
    // A missing file, or one that is no shared library: the variable is named, not a rebuild asked for.
    const bin = path.resolve(__dirname, '../../bin/allcnn.js');
    const garbage = path.join(dir, 'garbage.node');
    fs.writeFileSync(garbage, 'garbage');
    for (const [file, which] of [[path.join(dir, 'missing.node'), 'does not exist'], [garbage, 'failed to load (']]) {
      const d = spawnSync(process.execPath, [bin, 'doctor'], { env: { ...process.env, ALLCNN_BINARY: file }, encoding: 'utf8', timeout: 120000 });
      expect(d.status).toBe(1);
      expect(d.stdout).toContain(`FAIL ALLCNN_BINARY=${file} names ${file}, which ${which}`);
      expect(d.stdout).not.toContain('doctor --build');
      const t = spawnSync(process.execPath, [bin, 'train', '--limit', '50', '--out', path.join(dir, 'run')], { env: { ...process.env, ALLCNN_BINARY: file }, encoding: 'utf8', timeout: 120000 });
      expect(t.stderr).toContain(`\nallcnn: ALLCNN_BINARY=${file}`);
      expect(t.stderr).not.toContain('allcnn: allcnn:'); // the prefix once
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a LIBTORCH that is no LibTorch is said first to be unset (or pointed at one), not to install the system LibTorch', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { howToFix } = require(path.resolve(__dirname, '../../scripts/libtorch.js'));
  const requestError = 'LIBTORCH=/nonexistent has no lib/libtorch_cpu.so (it should be an unpacked LibTorch folder, with lib/ and share/cmake/Torch/)';
  const system = { version: '1.13.0', cuda: false, libdir: '/usr/lib/x86_64-linux-gnu' };
  expect(howToFix({ found: { requestError, system, target: null }, candidates: [] }).split('\n')).toEqual([
    `allcnn: ${requestError}.`,
    'Fix it one of these ways:',
    '  1. unset LIBTORCH to use the system LibTorch 1.13.0 (CPU) in /usr/lib/x86_64-linux-gnu',
    '  2. or point LIBTORCH at an unpacked LibTorch: LIBTORCH=/path/to/libtorch npx allcnn doctor --build   (an unpacked LibTorch zip; needs cmake and a C++ compiler)',
    'Run `npx allcnn doctor` to see what was found.',
  ]);
  // No system LibTorch: unsetting it is not enough.
  expect(howToFix({ found: { requestError, system: null, target: null }, candidates: [] })).toContain('\n  1. unset LIBTORCH, then apt-get install -y libtorch-dev   (Debian/Ubuntu');
  const pytorch = howToFix({ found: { requestError: 'LIBTORCH_USE_PYTORCH=1 but `python3 -c "import torch"` failed: No module named torch', system, target: null }, candidates: [] });
  expect(pytorch).toContain('\n  1. unset LIBTORCH_USE_PYTORCH to use the system LibTorch 1.13.0 (CPU)');
  // As loading the addon says it.
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(LIB)}).backend()`], { env: { ...process.env, LIBTORCH: '/nonexistent' }, encoding: 'utf8', timeout: 120000 });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`allcnn: ${requestError}.\nFix it one of these ways:\n  1. unset LIBTORCH`);
});
