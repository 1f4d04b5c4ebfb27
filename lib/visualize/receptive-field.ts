/**
 * Which input pixels a unit at a given position can see, from the layers'
 * kernels, strides and padding (the usual receptive-field arithmetic): the
 * paper's figure 3 shows image patches, not whole images, so the figure
 * crops each image and its reconstruction to this window.
 */
import { checkInteger, invalid } from '../check';
import type { Network } from '../model/network';

/** A window of `size` x `size` input pixels whose top-left corner moves by `jump` per feature-map step. */
export interface ReceptiveField {
  size: number;
  jump: number;
  /** The top-left input pixel of the window of position (0, 0); negative where it reaches into the padding. */
  offset: number;
}

/**
 * The receptive field of a layer's units (the layer by name, 'conv2', or by
 * index into net.layers), or null when each unit sees the whole image (after
 * a global average or a fully connected layer).
 */
export function receptiveField(net: Network, layer: string | number): ReceptiveField | null {
  const names = net.layers.map((l) => l.name);
  const index = typeof layer === 'string' ? names.indexOf(layer) : checkInteger('layer', layer, 0, names.length - 1);
  if (index < 0) throw invalid('layer', `a layer of ${net.spec.name}: ${names.join(', ')}`, layer);
  let size = 1;
  let jump = 1;
  let offset = 0;
  for (const { spec: l } of net.layers.slice(0, index + 1)) {
    if (l.kind === 'conv' || l.kind === 'maxpool' || l.kind === 'avgpool') {
      // A k-wide window of the layer below, which starts p units before its position times the stride.
      offset -= l.padding * jump;
      size += (l.kernel - 1) * jump;
      jump *= l.stride;
    } else if (l.kind === 'gap' || l.kind === 'flatten' || l.kind === 'fc') {
      return null;
    }
  }
  return { size, jump, offset };
}

/** The window of the unit at feature-map position (y, x): its top-left input pixel, and its size. */
export function windowAt(field: ReceptiveField, y: number, x: number): { top: number; left: number; size: number } {
  return { top: field.offset + y * field.jump, left: field.offset + x * field.jump, size: field.size };
}
