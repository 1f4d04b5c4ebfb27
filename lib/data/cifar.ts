/**
 * Readers for the official CIFAR-10 and CIFAR-100 *binary versions*
 * (https://www.cs.toronto.edu/~kriz/cifar.html), read straight from the
 * .tar.gz archive or from its extracted folder.
 *
 * A local archive is validated by structure (files present, sizes, label
 * ranges), not by checksum: repacked copies with the same layout are fine.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { DataError, OtherDataSetError } from '../errors';
import { invalid } from '../check';

/** 3 x 32 x 32, channel-major (all R, then G, then B), each row-major. */
export const CIFAR_IMAGE_BYTES = 3072;
/** CIFAR-10 record: 1 label byte, then the image. */
export const CIFAR10_RECORD_BYTES = 1 + CIFAR_IMAGE_BYTES;
/** CIFAR-100 record: 1 coarse label byte, 1 fine label byte, then the image. */
export const CIFAR100_RECORD_BYTES = 2 + CIFAR_IMAGE_BYTES;
export const CIFAR10_CLASSES = 10;
export const CIFAR100_COARSE_CLASSES = 20;
export const CIFAR100_FINE_CLASSES = 100;

/** Folder names inside the official archives. */
export const CIFAR10_FOLDER = 'cifar-10-batches-bin';
export const CIFAR100_FOLDER = 'cifar-100-binary';

const CIFAR10_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
const CIFAR10_TEST_FILE = 'test_batch.bin';
const CIFAR10_META_FILE = 'batches.meta.txt';
const CIFAR100_TRAIN_FILE = 'train.bin';
const CIFAR100_TEST_FILE = 'test.bin';
const CIFAR100_FINE_NAMES_FILE = 'fine_label_names.txt';
const CIFAR100_COARSE_NAMES_FILE = 'coarse_label_names.txt';

/** Used when batches.meta.txt is absent (it is only metadata). */
export const CIFAR10_CLASS_NAMES: readonly string[] = [
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
];

const GZIP_MAGIC = [0x1f, 0x8b];
/** Large inflate chunks: with zlib's 16 KiB default, reading is about 2x slower. */
const INFLATE_CHUNK_BYTES = 4 << 20;
const READ_CHUNK_BYTES = 1 << 20;
/**
 * The largest file of either data set, CIFAR-100's train.bin (50,000
 * records). A file that claims more is not theirs: refused before its buffer
 * is allocated, so a forged size costs no memory.
 */
const MAX_FILE_BYTES = 50_000 * CIFAR100_RECORD_BYTES;

