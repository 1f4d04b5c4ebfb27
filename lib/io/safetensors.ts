/**
 * The safetensors format (https://github.com/huggingface/safetensors):
 * 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}},
 * then the raw little-endian tensor bytes. Used for model weights, checkpoints
 * and the ZCA cache. Writes are atomic (temporary file + rename).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromArray } from '../creation';
import { invalid } from '../check';
import { CheckpointError } from '../errors';
import { handleOf, ITEM_SIZE, type DType, type Tensor } from '../tensor';
import { reasonOf, writeFileAtomic } from '../report/atomic';
import { makeFolder } from './folder';

const HEADER_LENGTH_BYTES = 8;
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const TO_ST: Record<string, string> = { float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', uint8: 'U8', bool: 'BOOL' };
const FROM_ST: Record<string, DType> = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));

/** Writes tensors (any device; copied to the host) and string metadata to `file`, atomically. */
export function saveSafetensors(file: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  if (tensors === null || typeof tensors !== 'object') throw invalid('tensors', 'a Map or an object of named tensors', tensors);
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) handleOf(`tensor ${name}`, t); // a plain array or a number has no dtype to write
  // The format's header keeps __metadata__ for itself, and every metadata value is a string.
  const clash = entries.find(([name]) => name === '__metadata__');
  if (clash) throw invalid('tensor name', 'any name but __metadata__ (the header\'s metadata entry)', clash[0]);
  if (metadata === null || typeof metadata !== 'object') throw invalid('metadata', 'an object of strings', metadata);
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw invalid(`metadata.${k}`, 'a string (safetensors metadata maps strings to strings: JSON.stringify other values)', v);
  // Without a prototype: on a plain object, a tensor named __proto__ (a valid name for the reference
  // writer) would set the prototype instead of an entry, and the file would be written without it, unreadable.
  const header: Record<string, unknown> = Object.assign(Object.create(null), { __metadata__: metadata });
  const chunks: Uint8Array[] = [];
  let offset = 0;
  // Wider dtypes first, as the reference writer does, so that each tensor's bytes start aligned to its item size.
  for (const [name, t] of [...entries].sort((a, b) => ITEM_SIZE[b[1].dtype] - ITEM_SIZE[a[1].dtype])) {
    const d = t.data();
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    header[name] = { dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // align the data to 8 bytes (a path in the metadata may be non-ASCII)
  const head = Buffer.alloc(HEADER_LENGTH_BYTES);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  makeFolder(path.dirname(path.resolve(file)));
  try {
    writeFileAtomic(file, [head, Buffer.from(json), ...chunks]);
  } catch (err) {
    // In words, as writeFileAtomic says it ('the disk is full', not 'ENOSPC'), and with the code kept: the command line says what to do.
    const e = err as NodeJS.ErrnoException;
    const why = e.code ? reasonOf(e) : (e.cause as Error | undefined)?.message ?? e.message;
    throw Object.assign(new CheckpointError(`${file}: cannot write (${why})`, { cause: err }), { code: e.code });
  }
}

export interface Safetensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

interface Entry {
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * The header of a safetensors file whose bytes `read(position, length)`
 * returns, checked as the reference reader checks it: a JSON object of
 * entries whose data_offsets cover the data exactly, without holes, overlaps
 * or trailing bytes, and string metadata. CheckpointError naming the file
 * otherwise: a file that breaks these would load the wrong bytes quietly.
 */
function readHeader(file: string, size: number, read: (position: number, length: number) => Buffer): { entries: Map<string, Entry>; metadata: Record<string, string>; dataStart: number } {
  if (size < HEADER_LENGTH_BYTES) bad(file, 'too short');
  const n = Number(read(0, HEADER_LENGTH_BYTES).readBigUInt64LE(0));
  if (n > MAX_HEADER_BYTES || HEADER_LENGTH_BYTES + n > size) bad(file, 'header length out of range: truncated or foreign file');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(read(HEADER_LENGTH_BYTES, n)));
  } catch {
    bad(file, 'header is not JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) bad(file, 'header is not a JSON object');
  const { __metadata__: metadata = {}, ...rest } = header as Record<string, any>;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata) || !Object.values(metadata).every((v) => typeof v === 'string')) {
    bad(file, '__metadata__ is not an object of strings');
  }
  const entries = new Map<string, Entry>();
  for (const [name, e] of Object.entries(rest)) {
    const dtype = typeof e?.dtype === 'string' && Object.hasOwn(FROM_ST, e.dtype) ? FROM_ST[e.dtype] : undefined;
    const offsets = e?.data_offsets;
    if (typeof e?.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      bad(file, `entry ${name} is malformed`);
    }
    // A valid file of another tool may hold dtypes allcnn has no tensors of (I16, U16, F8_E4M3, ...).
    if (!dtype) bad(file, `entry ${name} has dtype ${e.dtype}, which allcnn does not read (it reads ${Object.keys(FROM_ST).join(', ')})`);
    entries.set(name, { dtype, shape: e.shape, begin: offsets[0], end: offsets[1] });
  }
  // The entries must tile the data: a hole (or a key given twice: JSON keeps the last) or an overlap is corruption.
  const dataStart = HEADER_LENGTH_BYTES + n;
  let covered = 0;
  for (const [name, e] of [...entries].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end)) {
    if (e.begin !== covered || e.end < e.begin) bad(file, `entry ${name} has data offsets [${e.begin}, ${e.end}] where [${covered}, ...] was next: a hole, an overlap or a duplicate key`);
    covered = e.end;
  }
  if (dataStart + covered > size) bad(file, `its tensors need ${covered} bytes of data but it holds ${size - dataStart}: truncated`);
  if (dataStart + covered < size) bad(file, `${size - dataStart - covered} bytes after the last tensor's data`);
  return { entries, metadata, dataStart };
}

