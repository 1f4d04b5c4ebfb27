/**
 * Floating-point operations per image, counted from the declaration:
 * a convolution costs 2 * Cout * Cin * k * k * Hout * Wout (multiply + add),
 * a fully-connected layer 2 * out * in. Training (forward + backward) is
 * counted as 3x the forward pass, the usual convention.
 */
import { inferShapes, NetworkSpec, ShapeOptions } from './spec';

export function countFlops(spec: NetworkSpec, o: ShapeOptions): { forward: number; training: number } {
  const shapes = inferShapes(spec, o);
  let cin = o.inputChannels ?? 3;
  let forward = 0;
  spec.layers.forEach((l, i) => {
    const out = shapes[i];
    if (l.kind === 'conv') forward += 2 * out[0] * cin * l.kernel * l.kernel * out[1] * out[2];
    if (l.kind === 'fc') forward += 2 * out[0] * cin;
    cin = out[0];
  });
  return { forward, training: 3 * forward };
}
