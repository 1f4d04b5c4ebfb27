/**
 * The safetensors reader and writer: round trips of every dtype with
 * metadata, the on-disk layout checked by hand, corrupt files refused with a
 * CheckpointError naming the file, and atomic writes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { liveTensors } from '../lib/backend';
import { fromArray, scalar, zeros } from '../lib/creation';
import { CheckpointError } from '../lib/errors';
import { loadSafetensors, readSafetensorsMetadata, saveSafetensors } from '../lib/io/safetensors';
import { dispose, tidy } from '../lib/scope';
import { Tensor } from '../lib/tensor';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allcnn-safetensors-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
let serial = 0;
/** A fresh folder per test, so listings show exactly what a test wrote. */
const freshDir = () => {
  const d = path.join(dir, `case-${serial++}`);
  fs.mkdirSync(d);
  return d;
};

/** Tensors of every supported dtype, built from known values. */
function sampleTensors(): Record<string, Tensor> {
  return tidy(() => ({
    f32: fromArray([1.5, -2.25, 3e-8, 1e30, -0, 7], [2, 3]),
    f64: fromArray(Float64Array.from([Math.PI, -Math.E, 1e-300]), [3]),
    f16: fromArray([0.5, -1, 2048, 0.099975586], [2, 2]).to({ dtype: 'float16' }),
    bf16: fromArray([1, -3.5, 256, 0.1015625], [4]).to({ dtype: 'bfloat16' }),
    i64: fromArray(BigInt64Array.from([0n, -1n, 9007199254740991n, -9007199254740991n]), [4]),
    i32: fromArray(Int32Array.from([2147483647, -2147483648, 5]), [3, 1]),
    u8: fromArray(Uint8Array.from([0, 127, 255, 1]), [1, 2, 2]),
    bool: fromArray(Uint8Array.from([1, 0, 0, 1, 1]), [5], 'bool'),
    scalar: scalar(42),
    empty: zeros([0, 3]),
  }));
}

/** Exact comparison of values (int64 as BigInt). */
function values(t: Tensor): Array<number | bigint> {
  if (t.dtype === 'int64') return Array.from(t.data() as BigInt64Array);
  return t.toArray();
}

