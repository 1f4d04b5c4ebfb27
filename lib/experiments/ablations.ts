/**
 * The variants of ALL-CNN-C that the seed report makes claims about, each
 * with its claim and the direction it predicts against ALL-CNN-C as the
 * paper defines it (final ReLU kept, Xavier initialisation, dropout on).
 */
import { declareNetwork, LayerSpec, NetworkSpec } from '../model/spec';
import type { TrainConfig } from '../train/config';
import allCnnC from '../../models/all-cnn-c';

export interface Ablation {
  key: string;
  label: string;
  claim: string;
  /** The claim predicts this row's test accuracy 'lower' or 'higher' than ALL-CNN-C's. */
  expect: 'lower' | 'higher';
  model: NetworkSpec;
  /** Config fields that differ from the baseline's. */
  config: Partial<TrainConfig>;
}

const base = allCnnC;
const named = (suffix: string, layers: LayerSpec[]) => declareNetwork(`${base.name} (${suffix})`, `${base.description} Ablation: ${suffix}.`, layers);

/** The two 1x1 convolutions and the global average replaced by fully-connected layers on the 6x6x192 map. */
function fullyConnectedTop(): NetworkSpec {
  const layers = base.layers.slice();
  const firstOneByOne = layers.findIndex((l) => l.kind === 'conv' && l.kernel === 1);
  return named('fully-connected top', [
    ...layers.slice(0, firstOneByOne),
    { kind: 'flatten' },
    { kind: 'fc', units: 192, batchNorm: false, relu: true },
    { kind: 'fc', units: 'classes', batchNorm: false, relu: true },
    { kind: 'softmax' },
  ]);
}

export const ABLATIONS: Ablation[] = [
  { key: 'fc-top', label: 'ALL-CNN-C, fully-connected top', claim: 'a fully-connected top instead of the 1x1 convolutions is 0.5-1% worse', expect: 'lower', model: fullyConnectedTop(), config: {} },
  {
    key: 'batch-norm', label: 'ALL-CNN-C, batch normalisation', claim: 'adding batch normalisation improves accuracy', expect: 'higher',
    model: named('batch normalisation', base.layers.map((l) => (l.kind === 'conv' ? { ...l, batchNorm: true } : l))), config: {},
  },
  {
    key: 'no-dropout', label: 'ALL-CNN-C, no dropout', claim: 'dropout can reduce accuracy (removing it helps)', expect: 'higher',
    model: named('no dropout', base.layers.filter((l) => l.kind !== 'dropout')), config: {},
  },
  { key: 'kaiming', label: 'ALL-CNN-C, Kaiming initialisation', claim: 'Xavier initialisation performs better than Kaiming', expect: 'lower', model: base, config: { init: 'kaiming-normal' } },
  { key: 'no-final-relu', label: 'ALL-CNN-C, no final ReLU', claim: 'leaving out the ReLU after the last 1x1 convolution does not hurt (and avoids runs stuck at chance)', expect: 'higher', model: base, config: { finalRelu: false } },
];

/** The paper's CIFAR-100 row: ALL-CNN-C on the 100 fine classes (extra 'cifar100'). */
export const CIFAR100_ROW = { key: 'all-cnn-c', label: 'ALL-CNN-C on CIFAR-100', model: 'all-cnn-c' } as const;

/** The augmented ALL-CNN-C runs: the paper's set and the seed report's richer set. */
export const AUGMENTED = [
  { key: 'flips-translations', label: 'ALL-CNN-C + flips/translations', augment: 'paper' as const },
  { key: 'rich', label: 'ALL-CNN-C + flips/translations/scaling/colour', augment: 'rich' as const },
];
