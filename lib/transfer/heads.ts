/**
 * The networks of transfer learning, derived from the pretrained model's
 * declaration. The body (every layer before the classifier) keeps its layers,
 * and so its parameter names ('conv1.weight', ...): that is what lets the
 * pretrained tensors load by name. The head is new, for K classes:
 *
 *   conv: the all-convolutional way: the classifier stays a 1x1 convolution
 *         to K maps before the global average ('conv 1x1 classes'), with new
 *         (Xavier) weights;
 *   fc:   the 1x1 classifier is dropped, the body's feature maps are averaged
 *         ('gap') and a fully connected K-way layer ('fc classes') reads them.
 *
 * Without the final ReLU the two compute the same family of functions (a 1x1
 * convolution commutes with averaging); with it (the paper's default) the
 * conv head rectifies each position's scores before averaging and the fc
 * head gives raw scores.
 */
import { ModelDeclarationError } from '../errors';
import { checkOneOf } from '../check';
import { declareNetwork, LayerSpec, NetworkSpec } from '../model/spec';

export const HEADS = ['conv', 'fc'] as const;
export type Head = (typeof HEADS)[number];

export interface TransferSpec {
  /** The network to build (with `classes` = K). */
  spec: NetworkSpec;
  /** The pretrained network it derives from. */
  base: NetworkSpec;
  head: Head;
  /** The head's parameter prefix, e.g. 'conv9' (ALL-CNN-C, conv head) or 'fc1'. */
  headLayer: string;
}

const weighted = (l: LayerSpec) => l.kind === 'conv' || l.kind === 'fc';

/** The parameter prefix Network gives layer `index` of `layers` ('conv3', 'fc1'). */
function layerName(layers: LayerSpec[], index: number): string {
  const kind = layers[index].kind;
  return `${kind}${layers.slice(0, index + 1).filter((l) => l.kind === kind).length}`;
}

/** The base network's classifier: its last weighted layer, which must be 'conv 1x1 classes' followed by 'gap'. */
function classifierIndex(base: NetworkSpec): number {
  const i = base.layers.map(weighted).lastIndexOf(true);
  const l = base.layers[i];
  const rest = base.layers.slice(i + 1).map((x) => x.kind);
  if (i < 0 || l.kind !== 'conv' || l.kernel !== 1 || l.filters !== 'classes' || !rest.includes('gap')) {
    throw new ModelDeclarationError(`${base.name}: transfer needs a network whose classifier is a 'conv 1x1 classes' layer followed by 'gap' (as in all twelve of the paper's)`);
  }
  return i;
}

/** The network for `head` on the body of `base`; see the module comment. */
export function transferSpec(base: NetworkSpec, head: Head = 'conv'): TransferSpec {
  checkOneOf('head', head, HEADS);
  const c = classifierIndex(base);
  const name = `${base.name} (${head} head)`;
  if (head === 'conv') {
    const spec = declareNetwork(name, `${base.description} New ${'1x1'} convolutional classifier.`, base.layers);
    return { spec, base, head, headLayer: layerName(spec.layers, c) };
  }
  const rest = base.layers.slice(c + 1);
  const gap = rest.findIndex((l) => l.kind === 'gap');
  const fc: LayerSpec = { kind: 'fc', units: 'classes', batchNorm: false, relu: false };
  const layers = [...base.layers.slice(0, c), ...rest.slice(0, gap + 1), fc, ...rest.slice(gap + 1)];
  const spec = declareNetwork(name, `${base.description} Classifier replaced by global averaging and a fully connected layer.`, layers);
  return { spec, base, head, headLayer: layerName(layers, layers.indexOf(fc)) };
}

/** Whether a parameter (or buffer) name belongs to the head. */
export function isHeadOf(t: Pick<TransferSpec, 'headLayer'>): (name: string) => boolean {
  return (name) => name.startsWith(`${t.headLayer}.`);
}
