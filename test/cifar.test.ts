/**
 * CIFAR binary readers and the downloader. Runs from dist/test, so paths to
 * the repository are resolved two folders up. Never touches the network.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { DataError, InvalidArgumentError } from '../lib/errors';
import {
  CIFAR_IMAGE_BYTES, CIFAR10_RECORD_BYTES, CIFAR100_RECORD_BYTES, readCifar10, readCifar100,
} from '../lib/data/cifar';
import { CIFAR10_URL, ensureArchive, ensureCifar10, ensureCifar100 } from '../lib/data/download';

const ROOT = path.resolve(__dirname, '../..');
const CIFAR10_SAMPLE = path.join(ROOT, 'fixtures/cifar-10-sample.tar.gz');
const CIFAR100_SAMPLE = path.join(ROOT, 'fixtures/cifar-100-sample.tar.gz');
const SHARED = process.env.ALLCNN_SHARED_DATASETS ?? path.resolve(__dirname, '../../../shared/datasets');
const FULL_CIFAR10 = path.join(SHARED, 'cifar-10-binary.tar.gz');

const C10 = 'cifar-10-batches-bin';
const C10_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
const C10_USAGE = '(pass the CIFAR-10 binary archive cifar-10-binary.tar.gz or its extracted folder)';

// ---------------------------------------------------------------------------
// Helpers

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'allcnn-cifar-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
let serial = 0;
const tmpPath = (name: string) => path.join(tmp, `${serial++}-${name}`);

/** All members of a .tar.gz, by name. */
function readTarGz(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const members = new Map<string, Buffer>();
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file') members.set(header.name, Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', () => resolve(members));
    extract.on('error', reject);
    fs.createReadStream(file).pipe(zlib.createGunzip()).pipe(extract);
  });
}

function writeTarGz(file: string, members: Map<string, Buffer>): Promise<string> {
  return new Promise((resolve, reject) => {
    const pack = tar.pack();
    for (const [name, data] of members) pack.entry({ name, size: data.length }, data);
    pack.finalize();
    const chunks: Buffer[] = [];
    pack.on('data', (c) => chunks.push(c as Buffer));
    pack.on('end', () => {
      fs.writeFileSync(file, zlib.gzipSync(Buffer.concat(chunks)));
      resolve(file);
    });
    pack.on('error', reject);
  });
}

function extractTo(members: Map<string, Buffer>, dir: string): string {
  for (const [name, data] of members) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), data);
  }
  return dir;
}

/** `count` CIFAR-10 records with labels (seed + i) % 10 and a pixel pattern. */
function cifar10Records(count: number, seed: number): Buffer {
  const buf = Buffer.alloc(count * CIFAR10_RECORD_BYTES);
  for (let i = 0; i < count; i++) {
    buf[i * CIFAR10_RECORD_BYTES] = (seed + i) % 10;
    for (let p = 1; p < CIFAR10_RECORD_BYTES; p++) buf[i * CIFAR10_RECORD_BYTES + p] = (seed * 7 + i * 13 + p) & 0xff;
  }
  return buf;
}

/** A small valid CIFAR-10 layout (3 records per file); `edit` changes it. */
function cifar10Members(edit: (m: Map<string, Buffer>) => void = () => {}): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  C10_FILES.forEach((f, i) => m.set(`${C10}/${f}`, cifar10Records(3, i)));
  edit(m);
  return m;
}

async function dataError(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DataError);
  return (err as Error).message;
}

// ---------------------------------------------------------------------------
// Bundled samples