describe('round trip', () => {
  test('every dtype, shapes (0-d and empty included) and metadata survive save + load', () => {
    const base = liveTensors();
    const d = freshDir();
    const file = path.join(d, 'all.safetensors');
    const tensors = sampleTensors();
    const metadata = { epoch: '12', note: 'ünïcødé and "quotes"', empty: '' };
    saveSafetensors(file, tensors, metadata);
    const loaded = loadSafetensors(file);
    try {
      expect([...loaded.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
      for (const [name, t] of Object.entries(tensors)) {
        const l = loaded.tensors.get(name)!;
        expect(l.dtype).toBe(t.dtype);
        expect(l.shape).toEqual(t.shape);
        expect(l.device).toBe('cpu');
        expect(values(l)).toEqual(values(t));
      }
      expect(loaded.metadata).toEqual(metadata);
      // exact bits, including -0 and subnormal-range values
      expect(Object.is(loaded.tensors.get('f32')!.toArray()[4], -0)).toBe(true);
      expect(values(loaded.tensors.get('i64')!)).toEqual([0n, -1n, 9007199254740991n, -9007199254740991n]);
    } finally {
      dispose([...loaded.tensors.values()]);
      dispose(Object.values(tensors));
    }
    expect(liveTensors()).toBe(base);
  });

  test('a Map keeps its order; no metadata gives {}; overwriting replaces the file', () => {
    const d = freshDir();
    const file = path.join(d, 'map.safetensors');
    tidy(() => {
      const m = new Map<string, Tensor>([['z', fromArray([1])], ['a', fromArray([2, 3])], ['m', fromArray([4])]]);
      saveSafetensors(file, m);
      const loaded = loadSafetensors(file);
      expect([...loaded.tensors.keys()]).toEqual(['z', 'a', 'm']);
      expect(loaded.metadata).toEqual({});
      expect(loaded.tensors.get('a')!.toArray()).toEqual([2, 3]);
      dispose([...loaded.tensors.values()]);
      saveSafetensors(file, { only: fromArray([9, 9, 9]) }, { v: '2' });
      const again = loadSafetensors(file);
      expect([...again.tensors.keys()]).toEqual(['only']);
      expect(again.metadata).toEqual({ v: '2' });
      dispose([...again.tensors.values()]);
    });
    expect(fs.readdirSync(d)).toEqual(['map.safetensors']);
  });

  test('a tensor named __proto__ (or constructor) is written as an entry like any other, and loads', () => {
    const d = freshDir();
    const file = path.join(d, 'proto.safetensors');
    tidy(() => {
      saveSafetensors(file, new Map<string, Tensor>([['__proto__', fromArray([1, 2])], ['constructor', fromArray([3])], ['w', fromArray([4])]]));
      const loaded = loadSafetensors(file);
      expect([...loaded.tensors.keys()].sort()).toEqual(['__proto__', 'constructor', 'w']);
      expect(loaded.tensors.get('__proto__')!.toArray()).toEqual([1, 2]);
      dispose([...loaded.tensors.values()]);
    });
  });

  test('non-contiguous tensors are written in logical order; loaded tensors are independent copies', () => {
    const d = freshDir();
    const file = path.join(d, 't.safetensors');
    tidy(() => {
      const t = fromArray([1, 2, 3, 4, 5, 6], [2, 3]).transpose(0, 1);
      saveSafetensors(file, { t });
      const loaded = loadSafetensors(file).tensors.get('t')!;
      expect(loaded.shape).toEqual([3, 2]);
      expect(loaded.toArray()).toEqual([1, 4, 2, 5, 3, 6]);
      loaded.add_(1);
      const reloaded = loadSafetensors(file).tensors.get('t')!;
      expect(reloaded.toArray()).toEqual([1, 4, 2, 5, 3, 6]);
    });
  });

  test('creates missing folders', () => {
    const d = freshDir();
    const file = path.join(d, 'a', 'b', 'c.safetensors');
    tidy(() => saveSafetensors(file, { x: fromArray([1]) }));
    expect(fs.existsSync(file)).toBe(true);
  });
});

describe('the file format, parsed by hand', () => {
  test('8-byte little-endian header length, JSON header, then the raw little-endian bytes', () => {
    const d = freshDir();
    const file = path.join(d, 'format.safetensors');
    const tensors = sampleTensors();
    try {
      saveSafetensors(file, tensors, { k: 'v' });
    } finally {
      dispose(Object.values(tensors));
    }
    const buf = fs.readFileSync(file);
    const n = Number(buf.readBigUInt64LE(0));
    expect(n).toBeGreaterThan(0);
    expect(n % 8).toBe(0); // the data starts 8-byte aligned
    const json = buf.subarray(8, 8 + n).toString('utf8');
    expect(json).toMatch(/^\{.*\} *$/s); // padded with spaces only
    const header = JSON.parse(json) as Record<string, any>;
    expect(header.__metadata__).toEqual({ k: 'v' });
    // Wider dtypes first (the reference writer's order), each in the order given.
    const expectedDtypes: Record<string, string> = {
      f64: 'F64', i64: 'I64', f32: 'F32', i32: 'I32', scalar: 'F32', empty: 'F32', f16: 'F16', bf16: 'BF16', u8: 'U8', bool: 'BOOL',
    };
    const itemsize: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };
    const entries = Object.entries(header).filter(([k]) => k !== '__metadata__');
    expect(entries.map(([k]) => k)).toEqual(Object.keys(expectedDtypes));
    let offset = 0;
    for (const [name, e] of entries) {
      expect(e.dtype).toBe(expectedDtypes[name]);
      const numel = (e.shape as number[]).reduce((a, b) => a * b, 1);
      // contiguous, in order, each exactly numel * itemsize bytes
      expect(e.data_offsets).toEqual([offset, offset + numel * itemsize[e.dtype]]);
      expect(offset % itemsize[e.dtype]).toBe(0); // aligned to its item size
      offset = e.data_offsets[1];
    }
    expect(buf.length).toBe(8 + n + offset);
    const data = buf.subarray(8 + n);
    const bytesOf = (name: string) => data.subarray(header[name].data_offsets[0], header[name].data_offsets[1]);
    // F32 little-endian
    const f32 = bytesOf('f32');
    expect([0, 1, 2, 3, 4, 5].map((i) => f32.readFloatLE(4 * i))).toEqual([1.5, -2.25, Math.fround(3e-8), Math.fround(1e30), -0, 7]);
    expect(header.f32.shape).toEqual([2, 3]);
    // F64, I64, I32, U8, BOOL
    expect(bytesOf('f64').readDoubleLE(0)).toBe(Math.PI);
    expect(bytesOf('i64').readBigInt64LE(16)).toBe(9007199254740991n);
    expect(bytesOf('i32').readInt32LE(4)).toBe(-2147483648);
    expect(header.i32.shape).toEqual([3, 1]);
    expect(Array.from(bytesOf('u8'))).toEqual([0, 127, 255, 1]);
    expect(Array.from(bytesOf('bool'))).toEqual([1, 0, 0, 1, 1]);
    // F16: 0.5 = 0x3800, -1 = 0xBC00, 2048 = 0x6800; BF16: 1 = 0x3F80, -3.5 = 0xC060
    expect([0, 1, 2].map((i) => bytesOf('f16').readUInt16LE(2 * i))).toEqual([0x3800, 0xbc00, 0x6800]);
    expect([0, 1].map((i) => bytesOf('bf16').readUInt16LE(2 * i))).toEqual([0x3f80, 0xc060]);
    expect(header.scalar.shape).toEqual([]);
    expect(bytesOf('scalar').readFloatLE(0)).toBe(42);
    expect(header.empty.shape).toEqual([0, 3]);
  });

  test('a file written by hand (as another safetensors writer would) loads', () => {
    const d = freshDir();
    const file = path.join(d, 'foreign.safetensors');
    const data = Buffer.alloc(4 * 4 + 2);
    [1, 2, 3, 4].forEach((v, i) => data.writeFloatLE(v, 4 * i));
    data.writeUInt8(200, 16);
    data.writeUInt8(3, 17);
    // no padding, no metadata, keys out of data order
    const json = JSON.stringify({ b: { dtype: 'U8', shape: [2], data_offsets: [16, 18] }, a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } });
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    fs.writeFileSync(file, Buffer.concat([head, Buffer.from(json), data]));
    const loaded = loadSafetensors(file);
    try {
      expect(loaded.metadata).toEqual({});
      expect(loaded.tensors.get('a')!.shape).toEqual([2, 2]);
      expect(loaded.tensors.get('a')!.toArray()).toEqual([1, 2, 3, 4]);
      expect(loaded.tensors.get('b')!.dtype).toBe('uint8');
      expect(loaded.tensors.get('b')!.toArray()).toEqual([200, 3]);
    } finally {
      dispose([...loaded.tensors.values()]);
    }
  });
});

