/**
 * Networks as data. A network is an ordered list of layers, each written as a
 * line that reads like the paper's Tables 1 and 2:
 *
 *   'dropout 0.2'            dropout with p = 0.2
 *   'conv 5x5 96 relu'       5x5 convolution, 96 filters, 'same' padding, then ReLU
 *   'conv 3x3 96 /2 relu'    the same with stride 2
 *   'conv 3x3 192 valid relu' no padding (8x8 -> 6x6)
 *   'conv 1x1 classes relu'  as many filters as classes (10 or 100)
 *   'conv 3x3 96 bn relu'    with batch normalisation before the ReLU
 *   'maxpool 3x3 /2'         3x3 max-pooling, stride 2, padding 1 ('avgpool' too)
 *   'gap'                    global average over the spatial dims: [N,C,H,W] -> [N,C]
 *   'flatten'                [N,C,H,W] -> [N,C*H*W]
 *   'fc 192 relu'            fully connected ('fc classes' for the output)
 *   'softmax'                marks the output; the loss applies it
 *
 * Padded layers pad by floor((k-1)/2) (1 for 3x3, 2 for 5x5, 0 for 2x2), so the
 * paper's stride-2 layers give 32 -> 16 -> 8.
 */
import { checkInteger, checkKeys, invalid } from '../check';
import { ModelDeclarationError } from '../errors';

export type Width = number | 'classes';

export type LayerSpec =
  | { kind: 'conv'; kernel: number; filters: Width; stride: number; padding: number; batchNorm: boolean; relu: boolean }
  | { kind: 'maxpool' | 'avgpool'; kernel: number; stride: number; padding: number }
  | { kind: 'dropout'; p: number }
  | { kind: 'gap' }
  | { kind: 'flatten' }
  | { kind: 'fc'; units: Width; batchNorm: boolean; relu: boolean }
  | { kind: 'softmax' };

export interface NetworkSpec {
  /** The paper's name, e.g. 'ALL-CNN-C'. */
  name: string;
  /** What it is, in a sentence. */
  description: string;
  layers: LayerSpec[];
}

/** A layer as a line of text or as typed data. */
export type LayerDeclaration = string | LayerSpec;

function fail(net: string, index: number, line: string, why: string): never {
  throw new ModelDeclarationError(`${net}: layer ${index + 1} "${line}": ${why}`);
}

const KERNEL = /^(\d+)x(\d+)$/;
/** Filters or units of one layer: more would be a typo, whose weights could not be allocated. */
const MAX_WIDTH = 1_000_000;

