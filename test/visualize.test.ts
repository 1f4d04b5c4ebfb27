/**
 * The figure of reconstructions: the PNG encoder against the format's known
 * values, the grid's layout, and visualizeCheckpoint / `allcnn visualize` on
 * a short run of the bundled sample.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { noGrad } from '../lib/autograd';
import { liveTensors } from '../lib/backend';
import { loadSafetensors, saveSafetensors } from '../lib/io/safetensors';
import { CheckpointError, InvalidArgumentError } from '../lib/errors';
import { trainModel } from '../lib/train/train';
import { cropTile, gridPng, imageTile, reconstructionTile, Tile } from '../lib/visualize/figure';
import { crc32, encodePng } from '../lib/visualize/png';
import { visualizeCheckpoint } from '../lib/visualize/visualize';
import { tempDirs } from './tmp';

const BIN = path.resolve(__dirname, '../../bin/allcnn.js');
const tmp = tempDirs('visualize');
process.env.ALLCNN_DATA = tmp();

/** Reads back what encodePng writes: its chunks checked against their CRCs, and the RGB bytes. */
function decodePng(png: Buffer): { width: number; height: number; rgb: Uint8Array; types: string[] } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const types: string[] = [];
  let header = png.subarray(0, 0);
  let idat = Buffer.alloc(0);
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const body = png.subarray(at + 4, at + 8 + length);
    expect(png.readUInt32BE(at + 8 + length)).toBe(crc32(body));
    const type = body.subarray(0, 4).toString('ascii');
    types.push(type);
    if (type === 'IHDR') header = body.subarray(4);
    if (type === 'IDAT') idat = Buffer.concat([idat, body.subarray(4)]);
    at += 12 + length;
  }
  const [width, height] = [header.readUInt32BE(0), header.readUInt32BE(4)];
  expect([...header.subarray(8)]).toEqual([8, 2, 0, 0, 0]);
  const rows = zlib.inflateSync(idat);
  expect(rows.length).toBe(height * (1 + 3 * width));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(rows[y * (1 + 3 * width)]).toBe(0);
    rgb.set(rows.subarray(y * (1 + 3 * width) + 1, (y + 1) * (1 + 3 * width)), y * width * 3);
  }
  return { width, height, rgb, types };
}

describe('PNG', () => {
  it('computes CRC-32 as the format defines it', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926); // the standard check value
    expect(crc32(Buffer.from('IEND'))).toBe(0xae426082); // every PNG ends with it
  });

  it('writes the pixels it is given, row by row', () => {
    const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    const png = decodePng(encodePng(rgb, 3, 2));
    expect(png).toEqual({ width: 3, height: 2, rgb, types: ['IHDR', 'IDAT', 'IEND'] });
    expect(() => encodePng(rgb, 4, 2)).toThrow(InvalidArgumentError);
  });
});