function bad(file: string, why: string): never {
  throw new CheckpointError(`${file}: not a valid safetensors file (${why})`);
}

function cannotRead(file: string, err: unknown): never {
  throw new CheckpointError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
}

/** Runs fn with the file's size and a reader of its bytes; CheckpointError naming the file when it cannot be read. */
function withFile<T>(file: string, fn: (size: number, read: (position: number, length: number) => Buffer) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    return cannotRead(file, err);
  }
  try {
    const read = (position: number, length: number) => {
      try {
        const buf = Buffer.alloc(length);
        // One read returns at most 2 GiB, and may return less: read until the buffer is full.
        for (let done = 0; done < length; ) {
          const got = fs.readSync(fd, buf, done, Math.min(length - done, 1 << 30), position + done);
          if (got === 0) throw new Error('the file ended early');
          done += got;
        }
        return buf;
      } catch (err) {
        return cannotRead(file, err); // a folder, say, or data too large for one Buffer
      }
    };
    return fn(fs.fstatSync(fd).size, read);
  } finally {
    fs.closeSync(fd);
  }
}

/** Only the string metadata of a safetensors file: reads (and checks) its header, not its tensors. */
export function readSafetensorsMetadata(file: string): Record<string, string> {
  return withFile(file, (size, read) => readHeader(file, size, read).metadata);
}

/** Reads a safetensors file into CPU tensors; throws CheckpointError naming the file on any corruption. */
export function loadSafetensors(file: string): Safetensors {
  // The header is checked before the data are read: a large foreign file costs a few bytes, not its size in memory.
  const { entries, metadata, data } = withFile(file, (size, read) => {
    const h = readHeader(file, size, read);
    return { ...h, data: read(h.dataStart, size - h.dataStart) };
  });
  const tensors = new Map<string, Tensor>();
  try {
    for (const [name, e] of entries) {
      try {
        tensors.set(name, fromArray(new Uint8Array(data.subarray(e.begin, e.end)), e.shape, e.dtype)); // a copy: aligned, and the file's buffer freed
      } catch (err) {
        bad(file, `entry ${name}: ${(err as Error).message}`);
      }
    }
  } catch (err) {
    for (const t of tensors.values()) t.dispose(); // nothing half-loaded stays alive
    throw err;
  }
  return { tensors, metadata };
}