describe('CIFAR-10 sample', () => {
  test('reads counts, shapes, names and the raw bytes', async () => {
    const raw = await readTarGz(CIFAR10_SAMPLE);
    const data = await readCifar10(CIFAR10_SAMPLE);
    expect(data.source).toBe(CIFAR10_SAMPLE);
    expect(data.train.count).toBe(500);
    expect(data.test.count).toBe(100);
    expect(data.train.images).toBeInstanceOf(Uint8Array);
    expect(data.train.images.length).toBe(500 * CIFAR_IMAGE_BYTES);
    expect(data.train.labels.length).toBe(500);
    expect(data.test.images.length).toBe(100 * CIFAR_IMAGE_BYTES);
    expect(data.classNames).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);

    // Train is the five batches in order: record 100 * b is batch b+1's first.
    for (let b = 0; b < 5; b++) {
      const batch = raw.get(`${C10}/data_batch_${b + 1}.bin`)!;
      const i = 100 * b;
      expect(data.train.labels[i]).toBe(batch[0]);
      expect(Buffer.compare(data.train.images.subarray(i * CIFAR_IMAGE_BYTES, (i + 1) * CIFAR_IMAGE_BYTES), batch.subarray(1, CIFAR10_RECORD_BYTES))).toBe(0);
    }
    const test = raw.get(`${C10}/test_batch.bin`)!;
    const last = 99 * CIFAR10_RECORD_BYTES;
    expect(data.test.labels[0]).toBe(test[0]);
    expect(data.test.labels[99]).toBe(test[last]);
    expect(Buffer.compare(data.test.images.subarray(99 * CIFAR_IMAGE_BYTES), test.subarray(last + 1))).toBe(0);
    expect(Array.from(data.train.labels).every((l) => l < 10)).toBe(true);
  });

  test('an extracted folder, and its inner folder, give identical data', async () => {
    const fromArchive = await readCifar10(CIFAR10_SAMPLE);
    const dir = extractTo(await readTarGz(CIFAR10_SAMPLE), tmpPath('c10'));
    for (const folder of [dir, path.join(dir, C10)]) {
      const fromFolder = await readCifar10(folder);
      expect(fromFolder.source).toBe(path.join(dir, C10));
      expect(fromFolder.classNames).toEqual(fromArchive.classNames);
      for (const split of ['train', 'test'] as const) {
        expect(fromFolder[split].count).toBe(fromArchive[split].count);
        expect(Buffer.compare(fromFolder[split].labels, fromArchive[split].labels)).toBe(0);
        expect(Buffer.compare(fromFolder[split].images, fromArchive[split].images)).toBe(0);
      }
    }
  });
});

describe('CIFAR-100 sample', () => {
  test('reads counts, both label kinds, names and the raw bytes', async () => {
    const raw = await readTarGz(CIFAR100_SAMPLE);
    const data = await readCifar100(CIFAR100_SAMPLE);
    expect(data.train.count).toBe(200);
    expect(data.test.count).toBe(100);
    expect(data.train.images.length).toBe(200 * CIFAR_IMAGE_BYTES);
    expect(data.train.coarseLabels.length).toBe(200);
    expect(data.fineNames.length).toBe(100);
    expect(data.coarseNames.length).toBe(20);
    expect(data.fineNames[0]).toBe('apple');
    expect(data.coarseNames[0]).toBe('aquatic_mammals');

    const train = raw.get('cifar-100-binary/train.bin')!;
    expect(data.train.coarseLabels[0]).toBe(train[0]);
    expect(data.train.labels[0]).toBe(train[1]);
    expect(Buffer.compare(data.train.images.subarray(0, CIFAR_IMAGE_BYTES), train.subarray(2, CIFAR100_RECORD_BYTES))).toBe(0);
    const at = 199 * CIFAR100_RECORD_BYTES;
    expect(data.train.coarseLabels[199]).toBe(train[at]);
    expect(data.train.labels[199]).toBe(train[at + 1]);
  });

  test('an extracted folder gives identical data', async () => {
    const fromArchive = await readCifar100(CIFAR100_SAMPLE);
    const dir = extractTo(await readTarGz(CIFAR100_SAMPLE), tmpPath('c100'));
    const fromFolder = await readCifar100(dir);
    expect(fromFolder.fineNames).toEqual(fromArchive.fineNames);
    for (const split of ['train', 'test'] as const) {
      expect(Buffer.compare(fromFolder[split].images, fromArchive[split].images)).toBe(0);
      expect(Buffer.compare(fromFolder[split].labels, fromArchive[split].labels)).toBe(0);
      expect(Buffer.compare(fromFolder[split].coarseLabels, fromArchive[split].coarseLabels)).toBe(0);
    }
  });
});

// ---------------------------------------------------------------------------
// Bad input