describe('the grid', () => {
  const flat = (r: number, g: number, b: number): Tile => ({ planes: [r, r, r, r, g, g, g, g, b, b, b, b], height: 2, width: 2 });

  it('places blocks of rows of tiles with white gaps', () => {
    // Two blocks: one of two rows (2 tiles, then 1), one of one row.
    const png = decodePng(gridPng([[[flat(1, 0, 0), flat(0, 0, 1)], [flat(0, 1, 0)]], [[flat(0, 0, 0)]]], { scale: 2, gap: 1, blockGap: 3 }));
    // 2 columns of 4 pixels and 3 gaps of 1; 3 rows of 4, 1 gap inside the first block, 3 block gaps of 3.
    expect([png.width, png.height]).toEqual([11, 22]);
    const at = (x: number, y: number) => [...png.rgb.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3)];
    expect(at(0, 0)).toEqual([255, 255, 255]);
    expect(at(1, 3)).toEqual([255, 0, 0]); // first tile: 1 + 4 wide, 3 + 4 high
    expect(at(4, 6)).toEqual([255, 0, 0]);
    expect(at(5, 3)).toEqual([255, 255, 255]);
    expect(at(6, 3)).toEqual([0, 0, 255]);
    expect(at(1, 8)).toEqual([0, 255, 0]); // the second row: 3 + 4 + 1
    expect(at(6, 8)).toEqual([255, 255, 255]); // it has one tile
    expect(at(1, 15)).toEqual([0, 0, 0]); // the second block: 3 + 4 + 1 + 4 + 3
    expect(at(1, 19)).toEqual([255, 255, 255]); // the bottom gap
  });

  it('crops a window, filling what lies past the edge', () => {
    // One plane of a 3x3 tile, values 1..9 (the other two planes 0).
    const tile: Tile = { planes: [1, 2, 3, 4, 5, 6, 7, 8, 9, ...Array(18).fill(0)], height: 3, width: 3 };
    expect(Array.from(cropTile(tile, -1, 1, 2, 0.5).planes).slice(0, 4)).toEqual([0.5, 0.5, 2, 3]);
    expect(Array.from(cropTile(tile, 1, 1, 2, 0.5).planes).slice(0, 4)).toEqual([5, 6, 8, 9]);
    expect(Array.from(cropTile(tile, 2, 2, 2, 0).planes)).toEqual([9, 0, 0, 0, ...Array(8).fill(0)]);
  });

  it('shows zero as grey and the largest magnitude as black or white; images as their bytes', () => {
    expect(Array.from(reconstructionTile([0, 2, -4, 1], 1, 1).planes)).toEqual([0.5, 0.75, 0, 0.625]);
    expect(Array.from(reconstructionTile([0, 0, 0], 1, 1).planes)).toEqual([0.5, 0.5, 0.5]);
    expect(Array.from(imageTile(Uint8Array.from([0, 51, 255]), 1, 1).planes)).toEqual([0, 0.2, 1]);
  });
});