/** Parses one line of the format above. */
export function parseLayer(line: string, net = 'network', index = 0): LayerSpec {
  const words = line.trim().split(/\s+/);
  const [kind, ...rest] = words;
  const flags = new Set(rest.filter((w) => ['relu', 'bn', 'valid', 'same'].includes(w)));
  const args = rest.filter((w) => !flags.has(w));
  const kernelOf = (w: string | undefined): number => {
    const m = w ? KERNEL.exec(w) : null;
    if (!m) fail(net, index, line, `expected a kernel size like 3x3, got "${w ?? ''}"`);
    if (m[1] !== m[2]) fail(net, index, line, 'only square kernels are supported');
    const k = Number(m[1]);
    if (k < 1) fail(net, index, line, 'kernel size must be at least 1');
    return k;
  };
  const strideOf = (w: string | undefined): number => {
    if (w === undefined) return 1;
    // A word that is no stride is more often a misspelt flag ('rleu') than a stride.
    if (!w.startsWith('/') && !/^\d+$/.test(w)) fail(net, index, line, `unknown word "${w}" (${kind} takes a stride like /2${kind === 'conv' ? ' and the flags relu, bn, valid, same' : ''})`);
    if (!/^\/\d+$/.test(w) || Number(w.slice(1)) < 1) fail(net, index, line, `expected a stride like /2, got "${w}"`);
    return Number(w.slice(1));
  };
  const widthOf = (w: string | undefined, what: string): Width => {
    if (w === 'classes') return 'classes';
    if (w === undefined || !/^\d+$/.test(w) || Number(w) < 1) fail(net, index, line, `expected a number of ${what} or "classes", got "${w ?? ''}"`);
    if (Number(w) > MAX_WIDTH) fail(net, index, line, `${w} ${what} is more than ${MAX_WIDTH.toLocaleString('en-US')}`);
    return Number(w);
  };
  const noExtra = (n: number, allowed: string[]) => {
    if (args.length > n) fail(net, index, line, `unexpected "${args[n]}"`);
    for (const f of flags) if (!allowed.includes(f)) fail(net, index, line, `"${f}" does not apply to ${kind}`);
  };
  switch (kind) {
    case 'conv': {
      noExtra(3, ['relu', 'bn', 'valid', 'same']);
      if (flags.has('valid') && flags.has('same')) fail(net, index, line, 'padding is either valid or same, not both');
      const kernel = kernelOf(args[0]);
      const filters = widthOf(args[1], 'filters');
      const stride = strideOf(args[2]);
      return { kind, kernel, filters, stride, padding: flags.has('valid') ? 0 : Math.floor((kernel - 1) / 2), batchNorm: flags.has('bn'), relu: flags.has('relu') };
    }
    case 'maxpool':
    case 'avgpool': {
      noExtra(2, []);
      const kernel = kernelOf(args[0]);
      return { kind, kernel, stride: strideOf(args[1] ?? `/${kernel}`), padding: Math.floor((kernel - 1) / 2) };
    }
    case 'dropout': {
      noExtra(1, []);
      const p = Number(args[0]);
      // A decimal, as the paper writes it: Number() would also read '0x0' and '1e-400' as 0.
      if (args[0] === undefined || !/^(0|1)?(\.\d+)?$/.test(args[0]) || !(p >= 0 && p < 1)) fail(net, index, line, `expected a probability in [0, 1) such as 0.5, got "${args[0] ?? ''}"`);
      return { kind, p };
    }
    case 'fc': {
      noExtra(1, ['relu', 'bn']);
      return { kind, units: widthOf(args[0], 'units'), batchNorm: flags.has('bn'), relu: flags.has('relu') };
    }
    case 'gap':
    case 'flatten':
    case 'softmax':
      noExtra(0, []);
      return { kind };
    default:
      return fail(net, index, line, `unknown layer "${kind}" (conv, maxpool, avgpool, dropout, gap, flatten, fc, softmax)`);
  }
}

/**
 * A layer as a line of the format above (parseLayer's inverse), or null for
 * one no line can say (a padding other than 'same' or 'valid').
 */
export function formatLayer(l: LayerSpec): string | null {
  const same = (k: number) => Math.floor((k - 1) / 2);
  const flags = (o: { batchNorm: boolean; relu: boolean }) => `${o.batchNorm ? ' bn' : ''}${o.relu ? ' relu' : ''}`;
  switch (l.kind) {
    case 'conv': {
      if (l.padding !== same(l.kernel) && l.padding !== 0) return null;
      const valid = l.padding === 0 && same(l.kernel) !== 0 ? ' valid' : '';
      return `conv ${l.kernel}x${l.kernel} ${l.filters}${l.stride === 1 ? '' : ` /${l.stride}`}${valid}${flags(l)}`;
    }
    case 'maxpool':
    case 'avgpool':
      if (l.padding !== same(l.kernel)) return null;
      return `${l.kind} ${l.kernel}x${l.kernel}${l.stride === l.kernel ? '' : ` /${l.stride}`}`;
    case 'dropout':
      return `dropout ${l.p}`;
    case 'fc':
      return `fc ${l.units}${flags(l)}`;
    default:
      return l.kind;
  }
}

/** The fields of each kind of layer object, all required. */
const FIELDS: Record<LayerSpec['kind'], string[]> = {
  conv: ['kernel', 'filters', 'stride', 'padding', 'batchNorm', 'relu'],
  maxpool: ['kernel', 'stride', 'padding'],
  avgpool: ['kernel', 'stride', 'padding'],
  dropout: ['p'],
  gap: [],
  flatten: [],
  fc: ['units', 'batchNorm', 'relu'],
  softmax: [],
};

