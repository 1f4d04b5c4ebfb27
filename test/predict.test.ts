/**
 * Your own pictures: decoding PNG and JPEG, bringing any size to 32x32 by
 * area resampling (against hand-worked values), and predictImages / `allcnn
 * predict` giving exactly what the network gives the run's own test images.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as jpeg from 'jpeg-js';
import { liveTensors } from '../lib/backend';
import { readCifar10 } from '../lib/data/cifar';
import { BUNDLED_CIFAR100_SAMPLE, BUNDLED_SAMPLE, loadCifar10 } from '../lib/data/dataset';
import { decodeImage, RawImage, readImage, toCifarPixels } from '../lib/data/images';
import { CheckpointError, DataError, InvalidArgumentError } from '../lib/errors';
import { buildNetwork } from '../lib/model/network';
import { MODELS } from '../models';
import { loadCheckpoint } from '../lib/train/checkpoint';
import { predict } from '../lib/train/evaluate';
import { readRun } from '../lib/train/evaluate-checkpoint';
import { predictImages } from '../lib/train/predict-checkpoint';
import { trainModel } from '../lib/train/train';
import { encodePng } from '../lib/visualize/png';
import { tempDirs } from './tmp';

const BIN = path.resolve(__dirname, '../../bin/allcnn.js');
const tmp = tempDirs('predict');
process.env.ALLCNN_DATA = tmp();

/** An RGB picture whose pixel (x, y) has the colour f(x, y). */
function picture(width: number, height: number, f: (x: number, y: number) => [number, number, number]): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  return { width, height, channels: 3, data };
}
/** Plane c of CIFAR pixels, as rows. */
const plane = (px: Uint8Array, c: number) => Array.from({ length: 32 }, (_, y) => Array.from(px.subarray(c * 1024 + y * 32, c * 1024 + y * 32 + 32)));
/** A CIFAR record's planar pixels as interleaved RGB, `scale` times as large. */
function interleave(px: Uint8Array, scale = 1): RawImage {
  return picture(32 * scale, 32 * scale, (x, y) => {
    const i = Math.floor(y / scale) * 32 + Math.floor(x / scale);
    return [px[i], px[1024 + i], px[2048 + i]];
  });
}

