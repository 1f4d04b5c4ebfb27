/**
 * Pretrained weights for transfer learning, from either file `allcnn train`
 * writes:
 *   checkpoint.safetensors  tensors 'param.<name>', 'buffer.<name>' (and
 *                           'momentum.<name>', not needed here); metadata:
 *                           format, model (the paper's name), config, history
 *   weights.safetensors     tensors '<name>'; metadata: format, model
 * Names are Network's ('conv1.weight'). The body is loaded strictly: every
 * body tensor must be in the file with the right shape, so a checkpoint of
 * another architecture is rejected by name before anything is copied; the
 * head is left new and reported, as are the file's tensors left unused.
 */
import * as fs from 'node:fs';
import { noGrad } from '../autograd';
import { DatasetName, recordedDataset } from '../data/dataset';
import { CheckpointError } from '../errors';
import { loadSafetensors } from '../io/safetensors';
import type { Network } from '../model/network';
import { CHECKPOINT_FORMAT, metadataEpoch, metadataJson } from '../train/checkpoint';
import type { ResolvedConfig } from '../train/config';
import { runCheckpoint } from '../train/evaluate-checkpoint';
import { EpochRecord, hasDiverged } from '../train/train';
import type { Tensor } from '../tensor';
import { MODELS } from '../../models';

const WEIGHTS_FORMAT = 'allcnn-weights-v1';

export interface Pretrained {
  file: string;
  kind: 'checkpoint' | 'weights';
  /** The paper's name of the network (metadata 'model'), e.g. 'ALL-CNN-C'; null when the file does not say. */
  model: string | null;
  /** The pretraining run's config (checkpoints only). */
  config: ResolvedConfig | null;
  /** What it was trained on: the config's, or a weights file's metadata; 'cifar10' when neither says (files written before CIFAR-100). */
  dataset: DatasetName;
  /** Epochs trained and the last validation accuracy on the pretraining set (checkpoints only). */
  epochs: number | null;
  validationAccuracy: number | null;
  /** Parameters and buffers by their Network names, on the CPU. */
  tensors: Map<string, Tensor>;
  dispose(): void;
}

/** The model id ('all-cnn-c') of a paper's name ('ALL-CNN-C'), if it is one of the twelve. */
export function modelIdOf(name: string | null): string | undefined {
  return Object.keys(MODELS).find((id) => MODELS[id].name === name);
}

/** Reads a checkpoint or weights file (see the module comment). */
export function readPretrained(file: string): Pretrained {
  file = runCheckpoint(file); // a run's folder stands for its checkpoint, as in evaluateCheckpoint
  if (!fs.existsSync(file)) throw new CheckpointError(`${file}: no such file (allcnn train writes <out>/checkpoint.safetensors and <out>/weights.safetensors)`);
  const { tensors: raw, metadata } = loadSafetensors(file);
  // A transfer run's weights: a network with a new head for CIFAR-100 classes, not one trained on CIFAR-10.
  if (metadata.format !== CHECKPOINT_FORMAT && / \((conv|fc) head\)$/.test(metadata.model ?? '')) {
    for (const t of raw.values()) t.dispose();
    throw new CheckpointError(`${file}: the weights of an \`allcnn transfer\` run (${metadata.model}, trained on CIFAR-100 classes), not of a CIFAR-10 network: pass the checkpoint.safetensors of the \`allcnn train\` run it started from (or that run's folder)`);
  }
  const kind = metadata.format === CHECKPOINT_FORMAT ? 'checkpoint' : 'weights';
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of raw) {
    if (kind === 'weights') tensors.set(k, t);
    else if (k.startsWith('param.') || k.startsWith('buffer.')) tensors.set(k.slice(k.indexOf('.') + 1), t);
    else t.dispose(); // optimiser state
  }
  if (kind === 'weights' && metadata.format !== WEIGHTS_FORMAT && [...tensors.keys()].some((k) => /^(param|buffer|momentum)\./.test(k))) {
    for (const t of tensors.values()) t.dispose();
    throw new CheckpointError(`${file}: looks like a checkpoint but its format is "${metadata.format ?? 'none'}" (expected ${CHECKPOINT_FORMAT})`);
  }
  let history: EpochRecord[];
  let config: ResolvedConfig | null;
  let epochs: number | null;
  try {
    history = metadataJson<EpochRecord[]>(file, 'history', metadata.history) ?? [];
    config = metadataJson<ResolvedConfig>(file, 'config', metadata.config);
    epochs = kind === 'checkpoint' ? metadataEpoch(file, metadata.epoch) : null;
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    throw err;
  }
  // A diverged run's weights are not numbers: every transfer from them would diverge too, and be compared as if it had trained.
  if (Array.isArray(history) && hasDiverged(history, { validated: config?.validation !== 0 })) {
    for (const t of tensors.values()) t.dispose();
    throw new CheckpointError(`${file}: its run diverged in epoch ${history.length} (its training or validation loss became NaN or infinite), so its weights are not numbers: transfer from a run that trained (train it again with a lower learning rate)`);
  }
  return {
    file, kind, tensors,
    model: metadata.model ?? null,
    config,
    dataset: recordedDataset(config?.dataset ?? (metadata.dataset as DatasetName | undefined)),
    epochs,
    validationAccuracy: history.length ? history[history.length - 1].valAccuracy : null,
    dispose: () => tensors.forEach((t) => t.dispose()),
  };
}

export interface BodyLoad {
  /** Tensors copied from the file. */
  loaded: string[];
  /** The head's tensors: not loaded, newly initialised. */
  fresh: string[];
  /** Tensors of the file the network has no use for (the old classifier). */
  unused: string[];
}

/**
 * Copies every non-head tensor of `network` from `pre`; `model` is the
 * paper's name of the architecture the body must come from.
 */
export function loadBody(network: Network, pre: Pretrained, o: { model: string; isHead: (name: string) => boolean }): BodyLoad {
  if (pre.model !== null && pre.model !== o.model) {
    throw new CheckpointError(`${pre.file}: a checkpoint of ${pre.model}, but the network to transfer is ${o.model}; pass a checkpoint of ${o.model} or leave the model choice to the checkpoint`);
  }
  const own = new Map<string, Tensor>([...network.parameters, ...network.buffers]);
  const fresh = [...own.keys()].filter(o.isHead);
  const body = [...own].filter(([k]) => !o.isHead(k));
  // Check everything before copying anything: no half-loaded network.
  for (const [k, t] of body) {
    const src = pre.tensors.get(k);
    if (!src) throw new CheckpointError(`${pre.file}: has no ${k}, which ${o.model} needs (a checkpoint of another architecture?)`);
    if (src.shape.join() !== t.shape.join()) {
      throw new CheckpointError(`${pre.file}: ${k} has shape [${src.shape}] but ${o.model} needs [${t.shape}] (a checkpoint of another architecture?)`);
    }
  }
  noGrad(() => {
    for (const [k, t] of body) {
      const moved = pre.tensors.get(k)!.to(t.device);
      t.copy_(moved);
      moved.dispose();
    }
  });
  const loaded = body.map(([k]) => k);
  return { loaded, fresh, unused: [...pre.tensors.keys()].filter((k) => !loaded.includes(k)) };
}
