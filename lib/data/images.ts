/**
 * Your own pictures as CIFAR images: PNG or JPEG files (or raw pixels, as
 * sharp or a canvas gives them) decoded and brought to 32x32 RGB bytes in
 * the CIFAR record layout (1024 red, 1024 green, 1024 blue, row-major), so
 * the rest of the pipeline treats them like the data set's own test images.
 */
import * as fs from 'node:fs';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { checkInteger, checkOneOf, invalid, invalidAs } from '../check';
import { DataError } from '../errors';
import { CIFAR_IMAGE_BYTES } from './cifar';

/** Interleaved pixels, row by row: 1 grey, 2 grey + alpha, 3 RGB or 4 RGBA bytes each (sharp's `raw()` output). */
export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  /** Row by row, channel by channel: what sharp's `raw()` gives. */
  data: Uint8Array;
}

/** Raw pixels as given: a canvas's getImageData() holds them in a Uint8ClampedArray (RGBA). */
export type RawPixels = Omit<RawImage, 'data'> & { data: Uint8Array | Uint8ClampedArray };

/** A file to read, an encoded PNG or JPEG in memory, or raw pixels. */
export type ImageInput = string | Buffer | RawPixels;

/**
 * How a picture that is not 32x32 becomes one. 'crop': the largest centred
 * square, then resized (CIFAR's objects fill a square frame); 'stretch': the
 * whole picture resized, its aspect ratio lost.
 */
export const FITS = ['crop', 'stretch'] as const;
export type Fit = (typeof FITS)[number];

const SIDE = 32;
/** Pictures above this many megapixels are refused before decoding, rather than exhaust memory on a hostile file. */
const MAX_MEGAPIXELS = 100;
const JPEG_LIMITS = { maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: 1024 };

/** Decodes a PNG or JPEG (told apart by their first bytes, not the name) to RGBA. */
export function decodeImage(bytes: Buffer, name = 'image'): RawImage {
  const isPng = bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47;
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) {
    // Given a Buffer, `name` is "image 0", not a file a shell command could name.
    const how = fs.existsSync(name) ? `\`convert ${name} picture.png\` with ImageMagick, or sharp in Node` : "sharp's png() in Node, or ImageMagick's convert";
    throw new DataError(`${name}: not a PNG or JPEG file; convert it first (for example ${how})`);
  }
  try {
    if (isPng) {
      // pngjs has no size limit: IHDR, which must come first, gives the size.
      const [width, height] = bytes.length >= 24 ? [bytes.readUInt32BE(16), bytes.readUInt32BE(20)] : [0, 0];
      if (width * height > MAX_MEGAPIXELS * 1e6) throw new Error(`${width}x${height} pixels, over the ${MAX_MEGAPIXELS}-megapixel limit`);
      const png = PNG.sync.read(bytes); // any colour type and bit depth, as 8-bit RGBA
      return { width: png.width, height: png.height, channels: 4, data: png.data };
    }
    const jpg = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, ...JPEG_LIMITS });
    return { width: jpg.width, height: jpg.height, channels: 4, data: jpg.data };
  } catch (err) {
    // pngjs's words for a file that ends early are about its stream ("read requests waitng on finished stream").
    if (isPng && /read requests waitng on finished stream/.test((err as Error).message)) throw new DataError(`${name}: a truncated PNG file (it ends before its image does; a copy or download cut short?)`);
    throw new DataError(`${name}: a corrupt or unsupported ${isPng ? 'PNG' : 'JPEG'} file (${(err as Error).message})`);
  }
}

/** Reads and decodes one input; a RawImage is checked and passed through. */
export function readImage(input: ImageInput, name: string): RawImage {
  if (typeof input === 'string') {
    if (!fs.existsSync(input)) throw new DataError(`${input}: no such image file`);
    if (!fs.statSync(input).isFile()) throw new DataError(`${input}: not a file (pass the pictures themselves, not a folder)`);
    return decodeImage(fs.readFileSync(input), input);
  }
  if (Buffer.isBuffer(input)) return decodeImage(input, name);
  if (input === null || typeof input !== 'object' || !('data' in input)) {
    throw invalid(name, 'a file name, a Buffer holding a PNG or JPEG, or {width, height, channels, data}', input);
  }
  // A canvas's getImageData().data is a Uint8ClampedArray: the same bytes.
  const data: unknown = input.data;
  const image: RawImage = data instanceof Uint8ClampedArray ? { ...input, data: new Uint8Array(data.buffer, data.byteOffset, data.length) } : input as RawImage;
  if (!(image.data instanceof Uint8Array)) throw invalid(`${name}.data`, 'bytes (a Uint8Array, a Buffer, or a canvas\'s Uint8ClampedArray), one per channel of each pixel', data);
  checkInteger(`${name}.width`, image.width, 1);
  checkInteger(`${name}.height`, image.height, 1);
  checkInteger(`${name}.channels`, image.channels, 1, 4);
  if (image.data.length !== image.width * image.height * image.channels) {
    throw invalidAs(`${name}.data`, `width x height x channels = ${image.width * image.height * image.channels} bytes`, `${image.data.length} bytes`);
  }
  return image;
}

/**
 * Weights of a 1-D area resampling from `from` pixels to `to`: output pixel
 * o averages source pixels over [o, o+1) * from/to, each weighted by how much
 * of it lies inside. Downscaling averages without aliasing; 32 to 32 is the
 * identity, exactly.
 */
function areaWeights(offset: number, from: number, to: number): Array<Array<[number, number]>> {
  const scale = from / to;
  return Array.from({ length: to }, (_, o) => {
    const [start, end] = [o * scale, (o + 1) * scale];
    const taps: Array<[number, number]> = [];
    for (let i = Math.floor(start); i < Math.min(Math.ceil(end), from); i++) {
      const overlap = Math.min(end, i + 1) - Math.max(start, i);
      if (overlap > 0) taps.push([offset + i, overlap / scale]);
    }
    return taps;
  });
}

/**
 * One picture as a CIFAR record's 3072 pixel bytes (planar RGB, 32x32).
 * Transparent pixels are laid over white; grey pictures become grey RGB.
 */
export function toCifarPixels(image: RawImage, fit: Fit = 'crop'): Uint8Array {
  checkOneOf('fit', fit, FITS);
  const { width, height, channels, data } = image;
  const side = Math.min(width, height);
  const [x0, y0, w, h] = fit === 'crop' ? [(width - side) >> 1, (height - side) >> 1, side, side] : [0, 0, width, height];
  const columns = areaWeights(x0, w, SIDE);
  const rows = areaWeights(y0, h, SIDE);
  const rgbAt = (x: number, y: number, c: number): number => {
    const at = (y * width + x) * channels;
    const value = data[at + (channels >= 3 ? c : 0)];
    if (channels % 2 === 1) return value; // no alpha
    const alpha = data[at + channels - 1] / 255;
    return value * alpha + 255 * (1 - alpha);
  };
  const out = new Uint8Array(CIFAR_IMAGE_BYTES);
  for (let c = 0; c < 3; c++) {
    for (let oy = 0; oy < SIDE; oy++) {
      for (let ox = 0; ox < SIDE; ox++) {
        let sum = 0;
        for (const [y, wy] of rows[oy]) for (const [x, wx] of columns[ox]) sum += wy * wx * rgbAt(x, y, c);
        out[c * SIDE * SIDE + oy * SIDE + ox] = Math.min(255, Math.max(0, Math.round(sum)));
      }
    }
  }
  return out;
}
