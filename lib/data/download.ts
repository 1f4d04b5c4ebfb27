/**
 * Downloads the official CIFAR binary archives once into a cache folder.
 *
 * The download goes to a temporary file next to the target, is checked
 * against the official MD5 and only then renamed into place, so the cache
 * never holds a partial or corrupt archive. A file already in the cache is
 * trusted as is: users may place a local copy there (e.g. a repacked one
 * whose checksum differs); the readers validate its structure anyway.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { DataError } from '../errors';
import { invalid } from '../check';
import { makeFolder } from '../io/folder';

export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
export const CIFAR100_URL = 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz';
export const CIFAR100_MD5 = '03b5dce01913d631647c71ecec9e9cb8';

/** Environment variable that overrides the cache folder. */
export const DATA_DIR_ENV = 'ALLCNN_DATA';

export interface DownloadOptions {
  /** Default: $ALLCNN_DATA, else ~/.cache/allcnn. */
  cacheDir?: string;
  /** Injected in tests so they never touch the network. */
  fetch?: typeof fetch;
  /** Called as bytes arrive; total is 0 when the server does not say. */
  onProgress?: (received: number, total: number) => void;
}

/** One downloadable archive: where it lives, its checksum and its cache file name. */
export interface RemoteArchive {
  title: string;
  url: string;
  md5: string;
  file: string;
}

export const CIFAR10_ARCHIVE: RemoteArchive = { title: 'CIFAR-10', url: CIFAR10_URL, md5: CIFAR10_MD5, file: 'cifar-10-binary.tar.gz' };
export const CIFAR100_ARCHIVE: RemoteArchive = {
  title: 'CIFAR-100', url: CIFAR100_URL, md5: CIFAR100_MD5, file: 'cifar-100-binary.tar.gz',
};

export function defaultCacheDir(): string {
  return process.env[DATA_DIR_ENV] || join(homedir(), '.cache', 'allcnn');
}

/** Path of the cached CIFAR-10 binary archive, downloaded first if needed. */
export function ensureCifar10(opts: DownloadOptions = {}): Promise<string> {
  return ensureArchive(CIFAR10_ARCHIVE, opts);
}

/** Path of the cached CIFAR-100 binary archive, downloaded first if needed. */
export function ensureCifar100(opts: DownloadOptions = {}): Promise<string> {
  return ensureArchive(CIFAR100_ARCHIVE, opts);
}

/** Path of `remote.file` in the cache folder, downloaded and MD5-checked first if absent. */
export async function ensureArchive(remote: RemoteArchive, opts: DownloadOptions = {}): Promise<string> {
  if (opts === null || typeof opts !== 'object') throw invalid('opts', 'an options object', opts);
  if (opts.cacheDir !== undefined && (typeof opts.cacheDir !== 'string' || opts.cacheDir === '')) {
    throw invalid('opts.cacheDir', 'a folder path', opts.cacheDir);
  }
  if (opts.fetch !== undefined && typeof opts.fetch !== 'function') throw invalid('opts.fetch', 'a fetch function', opts.fetch);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') {
    throw invalid('opts.onProgress', 'a function', opts.onProgress);
  }

  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const target = join(cacheDir, remote.file);
  const cached = await fsp.stat(target).catch(() => null);
  if (cached && cached.isFile() && cached.size > 0) return target;

  try {
    makeFolder(cacheDir);
  } catch (err) {
    throw new DataError(`cannot create the data cache folder ${cacheDir} (${(err as Error).message}); set ${DATA_DIR_ENV} to a writable folder`);
  }
  // Unique per attempt, in the same folder so that the rename is atomic.
  const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
  try {
    const md5 = await download(remote, target, temp, opts);
    if (md5 !== remote.md5) {
      throw new DataError(
        `${remote.url}: the download has MD5 ${md5}, expected ${remote.md5} (corrupt or changed file; nothing was cached)`,
      );
    }
    await fsp.rename(temp, target);
    return target;
  } finally {
    await fsp.rm(temp, { force: true });
  }
}

/** Streams the response body into `temp` and returns its MD5 (hex). */
async function download(remote: RemoteArchive, target: string, temp: string, opts: DownloadOptions): Promise<string> {
  const failed = (reason: string) =>
    new DataError(
      `downloading ${remote.title} from ${remote.url} failed (${reason}). ` +
        `Without network access, pass a local copy with --data /path/to/${remote.file} ` +
        `or place the file at ${target}`,
    );
  const doFetch = opts.fetch ?? globalThis.fetch;
  let response: Response;
  try {
    response = await doFetch(remote.url);
  } catch (err) {
    throw failed(reasonOf(err));
  }
  if (!response.ok || !response.body) throw failed(`HTTP ${response.status} ${response.statusText}`.trim());

  const total = Number(response.headers.get('content-length')) || 0;
  const hash = createHash('md5');
  let received = 0;
  const tap = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      hash.update(chunk);
      received += chunk.length;
      opts.onProgress?.(received, total);
      yield chunk;
    }
  };
  const sink = createWriteStream(temp);
  try {
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), tap, sink);
  } catch (err) {
    // pipeline can reject while the file is still being opened (a busy libuv
    // thread pool): wait until it is closed, or the caller's rm runs first
    // and the open then leaves a .part file in the cache.
    if (!sink.closed) await new Promise<void>((resolve) => sink.once('close', () => resolve()));
    throw failed(reasonOf(err));
  }
  return hash.digest('hex');
}

/** fetch() wraps the real cause (DNS, refused, reset) in a generic TypeError. */
function reasonOf(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  const message = e?.message ?? String(err);
  return cause ? `${message}: ${cause}` : message;
}