describe('bad input', () => {
  test('a synthetic archive without batches.meta.txt reads with the standard names', async () => {
    const file = await writeTarGz(tmpPath('ok.tar.gz'), cifar10Members());
    const data = await readCifar10(file);
    expect(data.train.count).toBe(15);
    expect(data.classNames[9]).toBe('truck');
    expect(Array.from(data.train.labels.subarray(0, 4))).toEqual([0, 1, 2, 1]);
  });

  test('a path that is not a string', async () => {
    await expect(readCifar10(42 as unknown as string)).rejects.toThrow(InvalidArgumentError);
  });

  test('missing path', async () => {
    const missing = path.join(tmp, 'nope.tar.gz');
    expect(await dataError(readCifar10(missing))).toBe(`no such file or folder: ${missing} ${C10_USAGE}`);
    expect(await dataError(readCifar100(missing))).toBe(
      `no such file or folder: ${missing} (pass the CIFAR-100 binary archive cifar-100-binary.tar.gz or its extracted folder)`,
    );
  });

  test('not gzip', async () => {
    const file = tmpPath('plain.txt');
    fs.writeFileSync(file, 'not an archive\n');
    expect(await dataError(readCifar10(file))).toBe(`${file} is not a gzip-compressed tar archive ${C10_USAGE}`);
  });

  test('gzip but not tar', async () => {
    const file = tmpPath('text.gz');
    fs.writeFileSync(file, zlib.gzipSync(Buffer.alloc(4096, 'x')));
    expect(await dataError(readCifar10(file))).toBe(
      `${file} is not a gzip-compressed tar archive (it is gzip-compressed, but the contents are not a tar archive)`,
    );
  });

  test('truncated archive', async () => {
    const whole = fs.readFileSync(await writeTarGz(tmpPath('whole.tar.gz'), cifar10Members()));
    const file = tmpPath('cut.tar.gz');
    fs.writeFileSync(file, whole.subarray(0, whole.length >> 1));
    expect(await dataError(readCifar10(file))).toBe(`${file}: the archive is truncated or corrupt (gzip: unexpected end of file)`);
  });

  test('a tar cut short inside a member, a forged member size, a batch cut at a record boundary', async () => {
    const tarBytes = zlib.gunzipSync(fs.readFileSync(await writeTarGz(tmpPath('whole.tar.gz'), cifar10Members())));
    // The gzip stream is whole, the tar inside it is not: it fails in the member's stream, which used to crash the process.
    const cut = tmpPath('cut-tar.tar.gz');
    fs.writeFileSync(cut, zlib.gzipSync(tarBytes.subarray(0, 2000)));
    expect(await dataError(readCifar10(cut))).toBe(`${cut}: the archive is truncated or corrupt (tar: Unexpected end of data)`);
    // The first member's header claims 8 GB (octal size field at 124, checksum at 148): refused before any buffer is allocated.
    const forged = Buffer.from(tarBytes);
    forged.write(`${(8e9).toString(8).padStart(11, '0')}\0`, 124, 'ascii');
    forged.fill(' ', 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += forged[i];
    forged.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    const big = tmpPath('forged.tar.gz');
    fs.writeFileSync(big, zlib.gzipSync(forged));
    expect(await dataError(readCifar10(big))).toBe(`${big}: the archive is truncated or corrupt (tar: ${C10}/data_batch_1.bin claims 8000000000 bytes, more than any CIFAR-10 file holds (153700000))`);
    const dir = extractTo(cifar10Members(), tmpPath('huge'));
    fs.truncateSync(path.join(dir, C10, 'test_batch.bin'), 8e9); // sparse: no disk used
    expect(await dataError(readCifar10(dir))).toBe(`${path.join(dir, C10, 'test_batch.bin')}: 8000000000 bytes, more than any CIFAR-10 file holds (153700000): not a CIFAR-10 binary file`);
    // A damaged header after the first member (at 512 + 9,216 rounded up to 512s): no "needs to be gunzipped?" guess.
    const damaged = Buffer.from(tarBytes);
    damaged[512 + 9728] ^= 0xff;
    const bad = tmpPath('bad-header.tar.gz');
    fs.writeFileSync(bad, zlib.gzipSync(damaged));
    expect(await dataError(readCifar10(bad))).toBe(`${bad}: the archive is truncated or corrupt (tar: Invalid tar header.)`);
    // Whole records, but fewer of them: only the batches' sizes tell.
    const short = await writeTarGz(tmpPath('short-batch.tar.gz'), cifar10Members((m) => m.set(`${C10}/data_batch_3.bin`, cifar10Records(2, 2))));
    expect(await dataError(readCifar10(short))).toBe(`${short}: ${C10}/data_batch_3.bin: 2 records, where data_batch_1.bin has 3 (CIFAR-10's training batches are of one size: truncated?)`);
    // The test batch too: a test_batch.bin cut to half was scored as a test set of half the size.
    const shortTest = await writeTarGz(tmpPath('short-test.tar.gz'), cifar10Members((m) => m.set(`${C10}/test_batch.bin`, cifar10Records(2, 5))));
    expect(await dataError(readCifar10(shortTest))).toBe(`${shortTest}: ${C10}/test_batch.bin: 2 records, where each training batch has 3 (CIFAR-10's test batch is of their size: truncated?)`);
  });

  test('missing batch file, in an archive and in a folder', async () => {
    const members = cifar10Members((m) => m.delete(`${C10}/data_batch_3.bin`));
    const file = await writeTarGz(tmpPath('no3.tar.gz'), members);
    expect(await dataError(readCifar10(file))).toBe(`${file}: missing ${C10}/data_batch_3.bin ${C10_USAGE}`);
    const dir = extractTo(members, tmpPath('no3'));
    expect(await dataError(readCifar10(dir))).toBe(`${path.join(dir, C10)}: missing data_batch_3.bin ${C10_USAGE}`);
  });

  test('a foreign archive says what it holds', async () => {
    const file = await writeTarGz(tmpPath('photos.tar.gz'), new Map([['photos/cat.jpg', Buffer.alloc(10)]]));
    expect(await dataError(readCifar10(file))).toBe(
      `${file}: missing ${C10_FILES.map((f) => `${C10}/${f}`).join(', ')}; it holds photos/cat.jpg ${C10_USAGE}`,
    );
  });

  test('the other data set, or another version of CIFAR, is named with what to do', async () => {
    const c100 = await writeTarGz(tmpPath('c100.tar.gz'), new Map([['cifar-100-binary/train.bin', Buffer.alloc(10)]]));
    expect(await dataError(readCifar10(c100))).toBe(`${c100}: this is CIFAR-100, not CIFAR-10; \`allcnn train --dataset cifar100\` takes it as --data, \`allcnn transfer\` as --data100`);
    const c10 = await writeTarGz(tmpPath('c10.tar.gz'), cifar10Members());
    expect(await dataError(readCifar100(c10))).toBe(`${c10}: this is CIFAR-10, not CIFAR-100; \`allcnn train\` (without --dataset cifar100) and \`reproduce\` take it as --data, \`transfer\` as --data10`);
    // The Python version (what most tutorials download), as an archive and extracted.
    const python = new Map(['data_batch_1', 'data_batch_2', 'batches.meta', 'test_batch'].map((f) => [`cifar-10-batches-py/${f}`, Buffer.alloc(10)]));
    const py = await writeTarGz(tmpPath('cifar-10-python.tar.gz'), python);
    const binary = 'allcnn reads the binary version, cifar-10-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html';
    expect(await dataError(readCifar10(py))).toBe(`${py}: this is CIFAR-10's Python version (pickled batches); ${binary}`);
    const dir = extractTo(python, tmpPath('py'));
    expect(await dataError(readCifar10(path.join(dir, 'cifar-10-batches-py')))).toBe(`${path.join(dir, 'cifar-10-batches-py')}: this is CIFAR-10's Python version (pickled batches); ${binary}`);
  });

  test('truncated file', async () => {
    const members = cifar10Members((m) => m.set(`${C10}/data_batch_3.bin`, cifar10Records(10, 0).subarray(0, 30729)));
    const file = await writeTarGz(tmpPath('short3.tar.gz'), members);
    expect(await dataError(readCifar10(file))).toBe(
      `${file}: ${C10}/data_batch_3.bin: 30729 bytes is not a whole number of 3073-byte records (truncated or not a CIFAR-10 binary file)`,
    );
    const dir = extractTo(members, tmpPath('short3'));
    expect(await dataError(readCifar10(dir))).toBe(
      `${path.join(dir, C10, 'data_batch_3.bin')}: 30729 bytes is not a whole number of 3073-byte records (truncated or not a CIFAR-10 binary file)`,
    );
  });

  test('empty file', async () => {
    const file = await writeTarGz(tmpPath('empty.tar.gz'), cifar10Members((m) => m.set(`${C10}/test_batch.bin`, Buffer.alloc(0))));
    expect(await dataError(readCifar10(file))).toBe(
      `${file}: ${C10}/test_batch.bin: the file is empty (expected 3073-byte CIFAR-10 records)`,
    );
  });

  test('label out of range', async () => {
    const bad = cifar10Records(3, 0);
    bad[2 * CIFAR10_RECORD_BYTES] = 10;
    const file = await writeTarGz(tmpPath('label.tar.gz'), cifar10Members((m) => m.set(`${C10}/data_batch_2.bin`, bad)));
    expect(await dataError(readCifar10(file))).toBe(
      `${file}: ${C10}/data_batch_2.bin: record 2 has label 10, expected 0..9 (not a CIFAR-10 binary file?)`,
    );
  });

  test('CIFAR-100: coarse label out of range, wrong record size, missing names', async () => {
    const names = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `name${i}`).join('\n') + '\n');
    const record = Buffer.alloc(CIFAR100_RECORD_BYTES);
    const members = (train: Buffer) => new Map([
      ['cifar-100-binary/train.bin', train],
      ['cifar-100-binary/test.bin', record],
      ['cifar-100-binary/fine_label_names.txt', names(100)],
      ['cifar-100-binary/coarse_label_names.txt', names(20)],
    ]);
    const dir = extractTo(members(Buffer.concat([record, Buffer.from([20, 5]), record.subarray(2)])), tmpPath('c100bad'));
    expect(await dataError(readCifar100(dir))).toBe(
      `${path.join(dir, 'cifar-100-binary', 'train.bin')}: record 1 has coarse label 20, expected 0..19 (not a CIFAR-100 binary file?)`,
    );
    const file = await writeTarGz(tmpPath('c100size.tar.gz'), members(cifar10Records(2, 0)));
    expect(await dataError(readCifar100(file))).toBe(
      `${file}: cifar-100-binary/train.bin: 6146 bytes is not a whole number of 3074-byte records (truncated or not a CIFAR-100 binary file)`,
    );
    const noNames = members(record);
    noNames.delete('cifar-100-binary/coarse_label_names.txt');
    const file2 = await writeTarGz(tmpPath('c100names.tar.gz'), noNames);
    expect(await dataError(readCifar100(file2))).toBe(
      `${file2}: missing cifar-100-binary/coarse_label_names.txt (pass the CIFAR-100 binary archive cifar-100-binary.tar.gz or its extracted folder)`,
    );
  });
});