describe('visualizeCheckpoint and allcnn visualize', () => {
  let dir: string;
  let checkpoint: string;
  beforeAll(async () => {
    dir = tmp();
    checkpoint = path.join(dir, 'checkpoint.safetensors');
    await trainModel({ model: 'strided-cnn-a', epochs: 1, limit: 200, batchSize: 50, lr: 0.05, prep: 'std', stallEpochs: 0 }, { checkpoint });
  });

  it('finds each class map\'s strongest test images and draws them with their reconstructions', async () => {
    const v = await visualizeCheckpoint(checkpoint, { top: 4, methods: ['guided', 'deconvnet'] });
    expect([v.name, v.layer, v.epoch, v.data, v.searched]).toEqual(['Strided-CNN-A', 'conv5', 1, null, 100]);
    expect(v.units.map((u) => u.channel)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(v.units[3].className).toBe('cat');
    for (const u of v.units) {
      expect(u.images).toHaveLength(4);
      const a = u.images.map((i) => i.activation);
      expect(a).toEqual([...a].sort((p, q) => q - p));
      expect(new Set(u.images.map((i) => i.index)).size).toBe(4);
    }
    // The class maps' units see 21x21 patches (5x5 /2, 5x5 /2, 3x3), drawn 5 times as large:
    // 10 blocks of 3 rows (patches, guided, deconvnet) of 4 tiles of 105 pixels.
    expect(v.patch).toBe(21);
    const png = decodePng(v.png);
    expect([png.width, png.height]).toEqual([4 * 105 + 5 * 2, 30 * 105 + 20 * 2 + 11 * 10]);
    for (const i of v.units[0].images) expect(i.window).toEqual({ top: -6 + 4 * i.y, left: -6 + 4 * i.x, size: 21 });
    const whole = await visualizeCheckpoint(checkpoint, { top: 4, channels: [0], crop: false });
    expect(whole.patch).toBeNull();
    expect(decodePng(whole.png).width).toBe(4 * 96 + 5 * 2);
  });

  it('shows any channels of a hidden layer, searching the first images only', async () => {
    const v = await visualizeCheckpoint(checkpoint, { layer: 'conv2', channels: [5, 190], top: 2, images: 30 });
    expect(v.searched).toBe(30);
    expect(v.units.map((u) => [u.channel, u.className, u.images.length])).toEqual([[5, null, 2], [190, null, 2]]);
    expect(v.units.every((u) => u.images.every((i) => i.index < 30))).toBe(true);
  });

  it('refuses a bad layer, channel or method, and a weights file, saying what to pass, and leaves no tensor behind', async () => {
    const live = liveTensors();
    await expect(visualizeCheckpoint(checkpoint, { layer: 'conv9' })).rejects.toThrow(/a layer of Strided-CNN-A: conv1, conv2, conv3, conv4, conv5, gap1/);
    await expect(visualizeCheckpoint(checkpoint, { layer: 'conv2', channels: [192] })).rejects.toThrow(/\[0, 191\] for channel/);
    await expect(visualizeCheckpoint(checkpoint, { methods: ['saliency' as never] })).rejects.toThrow(/guided, deconvnet, backprop/);
    await expect(visualizeCheckpoint(checkpoint, { channels: [] })).rejects.toThrow(/non-empty list of channels of conv5 \(0 to 9\)/);
    await expect(visualizeCheckpoint(checkpoint, { channels: [1, 1, 0] })).rejects.toThrow('Expected each channel once for channels but received');
    await expect(visualizeCheckpoint(checkpoint, { crop: 'no' as never })).rejects.toThrow(InvalidArgumentError); // was taken as true
    await expect(visualizeCheckpoint(checkpoint, { lyer: 'conv2' } as never)).rejects.toThrow('for options key but received "lyer" of type string'); // not the default layer
    await expect(visualizeCheckpoint(path.join(dir, 'weights.safetensors'))).rejects.toThrow(CheckpointError);
    expect(liveTensors()).toBe(live);
  });

  it('writes the PNG and a JSON record from the command line; bad options exit 2', () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, 'visualize', ...args], { encoding: 'utf8', env: process.env });
    const ok = cli(dir, '--channels', '0-2,7', '--top', '3', '--method', 'guided,backprop');
    expect(ok.stderr).toBe(`searching the test images of ${checkpoint} (device cpu)\n`);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^channel 7 \(horse\): (\w+ -?\d+\.\d\d, ){2}\w+ -?\d+\.\d\d$/m);
    const png = path.join(dir, 'conv5-guided-backprop.png');
    expect(ok.stdout).toContain(`wrote ${png} and ${png.replace(/png$/, 'json')}`);
    expect(decodePng(fs.readFileSync(png)).height).toBe(12 * 105 + 8 * 2 + 5 * 10);
    const record = JSON.parse(fs.readFileSync(png.replace(/png$/, 'json'), 'utf8'));
    expect(record.units.map((u: { channel: number }) => u.channel)).toEqual([0, 1, 2, 7]);
    expect(record.png).toBeUndefined();

    const out = path.join(dir, 'figures', 'c.png');
    expect(cli(checkpoint, '--layer', 'conv1', '--channels', '4', '--top', '1', '--out', out).status).toBe(0);
    expect(fs.existsSync(out) && fs.existsSync(path.join(dir, 'figures', 'c.json'))).toBe(true);

    for (const [args, message] of [
      [['--channels', '3-1'], '--channels takes numbers and ranges like 0-3,7, got "3-1"'],
      [['--method', 'saliency'], '--method must be one of guided, deconvnet, backprop, got "saliency"'],
      [['--top', '0'], '--top must be an integer in [1, 100], got "0"'],
      [['--top', '1000'], '--top must be an integer in [1, 100], got "1000"'],
      [['--method', ','], '--method must list at least one value, got ","'],
    ] as const) {
      const bad = cli(dir, ...args);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain(message);
    }
    expect(cli(dir, '--method', 'guided,guided').stderr).toContain('--method lists guided twice, got "guided,guided"');
    // A layer the network lacks is known from the checkpoint's layers: refused before the line that says the search has begun.
    const noLayer = cli(dir, '--layer', 'conv99');
    expect([noLayer.status, noLayer.stderr]).toEqual([2, 'allcnn: Expected a layer of Strided-CNN-A: conv1, conv2, conv3, conv4, conv5, gap1 for --layer but received "conv99"\n']);
    expect(cli(dir, '--channels', '0-2,1').stderr).toContain('--channels lists 1 twice, got "0-2,1"');
    expect(cli(dir, '--channels', '0,,1').stderr).toContain('--channels takes numbers and ranges like 0-3,7, got "0,,1"');
    // The JSON beside the figure would replace a file that is not one of visualize's (a run's result.json); a folder in the way fails before the search.
    const other = tmp();
    fs.writeFileSync(path.join(other, 'result.json'), '{"config": {}}');
    const clobber = cli(dir, '--top', '1', '--out', path.join(other, 'result.png'));
    expect([clobber.status, clobber.stderr]).toEqual([1, `allcnn: --out ${path.join(other, 'result.png')} would overwrite ${path.join(other, 'result.json')}, which is not the JSON of a figure written by allcnn visualize: pass another --out\n`]);
    expect(fs.readFileSync(path.join(other, 'result.json'), 'utf8')).toBe('{"config": {}}');
    fs.mkdirSync(path.join(other, 'f.png'));
    expect(cli(dir, '--out', path.join(other, 'f.png')).stderr).toBe(`allcnn: cannot write ${path.join(other, 'f.png')}: it is a folder; pass another --out\n`);

    // reproduce keeps every run's checkpoint in one folder: the default figure takes the checkpoint's name, so one run's does not replace another's.
    const runs = tmp();
    const named = path.join(runs, 'table3_strided-cnn-a_lr=0.01_seed=0.safetensors');
    fs.copyFileSync(checkpoint, named);
    const ofNamed = cli(named, '--channels', '0', '--top', '1', '--images', '20');
    expect(ofNamed.status).toBe(0);
    const namedPng = path.join(runs, 'table3_strided-cnn-a_lr=0.01_seed=0.conv5-guided.png');
    expect(ofNamed.stdout).toContain(`wrote ${namedPng} and ${namedPng.replace(/png$/, 'json')}`);
    // The default output is checked before the search too, as --out is: a folder in its way fails at once.
    fs.mkdirSync(path.join(runs, 'table3_strided-cnn-a_lr=0.01_seed=0.conv1-guided.json'));
    expect(cli(named, '--layer', 'conv1').stderr).toBe(`allcnn: cannot write ${path.join(runs, 'table3_strided-cnn-a_lr=0.01_seed=0.conv1-guided.json')}: it is a folder; pass another --out\n`);
    fs.mkdirSync(path.join(dir, 'conv5-guided.png')); // the default layer's, known from the checkpoint before the search
    expect(cli(dir).stderr).toBe(`allcnn: cannot write ${path.join(dir, 'conv5-guided.png')}: it is a folder; pass another --out\n`);
    fs.rmdirSync(path.join(dir, 'conv5-guided.png'));

    // A dead unit (weights and bias zero: its ReLU never opens) is said to be one, not shown as if images drove it.
    const { tensors, metadata } = loadSafetensors(checkpoint);
    const dead = path.join(tmp(), 'checkpoint.safetensors');
    try {
      noGrad(() => {
        tensors.get('param.conv1.weight')!.narrow(0, 4, 1).fill_(0);
        tensors.get('param.conv1.bias')!.narrow(0, 4, 1).fill_(0);
      });
      saveSafetensors(dead, tensors, metadata);
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
    const deadRun = cli(dead, '--layer', 'conv1', '--channels', '4,5', '--top', '2');
    expect(deadRun.status).toBe(0);
    expect(deadRun.stdout).toContain('channel 4: never active on the 100 test images searched (its activation is 0 on every one): a dead unit; its guided row is blank');
    expect(deadRun.stdout).toMatch(/^channel 5: \w+ \d+\.\d\d, \w+ \d+\.\d\d$/m);

    // The value was typed: no "of type number" after it.
    expect(cli(dir, '--layer', 'conv1', '--channels', '0-200').stderr).toBe(`searching the test images of ${checkpoint} (device cpu)\nallcnn: Expected an integer in [0, 95] for --channels (conv1 has 96) but received 96\n`);
    const layer = cli(dir, '--layer', 'conv7');
    expect(layer.status).toBe(2); // a value the library refuses is a usage error too
    expect(layer.stderr).toContain('a layer of Strided-CNN-A: conv1, conv2, conv3, conv4, conv5, gap1');
    expect(cli(path.join(dir, 'nope')).stderr).toContain('no such file');
  });
});
