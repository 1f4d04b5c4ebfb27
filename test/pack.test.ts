/**
 * The package as a user gets it: `npm pack`, install the tarball into a fresh
 * project, then require('allcnn'), `npx allcnn doctor` and a tiny training
 * run, all on the prebuilt binary in prebuilds/ (no compiler runs: the
 * installed package has no build/ folder and the loader reports the prebuild).
 * Needs Debian's libtorch-dev (LibTorch 1.13, CPU), as CI installs it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const lt = require(path.join(ROOT, 'scripts', 'libtorch.js'));
const PREBUILD = 'prebuilds/linux-x64/allcnn.libtorch1_13-cpu.napi.glibc.node';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'allcnn-pack-'));
const app = path.join(tmp, 'app');
const installed = path.join(app, 'node_modules', 'allcnn');

/** The environment of a user's shell: no LibTorch override, nothing from the `npm test` that runs this. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || ['LIBTORCH', 'LIBTORCH_USE_PYTORCH', 'ALLCNN_BINARY', 'ALLCNN_SKIP_INSTALL', 'INIT_CWD'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, extra: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { cwd, env: userEnv(extra), encoding: 'utf8', timeout: 300000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
}

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, PREBUILD.replace(/\.node$/, '.json')), 'utf8'));
const STALE = manifest.sources !== lt.sourcesHash(ROOT)
  ? `${PREBUILD} was built from other native sources than native/* and CMakeLists.txt now: run \`npm run build:prebuild\` (with Debian's libtorch-dev) and commit prebuilds/`
  : null;

test('the committed prebuild was built from the current native sources', () => {
  expect(manifest).toMatchObject({ libtorch: expect.stringMatching(/^1\.13\./), cuda: false, libdir: '/usr/lib/x86_64-linux-gnu', napi: 8 });
  expect(lt.fileHash(path.join(ROOT, PREBUILD))).toBe(manifest.sha256);
  if (STALE) throw new Error(STALE);
});

describe('npm pack, then npm install of the tarball into a fresh project', () => {
  let installLog = '';

  beforeAll(() => {
    // A stale prebuild would be rebuilt from source at install (minutes), and fail below anyway.
    if (STALE) throw new Error(STALE);
    // `npm test` compiled dist/ just before: pack it as is (no prepare script).
    const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT);
    expect(pack.code).toBe(0);
    const tarball = path.join(tmp, JSON.parse(pack.stdout)[0].filename);
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'allcnn-pack-test', version: '1.0.0', private: true }));
    // Dependencies come from the npm cache that `npm ci` filled (the registry where it must).
    const install = run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], app);
    installLog = install.out;
    if (install.code !== 0) throw new Error(`npm install of the tarball failed:\n${install.out}`);
  });

  test('the install script found the prebuilt binary and built nothing', () => {
    expect(installLog).toContain(`allcnn: using ${PREBUILD}, prebuilt (shipped in the package)`);
    expect(installLog).toContain('nothing to build');
    expect(installLog).not.toMatch(/building from source|cmake-js|CMD BUILD/);
    expect(fs.existsSync(path.join(installed, PREBUILD))).toBe(true);
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    for (const f of ['fixtures/cifar-10-sample.tar.gz', 'dist/lib/index.js', 'dist/models/index.js', 'bin/allcnn.js', 'CMakeLists.txt', 'native/backend.cc', 'scripts/libtorch.js', 'docs/RESULTS.md', 'docs/MEMORY.md']) {
      expect(fs.existsSync(path.join(installed, f))).toBe(true);
    }
    expect(fs.existsSync(path.join(installed, 'dist', 'test'))).toBe(false);
  });

  test("require('allcnn') loads the prebuilt binary", () => {
    const code = `const a = require('allcnn'); const t = a.ones([2, 3]); const b = require('allcnn/dist/lib/native').loadedBinary();
      console.log(JSON.stringify({ sum: t.sum().item(), file: b.file, kind: b.kind, status: b.status }));`;
    const r = run(process.execPath, ['-e', code], app);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.sum).toBe(6);
    expect(out.file).toBe(path.join(fs.realpathSync(installed), PREBUILD));
    expect(out).toMatchObject({ kind: 'prebuilt (shipped in the package)', status: 'match' });
  });

  test('npx allcnn doctor reports the prebuilt binary and no problem', () => {
    const r = run('npx', ['--no', 'allcnn', 'doctor'], app);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`addon binary: ${PREBUILD} (prebuilt (shipped in the package))`);
    expect(r.out).toMatch(/ok {3}addon loaded: LibTorch 1\.13/);
    expect(r.out).not.toContain('FAIL');
  });

  test('a tiny training run on the bundled sample works on the prebuilt binary', () => {
    const code = `const a = require('allcnn');
      a.trainModel({ model: 'strided-cnn-a', epochs: 1, limit: 64, prep: 'std' }).then((r) => {
        console.log(JSON.stringify({ epochs: r.history.length, accuracy: r.validation.accuracy, binary: require('allcnn/dist/lib/native').loadedBinary().file }));
      }).catch((e) => { console.error(e); process.exit(1); });`;
    const r = run(process.execPath, ['-e', code], app);
    if (r.code !== 0) throw new Error(r.out);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.epochs).toBe(1);
    expect(out.accuracy).toBeGreaterThanOrEqual(0);
    expect(out.accuracy).toBeLessThanOrEqual(1);
    expect(out.binary).toContain(`${path.sep}prebuilds${path.sep}`);
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
  });

  test('a binary built for another LibTorch is never loaded, and the message says what to do', () => {
    // A LibTorch 2.1 CUDA folder (file names only: nothing may load it).
    const fake = path.join(tmp, 'libtorch-2.1');
    fs.mkdirSync(path.join(fake, 'lib'), { recursive: true });
    for (const f of ['libtorch_cpu.so', 'libtorch_cuda.so']) fs.writeFileSync(path.join(fake, 'lib', f), '');
    fs.writeFileSync(path.join(fake, 'build-version'), '2.1.0+cu121\n');
    const r = run(process.execPath, ['-e', "require('allcnn').zeros([1])"], app, { LIBTORCH: fake });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`no addon binary goes with LibTorch 2.1.0+cu121 (CUDA) in ${fs.realpathSync(path.join(fake, 'lib'))}`);
    expect(r.out).toContain(`LIBTORCH=${fake} npx allcnn doctor --build`);
    // The install script with a LIBTORCH that holds none stops with one message: undo that first (then install one, if there is no other).
    const none = run(process.execPath, [path.join(installed, 'scripts', 'install.js')], app, { LIBTORCH: path.join(tmp, 'nowhere') });
    expect(none.code).toBe(1);
    expect(none.out).toMatch(/\n {2}1\. unset LIBTORCH (to use the system LibTorch|, then apt-get install -y libtorch-dev)/);
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
  });
});
