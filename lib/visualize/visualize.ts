/**
 * visualizeCheckpoint(): the paper's figure 3 for a trained run. For each
 * unit (a channel of one layer) it finds the test images that drive the unit
 * hardest and reconstructs, by guided backpropagation (or the other two
 * methods, for the paper's figure 4 comparison), what in each image does it.
 * The checkpoint's own data recipe prepares the images, as for evaluation.
 */
import { requireDevice } from '../backend';
import { checkBoolean, checkInteger, checkKeys, checkOneOf, invalid } from '../check';
import { CIFAR_IMAGE_BYTES } from '../data/cifar';
import type { Dataset, DatasetName } from '../data/dataset';
import { fromArray } from '../creation';
import type { Network } from '../model/network';
import { layerNames, type NetworkSpec } from '../model/spec';
import { tidy } from '../scope';
import { checkDevice, Device } from '../tensor';
import { readRun, runCheckpoint, runData, runNetwork, sameImages, scoringData } from '../train/evaluate-checkpoint';
import { cropTile, gridPng, imageTile, reconstructionTile, Tile } from './figure';
import { channelsOf, findLayer, Method, METHODS, reconstruct } from './guided-backprop';
import { receptiveField, windowAt } from './receptive-field';
import { strongestImages } from './strongest';

export interface VisualizeOptions {
  /** The layer, by the network's names ('conv6'); default: the last convolution (in the twelve networks, its channels are the classes). */
  layer?: string;
  /** Channels to show (default: the first 10, or all if fewer; of the class layer, the first 10 classes the data have images of). */
  channels?: number[];
  /** Strongest images per channel (default 8). */
  top?: number;
  /** Default ['guided']; all three for the paper's figure 4 comparison. */
  methods?: Method[];
  /** The run's CIFAR-10 (or CIFAR-100) archive or folder; default: the one it was trained on. */
  data?: string;
  /** Search only the first this many test images (default: all of them). */
  images?: number;
  /** Default 'cpu'. */
  device?: Device;
  /** Show each image and reconstruction cropped to the unit's receptive field, as the paper's patches (default true; whole images for units that see all of it). */
  crop?: boolean;
}

/** One unit's row block: its strongest test images, strongest first. */
export interface VisualizedUnit {
  channel: number;
  /** The class, when the layer's channels are the classes. */
  className: string | null;
  /**
   * Per image: its index among the test images, its label, the unit's
   * activation, where in the feature map (y, x), and the input window shown
   * (top-left pixel and size; it may reach past the image's edge).
   */
  images: Array<{ index: number; label: string; activation: number; y: number; x: number; window: { top: number; left: number; size: number } }>;
}

export interface Visualization {
  file: string;
  model: string;
  name: string;
  epoch: number;
  epochs: number;
  layer: string;
  methods: Method[];
  /** The archive or folder read (null: the bundled sample), and how many of its test images were searched. */
  data: string | null;
  searched: number;
  /** The run's data set, and the archive or folder it was trained on as it recorded it (null: the bundled sample, or unknown). */
  dataset: DatasetName;
  trainedOn: string | null;
  /** Whether `data` holds the images the run was trained on (null: its checkpoint records no digest of them). */
  sameData: boolean | null;
  /** The side of the patches shown, or null for whole images. */
  patch: number | null;
  units: VisualizedUnit[];
  /** The figure: per unit, the images in the first row and one row of reconstructions per method. */
  png: Buffer;
}

/** Whether layer i's channels are the class scores: no weights after it. */
function isClassLayer(net: Network, i: number): boolean {
  return net.shapes[i][0] === net.classes && net.layers.slice(i + 1).every((l) => l.spec.kind !== 'conv' && l.spec.kind !== 'fc');
}

/** The most images shown per unit: the figure's rows get too wide to read beyond it. */
export const MAX_TOP = 100;

/** The layer visualizeCheckpoint shows when none is asked for: the network's last convolution. */
export function lastConvolution(spec: NetworkSpec): string {
  const names = layerNames(spec);
  return names.filter((_, i) => spec.layers[i].kind === 'conv').pop()!;
}

/** Every key of VisualizeOptions (the type makes this list complete). */
const OPTION_KEYS = Object.keys({ layer: 1, channels: 1, top: 1, methods: 1, data: 1, images: 1, device: 1, crop: 1 } satisfies Record<keyof VisualizeOptions, 1>);

