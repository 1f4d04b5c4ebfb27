/**
 * The images that drive a unit hardest (the paper's figure 3 shows, per
 * filter, the reconstructions of its strongest image patches): one forward
 * pass per batch up to the unit's layer serves every channel asked for.
 */
import { noGrad } from '../autograd';
import { checkInteger } from '../check';
import type { Network } from '../model/network';
import { tidy } from '../scope';
import type { Tensor } from '../tensor';
import { channelsOf, findLayer, maxima } from './guided-backprop';

/** An image of the set searched, by its index there, the unit's activation in it and where in the feature map it is. */
export interface StrongImage {
  index: number;
  activation: number;
  /** Row and column of the feature map's maximum (the first, among equals); 0, 0 for a flat layer. */
  y: number;
  x: number;
}

export interface StrongestOptions {
  layer: string;
  /** Default: every channel of the layer. */
  channels?: number[];
  /** Images kept per channel (default 9). */
  top?: number;
  /** Images per forward pass (default 500). */
  batchSize?: number;
}

/** Per channel, the `top` images of x with the largest activation (the feature map's maximum), strongest first. */
export function strongestImages(net: Network, x: Tensor, o: StrongestOptions): Map<number, StrongImage[]> {
  const last = findLayer(net, o.layer);
  const count = channelsOf(net, o.layer);
  const channels = (o.channels ?? [...Array(count).keys()]).map((c) => checkInteger('channel', c, 0, count - 1));
  const top = checkInteger('top', o.top ?? 9, 1);
  const batchSize = checkInteger('batchSize', o.batchSize ?? 500, 1);
  const n = x.shape[0];
  const width = net.shapes[last].length === 3 ? net.shapes[last][2] : 1;
  const kept = new Map<number, StrongImage[]>(channels.map((c) => [c, []]));
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    // [size, channels]: each feature map's maximum and its flat position (a flat layer's values as they are, at 0).
    const [values, positions] = tidy(() => noGrad(() => {
      const m = maxima(net.forward(x.narrow(0, start, size), false, last));
      return [m.values.toArray(), m.positions.toArray()];
    }));
    for (const [c, list] of kept) {
      for (let k = 0; k < size; k++) {
        const at = positions[k * count + c];
        list.push({ index: start + k, activation: values[k * count + c], y: Math.floor(at / width), x: at % width });
      }
      // Strongest first; the lower index first among equals, so results do not depend on the batch size.
      list.sort((a, b) => b.activation - a.activation || a.index - b.index);
      list.length = Math.min(list.length, top);
    }
  }
  return kept;
}