// ---------------------------------------------------------------------------
// Downloader (fetch is always injected)

describe('download', () => {
  const body = Buffer.from('pretend archive bytes');
  const md5 = createHash('md5').update(body).digest('hex');
  const remote = { title: 'Test', url: 'https://example.invalid/test.tar.gz', md5, file: 'test.tar.gz' };

  function fakeFetch(make: () => Response | Promise<Response>) {
    const calls: string[] = [];
    const fn = (async (url: string | URL | Request) => {
      calls.push(String(url));
      return make();
    }) as typeof fetch;
    return { fn, calls };
  }

  test('downloads, verifies, caches; the second call does not fetch', async () => {
    const cacheDir = tmpPath('cache');
    const fake = fakeFetch(() => new Response(body));
    const progress: number[] = [];
    const file = await ensureArchive(remote, { cacheDir, fetch: fake.fn, onProgress: (n) => progress.push(n) });
    expect(file).toBe(path.join(cacheDir, 'test.tar.gz'));
    expect(fs.readFileSync(file)).toEqual(body);
    expect(fs.readdirSync(cacheDir)).toEqual(['test.tar.gz']);
    expect(progress[progress.length - 1]).toBe(body.length);
    expect(await ensureArchive(remote, { cacheDir, fetch: fake.fn })).toBe(file);
    expect(fake.calls).toEqual([remote.url]);
  });

  test('a cached archive is returned without fetching; ALLCNN_DATA sets the folder', async () => {
    const cacheDir = tmpPath('env-cache');
    fs.mkdirSync(cacheDir);
    fs.writeFileSync(path.join(cacheDir, 'cifar-100-binary.tar.gz'), 'local copy');
    const fake = fakeFetch(() => new Response(body));
    const saved = process.env.ALLCNN_DATA;
    process.env.ALLCNN_DATA = cacheDir;
    try {
      expect(await ensureCifar100({ fetch: fake.fn })).toBe(path.join(cacheDir, 'cifar-100-binary.tar.gz'));
    } finally {
      if (saved === undefined) delete process.env.ALLCNN_DATA;
      else process.env.ALLCNN_DATA = saved;
    }
    expect(fake.calls).toEqual([]);
  });

  test('a checksum mismatch is rejected and nothing is cached', async () => {
    const cacheDir = tmpPath('bad-md5');
    const fake = fakeFetch(() => new Response(body));
    expect(await dataError(ensureCifar10({ cacheDir, fetch: fake.fn }))).toBe(
      `${CIFAR10_URL}: the download has MD5 ${md5}, expected c32a1d4ab5d03f1284b67883e8d87530 (corrupt or changed file; nothing was cached)`,
    );
    expect(fs.readdirSync(cacheDir)).toEqual([]);
    expect(fake.calls).toEqual([CIFAR10_URL]);
  });

  test('a network failure says how to use a local archive', async () => {
    const cacheDir = tmpPath('offline');
    const target = path.join(cacheDir, 'cifar-10-binary.tar.gz');
    const offline = fakeFetch(() => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }) });
    });
    expect(await dataError(ensureCifar10({ cacheDir, fetch: offline.fn }))).toBe(
      `downloading CIFAR-10 from ${CIFAR10_URL} failed (fetch failed: ENOTFOUND). Without network access, ` +
        `pass a local copy with --data /path/to/cifar-10-binary.tar.gz or place the file at ${target}`,
    );
    const notFound = fakeFetch(() => new Response('gone', { status: 404, statusText: 'Not Found' }));
    expect(await dataError(ensureCifar10({ cacheDir, fetch: notFound.fn }))).toMatch(/failed \(HTTP 404 Not Found\)\. Without network access/);
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });

  test('a connection lost mid-download leaves nothing in the cache', async () => {
    const cacheDir = tmpPath('reset');
    const broken = fakeFetch(() => new Response(new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array(1000));
        controller.error(new Error('socket hang up'));
      },
    })));
    expect(await dataError(ensureCifar10({ cacheDir, fetch: broken.fn }))).toMatch(/^downloading CIFAR-10 from .* failed \(socket hang up\)/);
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });

  test('bad options are argument errors', async () => {
    await expect(ensureCifar10({ cacheDir: 7 as unknown as string })).rejects.toThrow(InvalidArgumentError);
    await expect(ensureCifar10({ fetch: 'x' as unknown as typeof fetch })).rejects.toThrow(InvalidArgumentError);
  });
});

// ---------------------------------------------------------------------------
// The full data set, where this machine has it

const describeFull = fs.existsSync(FULL_CIFAR10) ? describe : describe.skip;
describeFull(`full CIFAR-10 (${FULL_CIFAR10})`, () => {
  test('50,000 + 10,000 images with the published per-channel training mean', async () => {
    const data = await readCifar10(FULL_CIFAR10);
    expect(data.train.count).toBe(50000);
    expect(data.test.count).toBe(10000);
    const plane = CIFAR_IMAGE_BYTES / 3;
    const sums = [0, 0, 0];
    const images = data.train.images;
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      for (let i = 0; i < data.train.count; i++) {
        const start = i * CIFAR_IMAGE_BYTES + c * plane;
        for (let p = start; p < start + plane; p++) sum += images[p];
      }
      sums[c] = sum;
    }
    const means = sums.map((s) => s / (data.train.count * plane));
    [125.307, 122.95, 113.865].forEach((expected, c) => expect(Math.abs(means[c] - expected)).toBeLessThan(0.01));
  }, 60_000);
});