describe('pictures to CIFAR pixels', () => {
  it('leaves a 32x32 picture as it is, planar', () => {
    const p = picture(32, 32, (x, y) => [x, y, x + y]);
    const px = toCifarPixels(p);
    expect(plane(px, 0)[5][7]).toBe(7);
    expect(plane(px, 1)[5][7]).toBe(5);
    expect(plane(px, 2)[5][7]).toBe(12);
    expect(toCifarPixels(p, 'stretch')).toEqual(px);
  });

  it('averages the source pixels each output pixel covers', () => {
    // 64x64 -> 32x32: each output pixel is the mean of a 2x2 block; x + 2y over it averages to x' * 2 + 0.5 + 2 * (2y' + 0.5).
    const px = toCifarPixels(picture(64, 64, (x, y) => [x + 2 * y, 0, 255]));
    expect(plane(px, 0)[3][4]).toBe(Math.round(2 * 4 + 0.5 + 2 * (2 * 3 + 0.5)));
    expect(plane(px, 2).flat().every((v) => v === 255)).toBe(true);
    // 96 -> 32: three source pixels per output pixel, in one dimension.
    const row = toCifarPixels(picture(96, 32, (x) => [x, 0, 0]), 'stretch');
    expect(plane(row, 0)[0].slice(0, 3)).toEqual([1, 4, 7]);
    // 48 -> 32: 1.5 source pixels per output pixel, the middle one split: (0 + 0.5 * 10) / 1.5, (0.5 * 10 + 20) / 1.5.
    const split = toCifarPixels(picture(48, 32, (x) => [10 * (x % 3), 0, 0]), 'stretch');
    expect(plane(split, 0)[0].slice(0, 2)).toEqual([3, 17]);
  });

  it('crops the centred square, or stretches the whole picture', () => {
    // 40 wide, 32 high: the crop starts at x = 4.
    const wide = picture(40, 32, (x) => [x, 0, 0]);
    expect(plane(toCifarPixels(wide), 0)[0].slice(0, 3)).toEqual([4, 5, 6]);
    // 40 -> 32: output pixel o covers [1.25 o, 1.25 (o + 1)): 0.25 / 1.25, (0.75 + 2 * 0.5) / 1.25, (2 * 0.5 + 3 * 0.75) / 1.25, (3 * 0.25 + 4) / 1.25.
    expect(plane(toCifarPixels(wide, 'stretch'), 0)[0].slice(0, 4)).toEqual([0, 1, 3, 4]);
    const tall = picture(32, 64, (_, y) => [0, y, 0]);
    expect(plane(toCifarPixels(tall), 1)[0][0]).toBe(16);
  });

  it('lays transparency over white and makes grey pictures grey RGB', () => {
    const rgba: RawImage = { width: 32, height: 32, channels: 4, data: new Uint8Array(32 * 32 * 4) };
    rgba.data.set([100, 0, 50, 255, 100, 0, 50, 0, 100, 0, 50, 51], 0); // opaque, transparent, a fifth opaque
    const px = toCifarPixels(rgba);
    expect([px[0], px[1024], px[2048]]).toEqual([100, 0, 50]);
    expect([px[1], px[1025], px[2049]]).toEqual([255, 255, 255]);
    expect([px[2], px[1026], px[2050]]).toEqual([224, 204, 214]); // 0.2 v + 0.8 * 255
    const grey = toCifarPixels({ width: 32, height: 32, channels: 1, data: new Uint8Array(1024).fill(77) });
    expect(grey.every((v) => v === 77)).toBe(true);
    const greyAlpha = toCifarPixels({ width: 32, height: 32, channels: 2, data: new Uint8Array(2048).fill(0) });
    expect(greyAlpha.every((v) => v === 255)).toBe(true);
  });

  it('decodes PNG and JPEG by their first bytes, and names a file it cannot read', () => {
    const rgb = interleave(Uint8Array.from({ length: 3072 }, (_, i) => (i * 7) % 256));
    const png = decodeImage(encodePng(rgb.data, 32, 32));
    expect([png.width, png.height, png.channels]).toEqual([32, 32, 4]);
    expect(toCifarPixels(png)).toEqual(toCifarPixels(rgb));
    // JPEG is lossy: a flat colour comes back within a few levels.
    const rgbaFlat = new Uint8Array(48 * 40 * 4).map((_, i) => [200, 60, 30, 255][i % 4]);
    const jpg = decodeImage(jpeg.encode({ data: rgbaFlat, width: 48, height: 40 }, 95).data);
    expect([jpg.width, jpg.height]).toEqual([48, 40]);
    const px = toCifarPixels(jpg);
    for (const [c, v] of [[0, 200], [1, 60], [2, 30]]) expect(Math.abs(px[c * 1024 + 500] - v)).toBeLessThanOrEqual(3);

    expect(() => decodeImage(Buffer.from('GIF89a...'), 'cat.gif')).toThrow(/cat\.gif: not a PNG or JPEG file; convert it first/);
    const truncated = encodePng(rgb.data, 32, 32).subarray(0, 60);
    expect(() => decodeImage(truncated, 'cut.png')).toThrow(DataError);
    // pngjs says "There are some read requests waitng on finished stream": a file cut anywhere, its last chunk (IEND) too, is called truncated.
    for (const cut of [truncated, encodePng(rgb.data, 32, 32).subarray(0, 12), encodePng(rgb.data, 32, 32).subarray(0, -1)]) {
      expect(() => decodeImage(Buffer.from(cut), 'cut.png')).toThrow(new DataError('cut.png: a truncated PNG file (it ends before its image does; a copy or download cut short?)'));
    }
    const corrupt = Buffer.from(encodePng(rgb.data, 32, 32));
    corrupt[25] = 9; // IHDR's colour type, one PNG has not: other pngjs messages are kept
    expect(() => decodeImage(corrupt, 'bad.png')).toThrow(new DataError('bad.png: a corrupt or unsupported PNG file (unrecognised content at end of stream)'));
    const huge = Buffer.from(encodePng(rgb.data, 32, 32));
    huge.writeUInt32BE(20000, 16); // IHDR's width and height: 20000 x 20000, 400 megapixels
    huge.writeUInt32BE(20000, 20);
    expect(() => decodeImage(huge, 'bomb.png')).toThrow(/bomb\.png: a corrupt or unsupported PNG file \(20000x20000 pixels, over the 100-megapixel limit\)/);
    expect(() => readImage('/nowhere/cat.png', 'x')).toThrow(/\/nowhere\/cat\.png: no such image file/);
    expect(() => readImage({ width: 2, height: 2, channels: 3, data: new Uint8Array(11) }, 'image 0')).toThrow(/12 bytes for image 0\.data/);
    expect(() => readImage({ width: 2, height: 2, channels: 5 as never, data: new Uint8Array(20) }, 'image 0')).toThrow(InvalidArgumentError);
    expect(() => readImage(42 as never, 'image 3')).toThrow(/a file name, a Buffer holding a PNG or JPEG/);
    expect(() => toCifarPixels(rgb, 'pad' as never)).toThrow(/crop, stretch/);
  });
});