export interface ImageSet {
  /** count * CIFAR_IMAGE_BYTES bytes, CHW per image. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}
export interface Cifar10 { train: ImageSet; test: ImageSet; classNames: string[]; source: string }
/** `labels` are the fine labels. */
export interface Cifar100Set extends ImageSet { coarseLabels: Uint8Array }
export interface Cifar100 { train: Cifar100Set; test: Cifar100Set; fineNames: string[]; coarseNames: string[]; source: string }

/** What tells the two data sets apart on disk. */
interface Layout {
  title: string;
  archive: string;
  folder: string;
  required: string[];
  optional: string[];
}

const CIFAR10_LAYOUT: Layout = {
  title: 'CIFAR-10',
  archive: 'cifar-10-binary.tar.gz',
  folder: CIFAR10_FOLDER,
  required: [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE],
  optional: [CIFAR10_META_FILE],
};

const CIFAR100_LAYOUT: Layout = {
  title: 'CIFAR-100',
  archive: 'cifar-100-binary.tar.gz',
  folder: CIFAR100_FOLDER,
  required: [CIFAR100_TRAIN_FILE, CIFAR100_TEST_FILE, CIFAR100_FINE_NAMES_FILE, CIFAR100_COARSE_NAMES_FILE],
  optional: [],
};

/** The raw files of one data set, keyed by bare file name. */
interface RawFiles {
  source: string;
  data: Map<string, Buffer>;
  /** Every file name found, wanted or not, to explain a wrong archive. */
  seen: string[];
  /** How errors name a file: the folder path or "archive: member". */
  displayName(file: string): string;
}

export async function readCifar10(path: string): Promise<Cifar10> {
  const raw = await readLayout(path, CIFAR10_LAYOUT);
  const train = demuxCifar10(raw, CIFAR10_TRAIN_FILES);
  const test = demuxCifar10(raw, [CIFAR10_TEST_FILE]);
  // The test batch is of the training batches' size too (10,000; 100 in the sample): one cut at a record boundary was scored as the test set.
  const batch = train.count / CIFAR10_TRAIN_FILES.length;
  if (test.count !== batch) {
    throw new DataError(`${raw.displayName(CIFAR10_TEST_FILE)}: ${test.count} records, where each training batch has ${batch} (CIFAR-10's test batch is of their size: truncated?)`);
  }
  const meta = raw.data.get(CIFAR10_META_FILE);
  const classNames = meta ? parseNames(raw, CIFAR10_META_FILE, CIFAR10_CLASSES) : [...CIFAR10_CLASS_NAMES];
  return { train, test, classNames, source: raw.source };
}

export async function readCifar100(path: string): Promise<Cifar100> {
  const raw = await readLayout(path, CIFAR100_LAYOUT);
  return {
    train: demuxCifar100(raw, CIFAR100_TRAIN_FILE),
    test: demuxCifar100(raw, CIFAR100_TEST_FILE),
    fineNames: parseNames(raw, CIFAR100_FINE_NAMES_FILE, CIFAR100_FINE_CLASSES),
    coarseNames: parseNames(raw, CIFAR100_COARSE_NAMES_FILE, CIFAR100_COARSE_CLASSES),
    source: raw.source,
  };
}

// ---------------------------------------------------------------------------
// Record parsing

/** Number of whole records in a file, or a DataError naming the file. */
function recordCount(raw: RawFiles, file: string, recordBytes: number, title: string): number {
  const bytes = raw.data.get(file)!.length;
  if (bytes === 0) {
    throw new DataError(`${raw.displayName(file)}: the file is empty (expected ${recordBytes}-byte ${title} records)`);
  }
  if (bytes % recordBytes !== 0) {
    throw new DataError(
      `${raw.displayName(file)}: ${bytes} bytes is not a whole number of ${recordBytes}-byte records ` +
        `(truncated or not a ${title} binary file)`,
    );
  }
  return bytes / recordBytes;
}

function labelError(raw: RawFiles, file: string, record: number, what: string, value: number, classes: number, title: string): DataError {
  return new DataError(
    `${raw.displayName(file)}: record ${record} has ${what} ${value}, expected 0..${classes - 1} (not a ${title} binary file?)`,
  );
}

/** Concatenates the given batch files into one set, in order. */
function demuxCifar10(raw: RawFiles, files: string[]): ImageSet {
  const counts = files.map((f) => recordCount(raw, f, CIFAR10_RECORD_BYTES, 'CIFAR-10'));
  // The training batches are of one size: one cut at a record boundary would pass the whole-record check.
  const odd = counts.findIndex((n) => n !== counts[0]);
  if (odd >= 0) {
    throw new DataError(`${raw.displayName(files[odd])}: ${counts[odd]} records, where ${files[0]} has ${counts[0]} (CIFAR-10's training batches are of one size: truncated?)`);
  }
  const count = counts.reduce((a, b) => a + b, 0);
  const images = allocBytes(count * CIFAR_IMAGE_BYTES);
  const labels = allocBytes(count);
  let first = 0;
  files.forEach((file, f) => {
    const buf = raw.data.get(file)!;
    for (let i = 0; i < counts[f]; i++) {
      const at = i * CIFAR10_RECORD_BYTES;
      const label = buf[at];
      if (label >= CIFAR10_CLASSES) throw labelError(raw, file, i, 'label', label, CIFAR10_CLASSES, 'CIFAR-10');
      labels[first + i] = label;
      images.set(buf.subarray(at + 1, at + CIFAR10_RECORD_BYTES), (first + i) * CIFAR_IMAGE_BYTES);
    }
    first += counts[f];
  });
  return { images, labels, count };
}

function demuxCifar100(raw: RawFiles, file: string): Cifar100Set {
  const count = recordCount(raw, file, CIFAR100_RECORD_BYTES, 'CIFAR-100');
  const buf = raw.data.get(file)!;
  const images = allocBytes(count * CIFAR_IMAGE_BYTES);
  const labels = allocBytes(count);
  const coarseLabels = allocBytes(count);
  for (let i = 0; i < count; i++) {
    const at = i * CIFAR100_RECORD_BYTES;
    const coarse = buf[at];
    const fine = buf[at + 1];
    if (coarse >= CIFAR100_COARSE_CLASSES) throw labelError(raw, file, i, 'coarse label', coarse, CIFAR100_COARSE_CLASSES, 'CIFAR-100');
    if (fine >= CIFAR100_FINE_CLASSES) throw labelError(raw, file, i, 'fine label', fine, CIFAR100_FINE_CLASSES, 'CIFAR-100');
    coarseLabels[i] = coarse;
    labels[i] = fine;
    images.set(buf.subarray(at + 2, at + CIFAR100_RECORD_BYTES), i * CIFAR_IMAGE_BYTES);
  }
  return { images, labels, coarseLabels, count };
}

/** Every byte gets written, so skip zero-filling; return a plain Uint8Array, not a Buffer. */
function allocBytes(n: number): Uint8Array {
  const buf = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(buf.buffer, buf.byteOffset, n);
}

/** One name per line; the official files end with blank lines. */
function parseNames(raw: RawFiles, file: string, expected: number): string[] {
  const names = raw.data.get(file)!.toString('utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== '');
  if (names.length !== expected) {
    throw new DataError(`${raw.displayName(file)}: ${names.length} class names, expected ${expected} (one per line)`);
  }
  return names;
}

// ---------------------------------------------------------------------------
// Finding and reading the files

const LISTED_NAMES = 4;

function listSome(names: string[]): string {
  const more = names.length - LISTED_NAMES;
  return names.slice(0, LISTED_NAMES).join(', ') + (more > 0 ? ` and ${more} more` : '');
}

/** Where the official versions of both data sets are. */
const CIFAR_PAGE = 'https://www.cs.toronto.edu/~kriz/cifar.html';

/**
 * The other versions of CIFAR that people download by mistake, told apart by
 * the names they hold (member paths of an archive, or a folder's entries).
 */
const OTHER_VERSIONS: Array<{ test: (names: string[]) => boolean; what: string; title: string; binary: boolean }> = [
  { test: (n) => n.some((f) => /cifar-10-batches-py|(^|\/)data_batch_\d$/.test(f)), what: "CIFAR-10's Python version (pickled batches)", title: 'CIFAR-10', binary: false },
  { test: (n) => n.some((f) => /cifar-10-batches-mat|\.mat$/.test(f)), what: "CIFAR-10's MATLAB version", title: 'CIFAR-10', binary: false },
  { test: (n) => n.some((f) => /cifar-100-python/.test(f)), what: "CIFAR-100's Python version", title: 'CIFAR-100', binary: false },
  { test: (n) => n.some((f) => /cifar-100-binary|(^|\/)fine_label_names\.txt$/.test(f)), what: 'CIFAR-100', title: 'CIFAR-100', binary: true },
  { test: (n) => n.some((f) => /cifar-10-batches-bin|(^|\/)data_batch_\d\.bin$/.test(f)), what: 'CIFAR-10', title: 'CIFAR-10', binary: true },
];

/**
 * The error for a file or folder that is a known CIFAR version other than the
 * one asked for: "this is X", and what to do; null for anything else.
 */
function otherVersionError(source: string, seen: string[], layout: Layout): DataError | null {
  const other = OTHER_VERSIONS.find((v) => v.test(seen) && !(v.binary && v.title === layout.title));
  if (!other) return null;
  const identified = `${source}: this is ${other.what}${other.title === layout.title ? '' : `, not ${layout.title}`}`;
  if (!other.binary) return new DataError(`${identified}; allcnn reads the binary version, ${layout.archive}, from ${CIFAR_PAGE}`);
  const instead = other.title === 'CIFAR-100' ? '`allcnn train --dataset cifar100` takes it as --data, `allcnn transfer` as --data100'
    : '`allcnn train` (without --dataset cifar100) and `reproduce` take it as --data, `transfer` as --data10';
  return new OtherDataSetError(`${identified}; ${instead}`, identified);
}

function usage(layout: Layout): string {
  return `pass the ${layout.title} binary archive ${layout.archive} or its extracted folder`;
}

async function readLayout(source: unknown, layout: Layout): Promise<RawFiles> {
  if (typeof source !== 'string' || source === '') {
    throw invalid('path', `the path of the ${layout.title} binary archive or folder`, source);
  }
  const stat = await fsp.stat(source).catch(() => null);
  if (!stat) throw new DataError(`no such file or folder: ${source} (${usage(layout)})`);
  const raw = stat.isDirectory() ? await readFolder(source, layout) : await readArchive(source, layout);
  const missing = layout.required.filter((f) => !raw.data.has(f));
  if (missing.length > 0) {
    const names = stat.isDirectory() ? missing : missing.map((f) => `${layout.folder}/${f}`);
    // Nothing matched: say what is there instead (e.g. the Python version, or the other data set).
    const nothing = missing.length === layout.required.length;
    const other = nothing ? otherVersionError(raw.source, raw.seen, layout) : null;
    if (other) throw other;
    const seen = nothing && raw.seen.length > 0 ? `; it holds ${listSome(raw.seen)}` : '';
    throw new DataError(`${raw.source}: missing ${names.join(', ')}${seen} (${usage(layout)})`);
  }
  return raw;
}

/** Accepts both the folder holding `layout.folder` and that folder itself. */
async function readFolder(dir: string, layout: Layout): Promise<RawFiles> {
  const inner = join(dir, layout.folder);
  const folder = (await isDirectory(inner)) ? inner : dir;
  const data = new Map<string, Buffer>();
  for (const file of [...layout.required, ...layout.optional]) {
    const size = (await fsp.stat(join(folder, file)).catch(() => null))?.size ?? 0;
    if (size > MAX_FILE_BYTES) throw new DataError(`${join(folder, file)}: ${size} bytes, more than any ${layout.title} file holds (${MAX_FILE_BYTES}): not a ${layout.title} binary file`);
    const buf = await fsp.readFile(join(folder, file)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw new DataError(`${join(folder, file)}: cannot read (${err.message})`);
    });
    if (buf) data.set(file, buf);
  }
  const seen = (await fsp.readdir(folder).catch(() => [] as string[])).sort();
  return { source: folder, data, seen, displayName: (file) => join(folder, file) };
}

async function isDirectory(p: string): Promise<boolean> {
  const stat = await fsp.stat(p).catch(() => null);
  return stat !== null && stat.isDirectory();
}

async function hasGzipMagic(file: string): Promise<boolean> {
  const fh = await fsp.open(file, 'r').catch((err: Error) => {
    throw new DataError(`${file}: cannot read (${err.message})`);
  });
  try {
    const head = Buffer.alloc(GZIP_MAGIC.length);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return bytesRead === GZIP_MAGIC.length && GZIP_MAGIC.every((b, i) => head[i] === b);
  } finally {
    await fh.close();
  }
}

/**
 * Streams the archive once (read -> gunzip -> untar), keeping only the
 * layout's files. Each kept member is copied into one buffer of its
 * header size, so no chunk list or second copy is needed.
 */
async function readArchive(archive: string, layout: Layout): Promise<RawFiles> {
  const notTarGz = `${archive} is not a gzip-compressed tar archive`;
  if (!(await hasGzipMagic(archive))) throw new DataError(`${notTarGz} (${usage(layout)})`);

  const wanted = new Map([...layout.required, ...layout.optional].map((f) => [`${layout.folder}/${f}`, f]));
  const data = new Map<string, Buffer>();
  const seen: string[] = [];

  await new Promise<void>((resolve, reject) => {
    const input = createReadStream(archive, { highWaterMark: READ_CHUNK_BYTES });
    const gunzip = zlib.createGunzip({ chunkSize: INFLATE_CHUNK_BYTES });
    const extract = tar.extract();
    let failed = false;
    const fail = (err: Error, stage: 'read' | 'gzip' | 'tar') => {
      if (failed) return;
      failed = true;
      input.destroy();
      gunzip.destroy();
      extract.destroy();
      if (seen.length === 0 && stage === 'tar') {
        reject(new DataError(`${notTarGz} (it is gzip-compressed, but the contents are not a tar archive)`));
      } else {
        // tar-stream's guess "or it needs to be gunzipped?" is wrong here: it reads what gunzip gave.
        const why = err.message.replace(/ Maybe the tar is corrupted or it needs to be gunzipped\?$/, '');
        reject(new DataError(`${archive}: the archive is truncated or corrupt (${stage}: ${why})`));
      }
    };

    extract.on('entry', (header, entry, next) => {
      const name = header.name.replace(/^\.\//, '');
      const isFile = header.type === 'file' || header.type === 'contiguous-file';
      seen.push(header.type === 'directory' ? `${name.replace(/\/$/, '')}/` : name);
      const file = wanted.get(name);
      // An archive cut short inside a member fails in that member's stream, not in the extractor's.
      entry.on('error', (err: Error) => fail(err, 'tar'));
      if (file === undefined || !isFile) {
        entry.on('end', () => next());
        entry.resume();
        return;
      }
      if ((header.size ?? 0) > MAX_FILE_BYTES) {
        fail(new Error(`${name} claims ${header.size} bytes, more than any ${layout.title} file holds (${MAX_FILE_BYTES})`), 'tar');
        return;
      }
      const buf = Buffer.allocUnsafeSlow(header.size ?? 0);
      let offset = 0;
      // streamx types chunks as unknown; tar-stream always emits Buffers.
      entry.on('data', (chunk) => {
        offset += (chunk as Buffer).copy(buf, offset);
      });
      entry.on('end', () => {
        data.set(file, buf.subarray(0, offset));
        next();
      });
    });
    extract.on('finish', () => {
      if (seen.length > 0) resolve();
      else reject(new DataError(`${notTarGz} (it is gzip-compressed, but holds no tar entries)`));
    });
    input.on('error', (err) => fail(err, 'read'));
    gunzip.on('error', (err) => fail(err, 'gzip'));
    extract.on('error', (err: Error) => fail(err, 'tar'));
    input.pipe(gunzip).pipe(extract);
  });

  return { source: archive, data, seen, displayName: (file) => `${archive}: ${layout.folder}/${file}` };
}
