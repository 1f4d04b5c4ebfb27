/**
 * The figure of reconstructions, laid out as the paper's figure 3: a block
 * per unit, its strongest images in the first row and each method's
 * reconstructions of them in the rows below, as one PNG.
 */
import { encodePng } from './png';

/** An image to draw: RGB planes (3 x height x width, channel-major, as CIFAR and the tensors keep them), values in [0, 1]. */
export interface Tile {
  planes: ArrayLike<number>;
  height: number;
  width: number;
}

/** A CIFAR image's bytes (3 x 32 x 32, 0 to 255) as a tile. */
export function imageTile(bytes: Uint8Array, height = 32, width = 32): Tile {
  return { planes: Array.from(bytes, (b) => b / 255), height, width };
}

/**
 * A reconstruction as a tile: zero is mid-grey and the largest magnitude
 * reaches black or white, so the sign of every value stays visible (a
 * reconstruction that is zero throughout stays grey).
 */
export function reconstructionTile(values: ArrayLike<number>, height = 32, width = 32): Tile {
  let peak = 0;
  for (let i = 0; i < values.length; i++) peak = Math.max(peak, Math.abs(values[i]));
  const scale = peak > 0 ? 0.5 / peak : 0;
  return { planes: Array.from(values, (v) => 0.5 + v * scale), height, width };
}

/**
 * The size x size window of a tile whose top-left corner is (top, left);
 * what falls outside the tile (a window that reaches into the padding)
 * is `fill`.
 */
export function cropTile(tile: Tile, top: number, left: number, size: number, fill: number): Tile {
  const planes = new Float32Array(3 * size * size).fill(fill);
  for (let c = 0; c < 3; c++) {
    for (let y = Math.max(0, -top); y < Math.min(size, tile.height - top); y++) {
      for (let x = Math.max(0, -left); x < Math.min(size, tile.width - left); x++) {
        planes[(c * size + y) * size + x] = tile.planes[(c * tile.height + top + y) * tile.width + left + x];
      }
    }
  }
  return { planes, height: size, width: size };
}

export interface GridOptions {
  /** Pixels per image pixel (default 3). */
  scale?: number;
  /** White pixels between tiles (default 2) and between blocks (default 10). */
  gap?: number;
  blockGap?: number;
}

/** Blocks of rows of tiles, one under the other, as a PNG; tiles are all the size of the first. */
export function gridPng(blocks: Tile[][][], o: GridOptions = {}): Buffer {
  const scale = o.scale ?? 3;
  const gap = o.gap ?? 2;
  const blockGap = o.blockGap ?? 10;
  const first = blocks[0][0][0];
  const [tw, th] = [first.width * scale, first.height * scale];
  const columns = Math.max(...blocks.flatMap((b) => b.map((row) => row.length)));
  const rows = blocks.reduce((n, b) => n + b.length, 0);
  const width = columns * tw + (columns + 1) * gap;
  const height = rows * th + (rows - blocks.length) * gap + (blocks.length + 1) * blockGap;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  let top = blockGap;
  for (const block of blocks) {
    for (const row of block) {
      row.forEach((tile, k) => draw(rgb, width, tile, gap + k * (tw + gap), top, scale));
      top += th + gap;
    }
    top += blockGap - gap;
  }
  return encodePng(rgb, width, height);
}

function draw(rgb: Uint8Array, width: number, tile: Tile, left: number, top: number, scale: number): void {
  const area = tile.height * tile.width;
  for (let y = 0; y < tile.height * scale; y++) {
    for (let x = 0; x < tile.width * scale; x++) {
      const source = Math.floor(y / scale) * tile.width + Math.floor(x / scale);
      const target = ((top + y) * width + left + x) * 3;
      for (let c = 0; c < 3; c++) {
        rgb[target + c] = Math.round(255 * Math.min(1, Math.max(0, tile.planes[c * area + source])));
      }
    }
  }
}