test('readSafetensorsMetadata reads the metadata alone, and refuses what loadSafetensors refuses', () => {
  const file = path.join(freshDir(), 'm.safetensors');
  const base = liveTensors();
  tidy(() => saveSafetensors(file, { w: fromArray([1, 2, 3]) }, { epoch: '3', config: '{"a":1}' }));
  expect(readSafetensorsMetadata(file)).toEqual({ epoch: '3', config: '{"a":1}' });
  expect(liveTensors()).toBe(base); // no tensor was made
  const cut = path.join(path.dirname(file), 'cut.safetensors');
  fs.writeFileSync(cut, fs.readFileSync(file).subarray(0, 20));
  expect(() => readSafetensorsMetadata(cut)).toThrow(new CheckpointError(`${cut}: not a valid safetensors file (header length out of range: truncated or foreign file)`));
  expect(() => readSafetensorsMetadata(path.dirname(file))).toThrow(/: cannot read \(EISDIR\)$/);
  expect(() => readSafetensorsMetadata(path.join(path.dirname(file), 'none'))).toThrow(/: cannot read \(ENOENT\)$/);
});

describe('corrupt files give a CheckpointError naming the file', () => {
  let good: Buffer;
  beforeAll(() => {
    const file = path.join(freshDir(), 'good.safetensors');
    tidy(() => saveSafetensors(file, { w: fromArray(new Float32Array(64).fill(0.5), [8, 8]), b: fromArray([1, 2, 3]) }, { epoch: '3' }));
    good = fs.readFileSync(file);
  });

  /** Writes `bytes` and expects loadSafetensors to throw a CheckpointError with `why` and the file name. */
  function expectRefused(bytes: Buffer | string, why: string | RegExp, checkLeaks = true): void {
    const file = path.join(freshDir(), 'bad.safetensors');
    fs.writeFileSync(file, bytes);
    const base = liveTensors();
    let err: unknown;
    try {
      loadSafetensors(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    const msg = (err as Error).message;
    expect((err as Error).name).toBe('CheckpointError');
    expect(msg.startsWith(`${file}: `)).toBe(true);
    if (typeof why === 'string') expect(msg).toContain(why);
    else expect(msg).toMatch(why);
    if (checkLeaks) expect(liveTensors()).toBe(base); // nothing half-loaded is left behind
  }

  test('a truncated file', () => {
    expectRefused(good.subarray(0, good.length - 10), /^.*: not a valid safetensors file \(its tensors need \d+ bytes of data but it holds \d+: truncated\)$/, false);
    expectRefused(good.subarray(0, 8 + Number(good.readBigUInt64LE(0)) + 100), /^.*: not a valid safetensors file \(its tensors need \d+ bytes of data but it holds 100: truncated\)$/);
  });

  test('a file cut inside the header', () => {
    expectRefused(good.subarray(0, 20), 'not a valid safetensors file (header length out of range: truncated or foreign file)');
  });

  test('a file shorter than the length field', () => {
    expectRefused(good.subarray(0, 5), 'not a valid safetensors file (too short)');
    expectRefused(Buffer.alloc(0), 'not a valid safetensors file (too short)');
  });

  test('a garbage file', () => {
    expectRefused('hello world, this is certainly not a safetensors file', 'not a valid safetensors file (header length out of range: truncated or foreign file)');
  });

  test('a header length out of range (larger than the file, and above 100 MiB)', () => {
    const huge = Buffer.from(good);
    huge.writeBigUInt64LE(BigInt(good.length));
    expectRefused(huge, 'header length out of range');
    const enormous = Buffer.from(good);
    enormous.writeBigUInt64LE(0xffffffffffffffffn);
    expectRefused(enormous, 'header length out of range');
  });

  test('a header that is not JSON', () => {
    const bad = Buffer.from(good);
    bad.write('!', 8);
    expectRefused(bad, 'not a valid safetensors file (header is not JSON)');
  });

  test('malformed entries: unknown dtype, missing offsets, data that does not match the shape', () => {
    const make = (header: object, dataBytes = 16) => {
      const json = JSON.stringify(header);
      const head = Buffer.alloc(8);
      head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
      return Buffer.concat([head, Buffer.from(json), Buffer.alloc(dataBytes)]);
    };
    expectRefused(make({ x: { dtype: 'C64', shape: [2], data_offsets: [0, 16] } }), 'entry x has dtype C64, which allcnn does not read (it reads F32, F64, ');
    expectRefused(make({ x: { dtype: 'toString', shape: [2], data_offsets: [0, 16] } }), 'entry x has dtype toString, which allcnn does not read');
    expectRefused(make({ x: { dtype: 7, shape: [2], data_offsets: [0, 16] } }), 'entry x is malformed');
    expectRefused(make({ x: { dtype: 'F32', shape: [2] } }), 'entry x is malformed');
    expectRefused(make({ x: { dtype: 'F32', shape: 2, data_offsets: [0, 8] } }), 'entry x is malformed');
    expectRefused(make({ x: { dtype: 'F32', shape: [2], data_offsets: [8, 4] } }), 'entry x has data offsets [8, 4] where [0, ...] was next');
    expectRefused(make({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /entry x: .*8 bytes/);
    // the first entry loads, the second fails: the first is freed (checked by expectRefused)
    expectRefused(make({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, x: { dtype: 'F32', shape: [5], data_offsets: [8, 16] } }), /entry x: /);
  });

  test('what the reference reader refuses: holes, overlaps, trailing bytes, a header that is not an object of entries', () => {
    const make = (header: unknown, dataBytes = 16, raw?: Buffer) => {
      const json = raw ?? Buffer.from(JSON.stringify(header));
      const head = Buffer.alloc(8);
      head.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([head, json, Buffer.alloc(dataBytes)]);
    };
    const a = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
    // b reading a's bytes would load a second copy of a, silently.
    expectRefused(make({ a, b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 8), 'entry b has data offsets [0, 8] where [8, ...] was next: a hole, an overlap or a duplicate key');
    expectRefused(make({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }), 'entry a has data offsets [8, 16] where [0, ...] was next');
    expectRefused(make({ a }, 12), '4 bytes after the last tensor\'s data');
    expectRefused(make({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8, 16] } }), 'entry a is malformed');
    for (const header of [null, 5, ['x'], 'hello']) expectRefused(make(header, 0), 'header is not a JSON object');
    expectRefused(make({ __metadata__: { epoch: 1 } }, 0), '__metadata__ is not an object of strings');
    expectRefused(make(null, 0, Buffer.from([0x7b, 0xff, 0x7d])), 'header is not JSON'); // not UTF-8
  });

  test("a write removes the temporary files that killed writes of the same file left, not a live process's", () => {
    const d = freshDir();
    const file = path.join(d, 'checkpoint.safetensors');
    // A pid that is no process (above Linux's pid_max), and this process's parent, which is alive.
    const dead = `${file}.tmp-4194305-1`;
    const live = `${file}.tmp-${process.ppid}-1`;
    // This process's pid on a file older than it: a killed run whose pid the restarted one got (in a container, say).
    const before = `${file}.tmp-${process.pid}-1`;
    // This process's pid on a file of its lifetime: another worker thread of it writing the same file.
    const thread = `${file}.tmp-${process.pid}-2`;
    for (const f of [dead, live, before, thread]) fs.writeFileSync(f, 'partial');
    fs.utimesSync(before, new Date(Date.now() - (process.uptime() + 60) * 1000), new Date(Date.now() - (process.uptime() + 60) * 1000));
    const t = zeros([2]);
    try {
      saveSafetensors(file, { t });
    } finally {
      t.dispose();
    }
    expect(fs.readdirSync(d).sort()).toEqual([path.basename(live), path.basename(thread), 'checkpoint.safetensors'].sort());
  });

  test('a header with non-ASCII metadata still starts the data 8-byte aligned', () => {
    const file = path.join(freshDir(), 'utf8.safetensors');
    const t = zeros([3], { dtype: 'float64' });
    try {
      saveSafetensors(file, { t }, { data: '/tmp/dätä/c.tar.gz' });
    } finally {
      t.dispose();
    }
    expect(Number(fs.readFileSync(file).readBigUInt64LE(0)) % 8).toBe(0);
    const back = loadSafetensors(file);
    expect([back.metadata.data, back.tensors.get('t')!.toArray()]).toEqual(['/tmp/dätä/c.tar.gz', [0, 0, 0]]);
    dispose([...back.tensors.values()]);
  });

  test('a malformed or truncated entry after a good one frees the good one', () => {
    const make = (header: object, dataBytes = 16) => {
      const json = JSON.stringify(header);
      const head = Buffer.alloc(8);
      head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
      return Buffer.concat([head, Buffer.from(json), Buffer.alloc(dataBytes)]);
    };
    const a = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
    expectRefused(make({ a, x: { dtype: 'C64', shape: [1], data_offsets: [8, 16] } }), 'entry x has dtype C64');
    expectRefused(make({ a, x: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }), 'its tensors need 24 bytes of data but it holds 16: truncated');
  });

  test('a missing file', () => {
    const file = path.join(dir, 'no-such-file.safetensors');
    expect(() => loadSafetensors(file)).toThrow(CheckpointError);
    expect(() => loadSafetensors(file)).toThrow(`${file}: cannot read (ENOENT)`);
  });

  test('a negative data offset is refused', () => {
    const json = JSON.stringify({ x: { dtype: 'F32', shape: [2], data_offsets: [-4, 4] } });
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    expectRefused(Buffer.concat([head, Buffer.from(json), Buffer.alloc(8)]), 'entry x');
  });
});

describe('atomic writes', () => {
  test('no temporary files are left behind, after many writes to the same file', () => {
    const d = freshDir();
    const file = path.join(d, 'model.safetensors');
    tidy(() => {
      for (let i = 0; i < 5; i++) saveSafetensors(file, { w: fromArray([i, i + 1]) }, { i: String(i) });
    });
    expect(fs.readdirSync(d)).toEqual(['model.safetensors']);
    const loaded = loadSafetensors(file);
    expect(loaded.metadata).toEqual({ i: '4' });
    dispose([...loaded.tensors.values()]);
  });

  test('a save that fails before writing leaves the previous file intact', () => {
    const d = freshDir();
    const file = path.join(d, 'keep.safetensors');
    tidy(() => saveSafetensors(file, { w: fromArray([1, 2, 3]) }, { v: 'old' }));
    const before = fs.readFileSync(file);
    const gone = fromArray([4, 5, 6]);
    gone.dispose();
    expect(() => saveSafetensors(file, { w: gone }, { v: 'new' })).toThrow(/disposed/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.readdirSync(d)).toEqual(['keep.safetensors']);
  });

  test('a save whose rename fails leaves no temporary file behind', () => {
    const d = freshDir();
    const target = path.join(d, 'occupied');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'x'), '1');
    tidy(() => {
      expect(() => saveSafetensors(target, { w: fromArray([1]) })).toThrow();
    });
    expect(fs.readdirSync(d)).toEqual(['occupied']);
  });
});