export async function visualizeCheckpoint(file: string, o: VisualizeOptions = {}): Promise<Visualization> {
  checkKeys('options', o, OPTION_KEYS);
  const device = checkDevice('device', o.device ?? 'cpu');
  requireDevice(device);
  const methods = o.methods ?? ['guided'];
  if (!Array.isArray(methods) || methods.length === 0) throw invalid('methods', `a list of ${METHODS.join(', ')}`, methods);
  methods.forEach((m) => checkOneOf('methods', m, METHODS));
  // A method twice would draw the same row twice.
  if (new Set(methods).size !== methods.length) throw invalid('methods', 'each method once', methods);
  const top = checkInteger('top', o.top ?? 8, 1, MAX_TOP);
  const crop = o.crop === undefined ? true : checkBoolean('crop', o.crop);
  file = runCheckpoint(file);
  const { config, spec, epoch, recipe } = readRun(file, { needsWeights: true });
  const { dataset: name, data, options, digest } = runData(file, recipe, o.data);
  // The network and the unit first, so that a wrong layer or channel is reported before the data are prepared.
  const net = runNetwork(file, config, spec, device);
  let dataset: Dataset | null = null;
  try {
    const layer = o.layer ?? lastConvolution(net.spec);
    const index = findLayer(net, layer);
    const count = channelsOf(net, layer);
    if (o.channels !== undefined) {
      if (!Array.isArray(o.channels) || o.channels.length === 0) throw invalid('channels', `a non-empty list of channels of ${layer} (0 to ${count - 1})`, o.channels);
      o.channels.forEach((c) => checkInteger(`channels (${layer} has ${count})`, c, 0, count - 1));
      // A channel twice would draw the same block twice.
      if (new Set(o.channels).size !== o.channels.length) throw invalid('channels', 'each channel once', o.channels);
    }
    const classLayer = isClassLayer(net, index);
    // The test split is the archive's test images in order, so index k is raw.test's image k.
    const { raw, set } = await scoringData(name, data, options, device);
    dataset = set;
    // By default the first 10 channels; of the class layer, the first 10 classes that have images
    // (on the CIFAR-100 subsets archive, of classes 0 to 9 only bicycle has images: the others would show only strangers).
    const absent = new Set(classLayer ? set.absentClasses : []);
    const channels = o.channels ?? [...Array(count).keys()].filter((c) => !absent.has(set.classNames[c])).slice(0, 10);
    const searched = o.images === undefined ? set.test.count : Math.min(checkInteger('images', o.images, 1), set.test.count);
    const strongest = tidy(() => strongestImages(net, set.test.x.narrow(0, 0, searched), { layer, channels, top }));
    // Patches as in the paper's figure 3 when the units see less than the whole image.
    const field = receptiveField(net, index);
    const patch = crop && field && field.size < net.inputShape[1] ? field : null;
    const units: VisualizedUnit[] = [];
    const blocks: Tile[][][] = [];
    for (const [channel, found] of strongest) {
      const windows = found.map((s) => (patch ? windowAt(patch, s.y, s.x) : { top: 0, left: 0, size: net.inputShape[1] }));
      const show = (tiles: Tile[], fill: number) => tiles.map((t, k) => (patch ? cropTile(t, windows[k].top, windows[k].left, patch.size, fill) : t));
      const picked = found.map((s) => s.index);
      const images = picked.map((k) => imageTile(raw.test.images.subarray(k * CIFAR_IMAGE_BYTES, (k + 1) * CIFAR_IMAGE_BYTES)));
      const rows = [show(images, 1)];
      for (const method of methods) {
        const values = tidy(() => {
          const at = fromArray(Int32Array.from(picked), [picked.length]).to({ device, dtype: 'int64' });
          return reconstruct(net, set.test.x.indexSelect(0, at), { layer, channel, method }).toArray();
        });
        rows.push(show(picked.map((_, k) => reconstructionTile(values.slice(k * CIFAR_IMAGE_BYTES, (k + 1) * CIFAR_IMAGE_BYTES))), 0.5));
      }
      blocks.push(rows);
      units.push({
        channel,
        className: classLayer ? set.classNames[channel] : null,
        images: found.map((s, k) => ({
          index: s.index, label: set.classNames[raw.test.labels[s.index]], activation: s.activation, y: s.y, x: s.x, window: windows[k],
        })),
      });
    }
    // Tiles of about 96 pixels, whatever the patch size.
    const scale = Math.max(1, Math.round(96 / (patch?.size ?? net.inputShape[1])));
    return {
      file, model: config.model, name: net.spec.name, epoch, epochs: config.epochs, layer, methods,
      data: data ?? null, searched, dataset: name, trainedOn: recipe.data ?? null, sameData: sameImages(raw, digest), patch: patch?.size ?? null, units, png: gridPng(blocks, { scale }),
    };
  } finally {
    net.dispose();
    dataset?.dispose();
  }
}