describe('predictImages and allcnn predict', () => {
  let dir: string;
  let checkpoint: string;
  let files: string[];
  /** The network's class probabilities for the sample's first six test images, as the run prepared them. */
  let expected: number[][];
  beforeAll(async () => {
    dir = tmp();
    checkpoint = path.join(dir, 'checkpoint.safetensors');
    await trainModel({ model: 'strided-cnn-a', epochs: 1, limit: 200, batchSize: 50, lr: 0.05, prep: 'zca', stallEpochs: 0 }, { checkpoint });
    const raw = await readCifar10(BUNDLED_SAMPLE);
    files = [0, 1, 2, 3, 4, 5].map((k) => {
      const file = path.join(dir, `test-${k}.png`);
      fs.writeFileSync(file, encodePng(interleave(raw.test.images.subarray(k * 3072, (k + 1) * 3072)).data, 32, 32));
      return file;
    });
    const { config, recipe } = readRun(checkpoint);
    const { dataset: _dataset, data: _data, ...options } = recipe;
    const set = await loadCifar10(undefined, options);
    const net = buildNetwork(MODELS[config.model], { finalRelu: config.finalRelu });
    loadCheckpoint(checkpoint, net, null, config);
    const p = predict(net, set.test.x.narrow(0, 0, 6));
    const flat = p.probabilities.toArray();
    expected = [0, 1, 2, 3, 4, 5].map((k) => flat.slice(k * 10, k * 10 + 10));
    p.probabilities.dispose();
    p.labels.dispose();
    net.dispose();
    set.dispose();
  });

  it('gives a picture of a test image what the network gives that test image', async () => {
    const r = await predictImages(checkpoint, files, { top: 4 });
    expect([r.name, r.epoch, r.fit, r.classNames[3]]).toEqual(['Strided-CNN-A', 1, 'crop', 'cat']);
    expect(r.images.map((i) => i.source)).toEqual(files);
    r.images.forEach((image, k) => {
      image.probabilities.forEach((p, c) => expect(p).toBeCloseTo(expected[k][c], 5));
      expect(image.top).toHaveLength(4);
      const best = Math.max(...expected[k]);
      expect(image.top[0]).toEqual({ class: expected[k].indexOf(best), name: r.classNames[expected[k].indexOf(best)], probability: image.probabilities[expected[k].indexOf(best)] });
      expect(image.top.map((t) => t.probability)).toEqual([...image.top.map((t) => t.probability)].sort((a, b) => b - a));
    });
  });

  it('takes PNG bytes and raw pixels too; a picture twice as large gives the same answer', async () => {
    const raw = await readCifar10(BUNDLED_SAMPLE);
    const pixels = raw.test.images.subarray(0, 3072);
    // A canvas's getImageData() holds its pixels in a Uint8ClampedArray.
    const big = interleave(pixels, 3);
    const canvas = { ...big, data: new Uint8ClampedArray(big.data) };
    const r = await predictImages(checkpoint, [fs.readFileSync(files[0]), interleave(pixels, 2), big, canvas], { top: 1 });
    expect(r.images.map((i) => i.source)).toEqual(['image 0', 'image 1', 'image 2', 'image 3']);
    for (const image of r.images) image.probabilities.forEach((p, c) => expect(p).toBeCloseTo(expected[0][c], 5));
  });

  it('refuses bad pictures, options and checkpoints, and leaves no tensor behind', async () => {
    const live = liveTensors();
    const junk = path.join(dir, 'junk.jpg');
    fs.writeFileSync(junk, Buffer.from([0xff, 0xd8, 0xff, 0, 1, 2, 3]));
    await expect(predictImages(checkpoint, [files[0], junk])).rejects.toThrow(/junk\.jpg: a corrupt or unsupported JPEG file/);
    await expect(predictImages(checkpoint, [path.join(dir, 'nope.png')])).rejects.toThrow(/nope\.png: no such image file/);
    await expect(predictImages(checkpoint, [dir])).rejects.toThrow(`${dir}: not a file (pass the pictures themselves, not a folder)`);
    await expect(predictImages(checkpoint, [])).rejects.toThrow(/a non-empty list of images/);
    await expect(predictImages(checkpoint, [{ width: 1, height: 1, channels: 3, data: new Float32Array(3) as never }])).rejects.toThrow(
      "Expected bytes (a Uint8Array, a Buffer, or a canvas's Uint8ClampedArray), one per channel of each pixel for image 0.data but received Float32Array",
    );
    await expect(predictImages(checkpoint, files, { top: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(predictImages(checkpoint, files, { fit: 'pad' as never })).rejects.toThrow(/crop, stretch/);
    await expect(predictImages(checkpoint, files, { topk: 2 } as never)).rejects.toThrow('Expected one of top, fit, data, device for options key but received "topk"');
    await expect(predictImages(path.join(dir, 'weights.safetensors'), files)).rejects.toThrow(CheckpointError);
    // The other data set: what predict needs, not which command would take it (evaluate's "it is scored on that data set's archive" would not fit pictures either).
    await expect(predictImages(checkpoint, files, { data: BUNDLED_CIFAR100_SAMPLE })).rejects.toThrow(new DataError(
      `${BUNDLED_CIFAR100_SAMPLE}: this is CIFAR-100, not CIFAR-10; pictures are prepared with the statistics of the run's own CIFAR-10 training images: ` +
      'pass its CIFAR-10 archive or folder (--data, or options.data from code), or none for the one the run recorded'));
    await expect(predictImages(checkpoint, files, { data: path.join(dir, 'none.tar.gz') })).rejects.toThrow(/none\.tar\.gz .*\(pictures are prepared with the statistics of the run's own CIFAR-10 training images\)$/);
    expect(liveTensors()).toBe(live);
  });

  it('prints each picture\'s likeliest classes from the command line; bad options exit 2, bad pictures 1', () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, 'predict', ...args], { encoding: 'utf8', env: process.env });
    const ok = cli(dir, files[0], files[1], '--top', '2');
    expect(ok.status).toBe(0);
    const lines = ok.stdout.trim().split('\n');
    expect(lines[0]).toBe(`Strided-CNN-A from ${checkpoint} (epoch 1 of 1)`);
    expect(lines[1]).toMatch(new RegExp(`^${files[0]}  \\w+ \\d+\\.\\d\\d%, \\w+ \\d+\\.\\d\\d%$`));
    const json = JSON.parse(cli(checkpoint, files[2], '--json', '--fit', 'stretch').stdout);
    expect(json.fit).toBe('stretch');
    json.images[0].probabilities.forEach((p: number, c: number) => expect(p).toBeCloseTo(expected[2][c], 5));
    // Other images than the run's, as evaluate says: the preparation is fitted on them. The same images moved are no other data.
    const elsewhere = path.join(dir, 'copy.tar.gz');
    fs.copyFileSync(BUNDLED_SAMPLE, elsewhere);
    expect(cli(dir, files[0], '--data', elsewhere).stderr).not.toContain('note:');
    expect(cli(dir, files[0], '--data', BUNDLED_SAMPLE).stderr).not.toContain('note:');
    const tar = zlib.gunzipSync(fs.readFileSync(BUNDLED_SAMPLE));
    tar[100000] ^= 0xff; // a pixel of data_batch_1.bin
    const changed = path.join(dir, 'other.tar.gz');
    fs.writeFileSync(changed, zlib.gzipSync(tar));
    const other = cli(dir, files[0], '--data', changed, '--json');
    expect(JSON.parse(other.stdout).sameData).toBe(false);
    expect(other.stderr).toContain(`note: ${changed} holds other training images than the run was trained on (the bundled sample); the preparation is fitted on them, so the probabilities can differ from those the run's own preparation gives`);
    // Other test images only: the preparation is the run's, and so are the probabilities.
    const test = zlib.gunzipSync(fs.readFileSync(BUNDLED_SAMPLE));
    test[test.indexOf('test_batch.bin') + 512 + 10] ^= 0xff; // a pixel of the first test image (its data follow the 512-byte header)
    const otherTest = path.join(dir, 'other-test.tar.gz');
    fs.writeFileSync(otherTest, zlib.gzipSync(test));
    const same = cli(dir, files[0], '--data', otherTest, '--json');
    expect(same.stderr).not.toContain('note:');
    expect(JSON.parse(same.stdout).sameData).toBe(true);
    expect(JSON.parse(same.stdout).images).toEqual(JSON.parse(cli(dir, files[0], '--json').stdout).images);

    for (const [args, message] of [
      [['--top', '0'], '--top must be an integer >= 1, got "0"'],
      [['--fit', 'pad'], '--fit must be one of crop, stretch, got "pad"'],
    ] as const) {
      const bad = cli(dir, files[0], ...args);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain(message);
    }
    // A folder stands for the PNG and JPEG files in it, by name; one without any is refused.
    const folder = path.join(dir, 'pictures');
    fs.mkdirSync(folder);
    fs.copyFileSync(files[1], path.join(folder, 'b.PNG'));
    fs.copyFileSync(files[0], path.join(folder, 'a.png'));
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'not a picture');
    const many = cli(dir, folder, '--json');
    expect(many.status).toBe(0);
    expect(JSON.parse(many.stdout).images.map((i: { source: string }) => i.source)).toEqual([path.join(folder, 'a.png'), path.join(folder, 'b.PNG')]);
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    expect(cli(dir, empty).stderr).toContain(`${empty}: a folder with no .png, .jpg or .jpeg file in it`);
    expect(cli(dir).status).toBe(2); // no pictures
    const notImage = cli(dir, path.join(dir, 'checkpoint.safetensors'));
    expect(notImage.status).toBe(1);
    expect(notImage.stderr).toContain('not a PNG or JPEG file');
    const swapped = cli(files[0], dir);
    expect(swapped.status).toBe(1);
    expect(swapped.stderr).toContain(`${files[0]} is a picture, not a checkpoint: pass a checkpoint.safetensors or its run folder (predict takes it first, then the pictures)`);
  });
});