/**
 * Checks a layer given as an object (typed data from JavaScript, or a spec
 * read from JSON), as parseLayer checks a line: a bad one is named here, not
 * met as a native error mid-training or skipped without a word.
 */
export function checkLayer(l: unknown, net = 'network', index = 0): LayerSpec {
  const bad = (why: string): never => {
    throw new ModelDeclarationError(`${net}: layer ${index + 1} ${JSON.stringify(l) ?? String(l)}: ${why}`);
  };
  if (l === null || typeof l !== 'object' || Array.isArray(l)) return bad("expected a line like 'conv 3x3 96 relu' or a layer object like { kind: 'gap' }");
  const o = l as Record<string, unknown>;
  if (typeof o.kind !== 'string' || !Object.hasOwn(FIELDS, o.kind)) return bad(`unknown kind (${Object.keys(FIELDS).join(', ')})`);
  const fields = FIELDS[o.kind as LayerSpec['kind']];
  for (const k of Object.keys(o)) if (k !== 'kind' && !fields.includes(k)) bad(`"${k}" does not apply to ${o.kind} (it has ${fields.join(', ') || 'no fields'})`);
  const int = (k: string, min: number) => {
    if (!Number.isInteger(o[k]) || (o[k] as number) < min) bad(`${k} must be an integer >= ${min}`);
  };
  for (const k of fields) {
    if (k === 'kernel' || k === 'stride') int(k, 1);
    else if (k === 'padding') int(k, 0);
    else if (k === 'filters' || k === 'units') {
      if (o[k] !== 'classes') int(k, 1);
      if ((o[k] as number) > MAX_WIDTH) bad(`${k} must be at most ${MAX_WIDTH.toLocaleString('en-US')}`);
    } else if (k === 'batchNorm' || k === 'relu') {
      if (typeof o[k] !== 'boolean') bad(`${k} must be true or false`);
    } else if (k === 'p' && !(typeof o.p === 'number' && o.p >= 0 && o.p < 1)) bad('p must be a probability in [0, 1)');
  }
  // LibTorch's pooling pads by at most half its window; more was met as a native error at the first forward.
  if ((o.kind === 'maxpool' || o.kind === 'avgpool') && (o.padding as number) > (o.kernel as number) / 2) bad(`padding must be at most half the kernel (${Math.floor((o.kernel as number) / 2)})`);
  return l as LayerSpec;
}

/**
 * Declares a network from lines or typed layers; throws ModelDeclarationError
 * naming the bad layer. Its geometry is checked for 10 classes on 3x32x32
 * images (CIFAR-10), or for what `check` says: { classes: 100 } for a
 * network with a fixed 100-way output, { inputSize: 64 } for larger images
 * (buildNetwork then takes the same options).
 */
export function declareNetwork(name: string, description: string, layers: LayerDeclaration[], check: Partial<ShapeOptions> = {}): NetworkSpec {
  // From JavaScript, an options object is an easy mistake; say what the call takes.
  if (typeof name !== 'string' || typeof description !== 'string') {
    throw new ModelDeclarationError(`declareNetwork(name, description, layers) takes two strings and a list of layers, got ${typeof name === 'string' ? typeof description : typeof name} where a string belongs`);
  }
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new ModelDeclarationError(`${name}: a network needs at least one layer`);
  }
  const parsed = layers.map((l, i) => (typeof l === 'string' ? parseLayer(l, name, i) : checkLayer(l, name, i)));
  const spec = { name, description, layers: parsed };
  inferShapes(spec, { classes: 10, ...check }); // validates the geometry once, at declaration
  return spec;
}

/** Each layer's name, numbered per kind as in the paper's text: conv1, conv2, ..., maxpool1, gap1. */
export function layerNames(spec: NetworkSpec): string[] {
  const counts: Record<string, number> = {};
  return spec.layers.map((l) => {
    counts[l.kind] = (counts[l.kind] ?? 0) + 1;
    return `${l.kind}${counts[l.kind]}`;
  });
}

export interface ShapeOptions {
  classes: number;
  inputChannels?: number;
  inputSize?: number;
}

