/**
 * Output folders (lib/io/folder.ts): made like `mkdir -p`, and a path that
 * cannot be one (a file on the way, a dangling symbolic link, /proc) is an
 * error naming the culprit, found before a run trains rather than after its
 * first epoch, and never the endless loop Node's recursive mkdir falls into.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkFolder, makeFolder, syncFolder } from '../lib/io/folder';
import { saveSafetensors } from '../lib/io/safetensors';
import { appendJournal } from '../lib/experiments/journal';
import { writeFileAtomic } from '../lib/report/atomic';
import { trainModel } from '../lib/train/train';
import { withDiskFix } from '../lib/cli/util';
import { tempDirs } from './tmp';

const tmp = tempDirs('folder');
process.env.ALLCNN_DATA = tmp();
const BIN = path.resolve(__dirname, '../../bin/allcnn.js');

test('makes the missing folders of a nested path; an existing folder is left as it is', () => {
  const root = tmp();
  const dir = path.join(root, 'a', 'b', 'c');
  checkFolder(dir);
  expect(fs.existsSync(path.join(root, 'a'))).toBe(false); // checking makes nothing
  makeFolder(dir);
  expect(fs.statSync(dir).isDirectory()).toBe(true);
  fs.writeFileSync(path.join(dir, 'kept'), 'x');
  makeFolder(dir);
  checkFolder(dir);
  expect(fs.readdirSync(dir)).toEqual(['kept']);
});

test('a file on the way is named, and nothing is made', () => {
  const root = tmp();
  const file = path.join(root, 'results');
  fs.writeFileSync(file, 'not a folder');
  const dir = path.join(file, 'run', 'x');
  const expected = `cannot make the folder ${dir}: ${file} is a file, not a folder`;
  expect(() => checkFolder(dir)).toThrow(expected);
  expect(() => makeFolder(dir)).toThrow(expected);
  expect(() => makeFolder(file)).toThrow(`cannot make the folder ${file}: ${file} is a file, not a folder`);
  expect(fs.readdirSync(root)).toEqual(['results']);
});

test('a symbolic link to nothing (a disk not mounted) is named with its target', () => {
  const root = tmp();
  const link = path.join(root, 'results');
  fs.symlinkSync(path.join(root, 'unmounted', 'disk'), link);
  const dir = path.join(link, 'run');
  const expected = `cannot make the folder ${dir}: ${link} is a symbolic link to ${path.join(root, 'unmounted', 'disk')}, which does not exist`;
  expect(() => checkFolder(dir)).toThrow(expected);
  expect(() => makeFolder(dir)).toThrow(expected);
  // A link to a folder is followed.
  fs.mkdirSync(path.join(root, 'real'));
  fs.symlinkSync(path.join(root, 'real'), path.join(root, 'linked'));
  makeFolder(path.join(root, 'linked', 'run'));
  expect(fs.existsSync(path.join(root, 'real', 'run'))).toBe(true);
});

// Under /proc as root, where /proc looks writable (another user is told it is not, before any mkdir).
const asRootWithProc = fs.existsSync('/proc/self') && process.getuid?.() === 0;

// In a child process with a time limit: Node's own recursive mkdir never returns here.
(asRootWithProc ? test : test.skip)('under /proc, mkdir fails once and says so', () => {
  const module = path.resolve(__dirname, '../lib/io/folder.js');
  const script = `try { require(${JSON.stringify(module)}).makeFolder('/proc/allcnn-results/run'); } catch (e) { console.log(e.message); }`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
  expect(r.signal).toBeNull();
  expect(r.stdout.trim()).toBe('cannot make the folder /proc/allcnn-results/run: mkdir /proc/allcnn-results failed (ENOENT)');
});

(asRootWithProc ? test : test.skip)('under /proc the check fails too, where the parent looks writable: it tries mkdir, and undoes it elsewhere', () => {
  expect(() => checkFolder('/proc/allcnn-results/run')).toThrow('cannot make the folder /proc/allcnn-results/run: mkdir /proc/allcnn-results failed (ENOENT)');
  const root = tmp();
  checkFolder(path.join(root, 'a', 'b'));
  expect(fs.readdirSync(root)).toEqual([]);
  const r = spawnSync(process.execPath, [BIN, 'train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '32', '--out', '/proc/allcnn-results'], { encoding: 'utf8', timeout: 60000 });
  expect([r.status, r.stderr]).toEqual([1, 'allcnn: cannot make the folder /proc/allcnn-results: mkdir /proc/allcnn-results failed (ENOENT)\n']); // not after an epoch
});

(process.getuid?.() === 0 ? test.skip : test)('a folder this user may not write in is named', () => {
  const root = tmp();
  const locked = path.join(root, 'locked');
  fs.mkdirSync(locked, { mode: 0o500 });
  expect(() => makeFolder(path.join(locked, 'run'))).toThrow(`cannot make the folder ${path.join(locked, 'run')}: ${locked} is not writable`);
});

(process.getuid?.() === 0 ? test.skip : test)('an existing folder this user may not write in fails the check, before any work', () => {
  const locked = path.join(tmp(), 'locked');
  fs.mkdirSync(locked, { mode: 0o500 });
  expect(() => checkFolder(locked)).toThrow(`cannot write in the folder ${locked}: it is not writable`);
});

(fs.existsSync('/proc/self') ? test : test.skip)('a file that cannot be written is named, not its temporary name', () => {
  expect(() => writeFileAtomic('/proc/allcnn-figure.png', 'x')).toThrow(/^cannot write \/proc\/allcnn-figure.png: no such file or folder$/);
  const dir = tmp();
  writeFileAtomic(path.join(dir, 'ok.json'), '{}');
  expect(fs.readdirSync(dir)).toEqual(['ok.json']);
});

test('trainModel refuses a checkpoint it could not write before it trains, not after the first epoch', async () => {
  const file = path.join(tmp(), 'results');
  fs.writeFileSync(file, '');
  const events: string[] = [];
  await expect(trainModel({ model: 'strided-cnn-a', epochs: 1, limit: 32, prep: 'none' }, { checkpoint: path.join(file, 'checkpoint.safetensors'), onProgress: (p) => events.push(p.type) }))
    .rejects.toThrow(`${file} is a file, not a folder`);
  expect(events).toEqual([]);
});

test('allcnn train and transfer with such an --out stop at once (exit 1), before any epoch', () => {
  const file = path.join(tmp(), 'results');
  fs.writeFileSync(file, '');
  for (const args of [['train', '--model', 'strided-cnn-a', '--epochs', '1', '--limit', '32'], ['transfer', '--pretrain-epochs', '1']]) {
    const r = spawnSync(process.execPath, [BIN, ...args, '--out', path.join(file, 'run')], { encoding: 'utf8', timeout: 60000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`allcnn: cannot make the folder ${path.join(file, 'run')}: ${file} is a file, not a folder`);
    expect(r.stderr).not.toMatch(/epoch|pretraining/);
  }
});

test('an atomic write removes the temporary files that killed writes of the same file left, not a live process\'s', () => {
  const d = tmp();
  const file = path.join(d, 'REPORT.md');
  const old = new Date(Date.now() - (process.uptime() + 60) * 1000);
  // A pid that is no process (above Linux's pid_max); this process's parent, alive; this pid on a file older than the process.
  const [dead, live, before] = [`${file}.4194305.0123abcd.tmp`, `${file}.${process.ppid}.0123abcd.tmp`, `${file}.${process.pid}.0123abcd.tmp`];
  const other = path.join(d, 'summary.json.4194305.0123abcd.tmp'); // another file's: left for its own next write
  for (const f of [dead, live, before, other]) fs.writeFileSync(f, 'partial');
  fs.utimesSync(before, old, old);
  writeFileAtomic(file, 'report');
  expect(fs.readdirSync(d).sort()).toEqual(['REPORT.md', path.basename(live), path.basename(other)].sort());
});

test('a killed write\'s leftover is removed before the next write of the file, not after it: on a full disk it is what leaves no room', () => {
  const d = tmp();
  const file = path.join(d, 'checkpoint.safetensors');
  const leftover = `${file}.4194305.0123abcd.tmp`; // a dead process's, a whole checkpoint's size
  fs.writeFileSync(leftover, 'partial');
  const nodeFs = require('node:fs') as typeof fs;
  const realOpen = nodeFs.openSync;
  // The disk has room for one checkpoint's temporary file: none while the leftover holds it.
  const open = jest.spyOn(nodeFs, 'openSync').mockImplementation(((p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode | null) => {
    if (String(p).endsWith('.tmp') && fs.existsSync(leftover)) throw Object.assign(new Error('ENOSPC: no space left on device, open'), { code: 'ENOSPC' });
    return realOpen(p, flags, mode);
  }) as typeof fs.openSync);
  try {
    saveSafetensors(file, {}, { epoch: '2' });
  } finally {
    open.mockRestore();
  }
  expect(fs.readdirSync(d)).toEqual(['checkpoint.safetensors']);
});

test('an atomic write, a checkpoint and a new journal also sync their folder, so that a power cut keeps the rename', () => {
  const d = tmp();
  // The fs module itself (the one lib/ calls at call time), not TypeScript's copy of its exports.
  const nodeFs = require('node:fs') as typeof fs;
  const [realOpen, realSync] = [nodeFs.openSync, nodeFs.fsyncSync];
  const folderSyncs = (write: () => void): number => {
    const opened = new Map<number, string>();
    const open = jest.spyOn(nodeFs, 'openSync').mockImplementation(((p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode | null) => {
      const fd = realOpen(p, flags, mode);
      opened.set(fd, path.resolve(String(p)));
      return fd;
    }) as typeof fs.openSync);
    const synced: string[] = []; // by path when synced: a closed file's fd number is soon another's
    const sync = jest.spyOn(nodeFs, 'fsyncSync').mockImplementation((fd: number) => {
      synced.push(opened.get(fd) ?? '?');
      realSync(fd);
    });
    try {
      write();
      return synced.filter((p) => p === d).length;
    } finally {
      open.mockRestore();
      sync.mockRestore();
    }
  };
  expect(folderSyncs(() => writeFileAtomic(path.join(d, 'REPORT.md'), 'report'))).toBe(1);
  expect(folderSyncs(() => saveSafetensors(path.join(d, 'w.safetensors'), {}))).toBe(1);
  const record = { key: 'k' } as unknown as Parameters<typeof appendJournal>[1];
  expect(folderSyncs(() => appendJournal(path.join(d, 'runs.jsonl'), record))).toBe(1);
  expect(folderSyncs(() => appendJournal(path.join(d, 'runs.jsonl'), record))).toBe(0); // the name is on the disk already
  // Where a folder cannot be synced (gone, or not a folder), the write that asked stands.
  expect(() => syncFolder(path.join(d, 'gone'))).not.toThrow();
  expect(() => syncFolder(path.join(d, 'REPORT.md'))).not.toThrow();
});

test('an append to runs.jsonl cut short by a full disk throws, naming the file, and leaves no torn line', () => {
  const d = tmp();
  const file = path.join(d, 'runs.jsonl');
  const record = (id: string) => ({ id, history: [] }) as unknown as Parameters<typeof appendJournal>[1];
  appendJournal(file, record('first'));
  const before = fs.readFileSync(file, 'utf8');
  // As write(2) on a full disk: what fits (here 10 bytes) is written and counted, the next write fails.
  const nodeFs = require('node:fs') as typeof fs;
  const realWrite = nodeFs.writeSync;
  let calls = 0;
  const write = jest.spyOn(nodeFs, 'writeSync').mockImplementation(((fd: number, data: string | Uint8Array, offset?: number) => {
    if (calls++ > 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return typeof data === 'string' ? realWrite(fd, data.slice(0, 10)) : realWrite(fd, data, offset ?? 0, 10);
  }) as typeof fs.writeSync);
  try {
    expect(() => appendJournal(file, record('second'))).toThrow(`cannot write ${file}: the disk is full`);
  } finally {
    write.mockRestore();
  }
  expect(fs.readFileSync(file, 'utf8')).toBe(before); // not a torn line that the next read would take for a kill's
  appendJournal(file, record('third'));
  expect(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).id)).toEqual(['first', 'third']);
});

test('a read-only file system above a folder to make is said so, with its code, and the command line adds what to do', () => {
  const root = tmp();
  const dir = path.join(root, 'run');
  const nodeFs = require('node:fs') as typeof fs;
  // As on a disk remounted read-only: access(W_OK) fails with EROFS, for root too.
  const access = jest.spyOn(nodeFs, 'accessSync').mockImplementation(() => {
    throw Object.assign(new Error(`EROFS: read-only file system, access '${root}'`), { code: 'EROFS' });
  });
  let error: (Error & { code?: string }) | undefined;
  try {
    makeFolder(dir);
  } catch (err) {
    error = err as Error & { code?: string };
  } finally {
    access.mockRestore();
  }
  expect([error?.message, error?.code]).toEqual([`cannot make the folder ${dir}: ${root} is on a read-only file system`, 'EROFS']);
  expect((withDiskFix(error) as Error).message).toBe(`cannot make the folder ${dir}: ${root} is on a read-only file system; make that file system writable again (or pass another --out), then run the same command again`);
});
