/**
 * A results folder's lock (lib/experiments/lock.ts): a second process (or
 * call) in a folder an experiment is running in is refused, saying who holds
 * it; a lock whose holder is gone (killed, another boot, a reused process id,
 * another host) is taken over, so that the same command resumes.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkLock, lockFolder, STALE_MS } from '../lib/experiments/lock';
import { PRESETS, ReproduceOptions } from '../lib/experiments/presets';
import { reproduce } from '../lib/experiments/runner';
import { tempDirs } from './tmp';

const tmp = tempDirs('lock');
process.env.ALLCNN_DATA = tmp();

const holder = (h: object) => JSON.stringify({ pid: 1, host: os.hostname(), bootId: null, processStart: null, startedAt: '2026-12-01T00:00:00.000Z', ...h });
const lockOf = (dir: string) => path.join(dir, '.lock');

test('a held folder is refused, naming the holder; once released it is free and the lock is gone', () => {
  const dir = tmp();
  const lock = lockFolder(dir);
  expect(JSON.parse(fs.readFileSync(lockOf(dir), 'utf8'))).toMatchObject({ pid: process.pid, host: os.hostname() });
  const refused = `${dir} is in use: another call in this process has been training in it since`;
  expect(() => checkLock(dir)).toThrow(refused);
  expect(() => lockFolder(dir)).toThrow(refused);
  lock.release();
  expect(fs.readdirSync(dir)).toEqual([]);
  checkLock(dir);
  lockFolder(dir).release();
});

test('a lock whose process still runs is refused; one whose process is gone is taken over without a word', async () => {
  const dir = tmp();
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    fs.writeFileSync(lockOf(dir), holder({ pid: child.pid }));
    expect(() => lockFolder(dir)).toThrow(`${dir} is in use: process ${child.pid} has been training in it since 2026-12-01T00:00:00.000Z (${lockOf(dir)}). Wait for it to finish, or stop it first`);
    expect(() => lockFolder(dir)).toThrow(`If no process uses it any more, delete ${lockOf(dir)}.`);
    expect(() => checkLock(dir)).toThrow(`process ${child.pid}`);
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  // Killed: its lock is stale.
  const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    checkLock(dir);
    const lock = lockFolder(dir);
    expect(JSON.parse(fs.readFileSync(lockOf(dir), 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(warn).not.toHaveBeenCalled();
  } finally {
    warn.mockRestore();
  }
});

test('a lock from another boot, from a process id now used by another process, or torn, is stale', () => {
  const dir = tmp();
  const running = process.ppid; // runs, but is not the process that wrote these
  const stale = ['', '{"pid": ', holder({ pid: 0 }), holder({ pid: -1 })]; // 0 and -1 would name process groups to kill(0)
  if (fs.existsSync('/proc/sys/kernel/random/boot_id')) stale.push(holder({ pid: running, bootId: 'another-boot' }));
  if (fs.existsSync('/proc/self/stat')) stale.push(holder({ pid: running, processStart: '1' })); // started at another time: the id was reused
  for (const text of stale) {
    fs.writeFileSync(lockOf(dir), text);
    checkLock(dir);
    lockFolder(dir).release();
  }
  // The same process with its own start time still holds it.
  fs.writeFileSync(lockOf(dir), holder({ pid: running }));
  expect(() => lockFolder(dir)).toThrow(`process ${running}`);
});

test("another host's lock cannot be checked from here: refused while its holder keeps it fresh, taken over with a warning once not", () => {
  const dir = tmp();
  const foreign = [holder({ pid: 4242, host: 'gpu-host' })];
  if (fs.existsSync('/proc/self/ns/pid')) foreign.push(holder({ pid: 4242, pidNamespace: 'pid:[1]' })); // this host's name, another container's process ids
  for (const text of foreign) {
    const host = JSON.parse(text).host;
    fs.writeFileSync(lockOf(dir), text);
    expect(() => checkLock(dir)).toThrow(`${dir} is in use: process 4242 on ${host} (its lock, which cannot be checked from here, was touched 0 s ago)`);
    expect(() => lockFolder(dir)).toThrow('which cannot be checked from here');
    const old = new Date(Date.now() - STALE_MS - 1000);
    fs.utimesSync(lockOf(dir), old, old);
    checkLock(dir);
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      lockFolder(dir).release();
      expect(warn.mock.calls).toEqual([[`${lockOf(dir)} was left by process 4242 on host ${host} (since 2026-12-01T00:00:00.000Z), which cannot be checked from here and was not touched for 5 minutes: taken over. If that process still runs, stop one of the two`, 'AllcnnLockWarning']]);
    } finally {
      warn.mockRestore();
    }
  }
});

test('one folder by two paths (a symbolic link) is one lock; a folder made for the lock goes again if nothing was written in it', () => {
  const dir = tmp();
  const link = path.join(tmp(), 'link');
  fs.symlinkSync(dir, link);
  const lock = lockFolder(dir);
  expect(() => lockFolder(link)).toThrow(`${link} is in use: another call in this process`);
  lock.release();
  const fresh = path.join(tmp(), 'results', 'run');
  lockFolder(fresh).release();
  expect(fs.existsSync(fresh)).toBe(false);
  const used = lockFolder(fresh);
  fs.writeFileSync(path.join(fresh, 'experiment.json'), '{}');
  used.release();
  expect(fs.readdirSync(fresh)).toEqual(['experiment.json']);
});

test('a lock removed by hand and taken by another process is not removed by the first one\'s release', () => {
  const dir = tmp();
  const lock = lockFolder(dir);
  const other = holder({ pid: 4242 });
  fs.writeFileSync(lockOf(dir), other);
  lock.release();
  expect(fs.readFileSync(lockOf(dir), 'utf8')).toBe(other);
});

test('a lock removed while held (its folder deleted, say) is said once and taken again', () => {
  jest.useFakeTimers();
  const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  const dir = tmp();
  const lock = lockFolder(dir);
  try {
    fs.rmSync(dir, { recursive: true });
    jest.advanceTimersByTime(STALE_MS);
    const warnings = warn.mock.calls.filter((c) => (c[1] as unknown) === 'AllcnnLockWarning').map((c) => c[0]);
    expect(warnings).toEqual([`${lockOf(dir)} was removed while this one held it (taken again): if ${dir} was deleted, what this run writes from now on lacks what was in it, and a second process may have started there meanwhile`]);
    expect(fs.readFileSync(lockOf(dir), 'utf8')).toContain(`"pid":${process.pid}`);
  } finally {
    lock.release();
    warn.mockRestore();
    jest.useRealTimers();
  }
  expect(fs.existsSync(lockOf(dir))).toBe(false);
});

test("taking a lock removes the temporary file a process killed while taking it left", () => {
  const dir = tmp();
  const stale = `${lockOf(dir)}.4194305.0123abcd.tmp`; // a pid above Linux's pid_max: no process
  fs.writeFileSync(stale, holder({ pid: 4194305 }));
  lockFolder(dir).release();
  expect(fs.existsSync(stale)).toBe(false);
});

test('release() never throws: a folder turned read-only mid-run must not hide the run\'s own error', () => {
  const dir = tmp();
  const lock = lockFolder(dir);
  // As on a file system remounted read-only: removing the lock fails (the module itself: `fs` here is a read-only view of it).
  const rm = jest.spyOn(jest.requireActual<typeof fs>('node:fs'), 'rmSync').mockImplementation(() => {
    throw Object.assign(new Error("EROFS: read-only file system, unlink '.lock'"), { code: 'EROFS' });
  });
  try {
    expect(() => lock.release()).not.toThrow();
  } finally {
    rm.mockRestore();
  }
  // The lock left behind is this (finished) process's: a later run takes it over.
  lockFolder(dir).release();
});

test('a lock that cannot be written (a full disk) is said so, naming the lock, and leaves neither its temporary file nor the folder it made', () => {
  const dir = path.join(tmp(), 'run');
  const nodeFs = jest.requireActual<typeof fs>('node:fs');
  const realWrite = nodeFs.writeFileSync;
  // As on a full tmpfs: the file is made, and writing into it fails.
  const write = jest.spyOn(nodeFs, 'writeFileSync').mockImplementation(((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
    if (!String(file).startsWith(lockOf(dir))) return (realWrite as (...a: unknown[]) => void)(file, ...rest);
    realWrite(file, '');
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  }) as typeof fs.writeFileSync);
  try {
    expect(() => lockFolder(dir)).toThrow(`cannot write ${lockOf(dir)}: the disk is full`);
  } finally {
    write.mockRestore();
  }
  expect(fs.existsSync(dir)).toBe(false); // before: the folder, holding an empty .lock.<pid>.<hex>.tmp
  lockFolder(dir).release(); // room again: taken as ever
});

test('two reproduce() calls in one folder: the second is refused, the first finishes and frees the folder', async () => {
  const out = tmp();
  const o: ReproduceOptions = { ...PRESETS.smoke, models: ['strided-cnn-a'], lrs: [0.1], epochs: 1, probeEpochs: 1, limit: 64, batchSize: 32, extras: [], device: 'cpu', prep: 'std' };
  // The second starts once the first trains (it holds the lock then).
  let second: Promise<string> | undefined;
  const startSecond = () => {
    second ??= reproduce('one', o, { out }).then(() => 'finished', (e: Error) => e.message);
  };
  const first = await reproduce('one', o, { out }, { onEvent: (e) => e.type === 'run-start' && startSecond() });
  expect(await second).toMatch(`${out} is in use: another call in this process`);
  expect(first.summary.rows).toHaveLength(1);
  expect(fs.existsSync(lockOf(out))).toBe(false);
  // And the CLI, with the folder held by a running process: refused before its header, exit 1.
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    fs.writeFileSync(lockOf(out), holder({ pid: child.pid }));
    const bin = path.resolve(__dirname, '../../bin/allcnn.js');
    const r = spawnSync(process.execPath, [bin, 'reproduce', '--models', 'strided-cnn-a', '--lrs', '0.1', '--extras', 'none', '--out', out], { encoding: 'utf8', timeout: 60000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^allcnn: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use: process ${child.pid} `));
  } finally {
    child.kill('SIGKILL');
  }
});

test('allcnn train takes the lock too: a second process with the same --out is refused before it reads the data', async () => {
  const dir = tmp();
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    fs.writeFileSync(lockOf(dir), holder({ pid: child.pid }));
    const bin = path.resolve(__dirname, '../../bin/allcnn.js');
    const r = spawnSync(process.execPath, [bin, 'train', '--model', 'strided-cnn-a', '--out', dir], { encoding: 'utf8' });
    expect([r.status, r.stdout]).toEqual([1, '']);
    expect(r.stderr).toContain(`${dir} is in use: process ${child.pid} has been training in it since 2026-12-01T00:00:00.000Z`);
    expect(r.stderr).not.toContain('reading');
    expect(fs.readdirSync(dir)).toEqual(['.lock']);
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
});

// Under /proc as root, where the folder looks writable until mkdir fails (test/folder.test.ts).
const asRootWithProc = fs.existsSync('/proc/self') && process.getuid?.() === 0;

(asRootWithProc ? test : test.skip)('a folder that cannot be written is said so, not as the lock file\'s EROFS or EPERM', () => {
  expect(() => checkLock('/proc/allcnn-out')).toThrow('cannot make the folder /proc/allcnn-out: mkdir /proc/allcnn-out failed (ENOENT)');
  expect(() => lockFolder('/proc/allcnn-out')).toThrow('cannot make the folder /proc/allcnn-out: mkdir /proc/allcnn-out failed (ENOENT)');
});
