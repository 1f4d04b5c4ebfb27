/**
 * Which input pixels a unit at a given position can see, from the layers'
 * kernels, strides and padding (the usual receptive-field arithmetic): the
 * paper's figure 3 shows image patches, not whole images, so the figure
 * crops each image and its reconstruction to this window.
 */
import type { Network } from '../model/network';

/** A window of `size` x `size` input pixels whose top-left corner moves by `jump` per feature-map step. */
export interface ReceptiveField {
  size: number;
  jump: number;
  /** The top-left input pixel of the window of position (0, 0); negative where it reaches into the padding. */
  offset: number;
}

/**
 * The receptive field of layer `index`'s units, or null when each unit sees
 * the whole image (after a global average or a fully connected layer).
 */
export function receptiveField(net: Network, index: number): ReceptiveField | null {
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
