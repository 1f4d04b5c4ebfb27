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
import type { DType, Tensor } from '../tensor';
import { makeFolder } from './folder';

const HEADER_LENGTH_BYTES = 8;
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const TO_ST: Record<string, string> = { float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', uint8: 'U8', bool: 'BOOL' };
const FROM_ST: Record<string, DType> = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));

/** Writes tensors (any device; copied to the host) and string metadata to `file`, atomically. */
export function saveSafetensors(file: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  // The format's header keeps __metadata__ for itself, and every metadata value is a string.
  const clash = entries.find(([name]) => name === '__metadata__');
  if (clash) throw invalid('tensor name', 'any name but __metadata__ (the header\'s metadata entry)', clash[0]);
  if (metadata === null || typeof metadata !== 'object') throw invalid('metadata', 'an object of strings', metadata);
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw invalid(`metadata.${k}`, 'a string (safetensors metadata maps strings to strings: JSON.stringify other values)', v);
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const d = t.data();
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    header[name] = { dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // align the data to 8 bytes
  const head = Buffer.alloc(HEADER_LENGTH_BYTES);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  makeFolder(path.dirname(path.resolve(file)));
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, head);
      fs.writeSync(fd, Buffer.from(json));
      for (const c of chunks) fs.writeSync(fd, c);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new CheckpointError(`${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export interface Safetensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** The JSON header of a safetensors file whose bytes `read(position, length)` returns; CheckpointError naming the file on corruption. */
function readHeader(file: string, size: number, read: (position: number, length: number) => Buffer): { header: Record<string, any>; dataStart: number } {
  if (size < HEADER_LENGTH_BYTES) bad(file, 'too short');
  const n = Number(read(0, HEADER_LENGTH_BYTES).readBigUInt64LE(0));
  if (n > MAX_HEADER_BYTES || HEADER_LENGTH_BYTES + n > size) bad(file, 'header length out of range: truncated or foreign file');
  try {
    return { header: JSON.parse(read(HEADER_LENGTH_BYTES, n).toString('utf8')), dataStart: HEADER_LENGTH_BYTES + n };
  } catch {
    return bad(file, 'header is not JSON');
  }
}

function bad(file: string, why: string): never {
  throw new CheckpointError(`${file}: not a valid safetensors file (${why})`);
}

function cannotRead(file: string, err: unknown): never {
  throw new CheckpointError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
}

/** Only the string metadata of a safetensors file: reads its header, not its tensors. */
export function readSafetensorsMetadata(file: string): Record<string, string> {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    return cannotRead(file, err);
  }
  try {
    const read = (position: number, length: number) => {
      const buf = Buffer.alloc(length);
      try {
        fs.readSync(fd, buf, 0, length, position);
      } catch (err) {
        cannotRead(file, err); // a folder, say
      }
      return buf;
    };
    return readHeader(file, fs.fstatSync(fd).size, read).header.__metadata__ ?? {};
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a safetensors file into CPU tensors; throws CheckpointError naming the file on any corruption. */
export function loadSafetensors(file: string): Safetensors {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    return cannotRead(file, err);
  }
  const { header, dataStart } = readHeader(file, buf.length, (position, length) => buf.subarray(position, position + length));
  const tensors = new Map<string, Tensor>();
  try {
    for (const [name, e] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const dtype = FROM_ST[e?.dtype];
      const [begin, end] = e?.data_offsets ?? [];
      if (!dtype || !Array.isArray(e.shape) || !Number.isInteger(begin) || !Number.isInteger(end)) bad(file, `entry ${name} is malformed`);
      if (begin < 0 || begin > end) bad(file, `entry ${name} has invalid data offsets [${begin}, ${end}]`);
      if (dataStart + end > buf.length) bad(file, `entry ${name} lies outside the file: truncated`);
      const bytes = new Uint8Array(end - begin);
      bytes.set(buf.subarray(dataStart + begin, dataStart + end));
      try {
        tensors.set(name, fromArray(bytes, e.shape, dtype));
      } catch (err) {
        bad(file, `entry ${name}: ${(err as Error).message}`);
      }
    }
  } catch (err) {
    for (const t of tensors.values()) t.dispose(); // nothing half-loaded stays alive
    throw err;
  }
  return { tensors, metadata: header.__metadata__ ?? {} };
}