/** Output shape ([C,H,W] or [features]) after each layer; throws on impossible geometry. */
export function inferShapes(spec: NetworkSpec, o: ShapeOptions): number[][] {
  // MODELS['typo'] is undefined: say so rather than "no layers".
  if (spec === null || typeof spec !== 'object') throw invalid('spec', "a network spec, such as MODELS['all-cnn-c'] or declareNetwork(...)", spec);
  // A missing or misspelt `classes` would give NaN shapes and parameter counts, not an error.
  checkKeys('options', o, ['classes', 'inputChannels', 'inputSize'] satisfies Array<keyof ShapeOptions>);
  checkInteger('classes', o.classes, 1);
  for (const k of ['inputChannels', 'inputSize'] as const) if (o[k] !== undefined) checkInteger(k, o[k], 1);
  let shape = [o.inputChannels ?? 3, o.inputSize ?? 32, o.inputSize ?? 32];
  const out: number[][] = [];
  const width = (w: Width) => (w === 'classes' ? o.classes : w);
  if (!Array.isArray(spec.layers) || spec.layers.length === 0) throw new ModelDeclarationError(`${spec.name ?? 'network'}: a network needs a non-empty list of layers`);
  spec.layers.forEach((l, i) => {
    checkLayer(l, spec.name, i);
    const where = `${spec.name}: layer ${i + 1} (${l.kind})`;
    const spatial = () => {
      if (shape.length !== 3) throw new ModelDeclarationError(`${where}: needs a [C,H,W] input but gets [${shape.join(',')}] (after gap/flatten)`);
    };
    const next = (size: number, k: number, s: number, p: number) => {
      const n = Math.floor((size + 2 * p - k) / s) + 1;
      if (n < 1) throw new ModelDeclarationError(`${where}: a ${k}x${k} window does not fit a ${size}x${size} input`);
      return n;
    };
    switch (l.kind) {
      case 'conv':
        spatial();
        shape = [width(l.filters), next(shape[1], l.kernel, l.stride, l.padding), next(shape[2], l.kernel, l.stride, l.padding)];
        break;
      case 'maxpool':
      case 'avgpool':
        spatial();
        shape = [shape[0], next(shape[1], l.kernel, l.stride, l.padding), next(shape[2], l.kernel, l.stride, l.padding)];
        break;
      case 'gap':
        spatial();
        shape = [shape[0]];
        break;
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case 'fc':
        if (shape.length !== 1) throw new ModelDeclarationError(`${where}: needs a flat input; add 'gap' or 'flatten' before it`);
        shape = [width(l.units)];
        break;
      case 'softmax':
        // It marks the output: anywhere else it would do nothing, which is not what its line says.
        if (i !== spec.layers.length - 1) throw new ModelDeclarationError(`${where}: softmax marks the output, so it can only be the last layer`);
        break;
      case 'dropout':
        break;
    }
    out.push(shape.slice());
  });
  const last = out[out.length - 1];
  if (last.length !== 1 || last[0] !== o.classes) {
    const hint = last.length === 1 ? ": write 'classes' for the class count ('conv 1x1 classes', 'fc classes'), which buildNetwork's classes option sets" : '';
    throw new ModelDeclarationError(`${spec.name}: the network must end in ${o.classes} class scores, but its output is [${last.join(',')}]${hint}`);
  }
  return out;
}

/** Weights + biases (+ batch-norm scale and shift) for `classes` outputs, without allocating anything. */
export function countParameters(spec: NetworkSpec, o: ShapeOptions): number {
  const shapes = inferShapes(spec, o);
  let inShape = [o.inputChannels ?? 3];
  let n = 0;
  spec.layers.forEach((l, i) => {
    const cin = inShape[0];
    if (l.kind === 'conv') {
      const cout = shapes[i][0];
      n += cout * cin * l.kernel * l.kernel + (l.batchNorm ? 2 * cout : cout);
    } else if (l.kind === 'fc') {
      const cout = shapes[i][0];
      n += cout * cin + (l.batchNorm ? 2 * cout : cout);
    }
    inShape = shapes[i];
  });
  return n;
}
