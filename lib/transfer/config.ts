/**
 * A transfer run's configuration: what to transfer from and to, how, and the
 * training options of TrainConfig (checked by resolveConfig, so the two
 * commands share their defaults and messages). Where the pretraining run
 * recorded a choice that changes what the body expects (preprocessing, the
 * final ReLU), the transfer run inherits it unless told otherwise.
 */
import { checkKeys, checkNumber, checkOneOf, definedOnly, invalid } from '../check';
import { CheckpointError } from '../errors';
import { resolveConfig, ResolvedConfig, TRAIN_CONFIG_KEYS, TrainConfig } from '../train/config';
import { MODELS } from '../../models';
import { Head, HEADS } from './heads';
import { modelIdOf, Pretrained } from './pretrained';

export const TRANSFER_MODES = ['features', 'finetune', 'scratch'] as const;
/**
 * features: the pretrained body frozen, only the new head trained;
 * finetune: every layer trained, the body at lr * bodyLrScale;
 * scratch:  the same network from random weights on the subset alone (the baseline).
 */
export type TransferMode = (typeof TRANSFER_MODES)[number];

export interface TransferConfig extends Omit<TrainConfig, 'model' | 'dataset' | 'data' | 'engine'> {
  /** checkpoint.safetensors or weights.safetensors from `allcnn train` (needed by features and finetune). */
  from?: string;
  /** Model id ('all-cnn-c'); default: the checkpoint's. A checkpoint of another architecture is rejected. */
  model?: string;
  /** CIFAR-100 binary archive or folder; default: the bundled 300-image sample. */
  data?: string;
  /** 'vehicles', 'flora', or CIFAR-100 superclass / fine-class names (see data/subsets.ts). */
  subset: string | string[];
  /** Default 'features'. */
  mode?: TransferMode;
  /** The new classifier (heads.ts); default 'conv'. */
  head?: Head;
  /** finetune: the pretrained body learns at lr * bodyLrScale (default 0.1), the new head at lr. */
  bodyLrScale?: number;
}

/** No `dataset`: a transfer run trains on the CIFAR-100 subset named by `subset`. */
export interface ResolvedTransferConfig extends Omit<ResolvedConfig, 'dataset'> {
  from: string | null;
  subset: string[];
  mode: TransferMode;
  head: Head;
  /** The body's rate as a fraction of lr in mode 'finetune'; null in the other modes. */
  bodyLrScale: number | null;
}

export const TRANSFER_DEFAULTS = {
  mode: 'features' as TransferMode,
  head: 'conv' as Head,
  bodyLrScale: 0.1,
  /** A new head on fixed features tolerates a higher rate than the paper's from-scratch 0.01. */
  lr: 0.05,
};

/** That `pre` can be transferred as `model` (undefined: the network it holds): that network, trained on CIFAR-10. */
export function checkPretrained(pre: Pretrained, model: string | undefined): void {
  const name = model === undefined ? undefined : (MODELS[model]?.name ?? model);
  if (pre.model && name && name !== pre.model) {
    throw new CheckpointError(`${pre.file} is a checkpoint of ${pre.model}, not of ${name} (model '${model}'); pass a checkpoint of ${name}, or leave out the model to use the checkpoint's`);
  }
  if (pre.dataset === 'cifar100') {
    throw new CheckpointError(`${pre.file} was trained on CIFAR-100, whose training images hold every subset's classes: transfer moves a CIFAR-10 network to CIFAR-100 classes it has not seen; pass a checkpoint trained on CIFAR-10`);
  }
}

const TRANSFER_KEYS = [
  ...TRAIN_CONFIG_KEYS.filter((k) => k !== 'dataset' && k !== 'engine'),
  ...Object.keys({ from: 1, subset: 1, mode: 1, head: 1, bodyLrScale: 1 } satisfies Partial<Record<keyof TransferConfig, 1>>),
];

/** Checks a transfer config against the pretrained file's metadata and fills in the defaults. */
export function resolveTransferConfig(c: TransferConfig, pre: Pretrained | null): ResolvedTransferConfig {
  if (c === null || typeof c !== 'object') throw invalid('config', 'a TransferConfig object', c);
  const { from, model, data, subset, mode, head, bodyLrScale, ...train } = c;
  if ((c as { dataset?: unknown }).dataset !== undefined) throw invalid('dataset', 'no dataset option (a transfer run trains on the CIFAR-100 subset named by subset)', (c as { dataset?: unknown }).dataset);
  if ((c as { engine?: unknown }).engine !== undefined) throw invalid('engine', 'no engine option (transfer picks its step itself)', (c as { engine?: unknown }).engine);
  // Checked here, not by resolveConfig: its list would leave out subset, mode and the rest (a misspelt `subsets` was never shown `subset`).
  checkKeys('config', c, TRANSFER_KEYS);
  const m = checkOneOf('mode', mode ?? TRANSFER_DEFAULTS.mode, TRANSFER_MODES);
  // Recorded beside a run that trained no pretrained body at its own rate, it would say the run did.
  if (bodyLrScale !== undefined && m !== 'finetune') throw invalid('bodyLrScale', `no bodyLrScale for mode '${m}' (it is the pretrained body's rate in mode 'finetune')`, bodyLrScale);
  if (m !== 'scratch' && !pre) throw invalid('from', `a checkpoint or weights file for mode '${m}' (only 'scratch' trains without one)`, from);
  if (model !== undefined && !MODELS[model]) throw invalid('model', `one of ${Object.keys(MODELS).join(', ')}`, model);
  if (pre) checkPretrained(pre, model);
  const fromFile = pre ? modelIdOf(pre.model) : undefined;
  if (pre && pre.model !== null && !fromFile && !model) throw invalid('model', `a model id: ${pre.file} holds "${pre.model}", which is not one of the twelve networks`, model);
  const id = model ?? fromFile ?? pre?.config?.model;
  if (!id) throw invalid('model', pre ? `a model id (${pre.file} does not say which network it holds)` : 'a model id for a scratch run without a checkpoint', model);
  // Unset options (undefined) fall back to the checkpoint's choice, then to the defaults.
  const inherited = { prep: pre?.config?.prep, finalRelu: pre?.config?.finalRelu };
  const { dataset: _, ...resolved } = resolveConfig({ lr: TRANSFER_DEFAULTS.lr, ...definedOnly(inherited), ...definedOnly(train), model: id, ...definedOnly({ data }) } as TrainConfig);
  if (resolved.engine !== 'native') throw invalid('engine', 'no engine option (transfer picks its step itself)', resolved.engine);
  const names = (typeof subset === 'string' ? subset.split(',') : Array.isArray(subset) ? subset : []).map((s) => String(s).trim()).filter(Boolean);
  if (names.length === 0) throw invalid('subset', "'vehicles', 'flora' or CIFAR-100 class names", subset);
  return {
    ...resolved, from: pre ? pre.file : null, subset: names, mode: m,
    head: checkOneOf('head', head ?? TRANSFER_DEFAULTS.head, HEADS),
    // null where no pretrained body trains at its own rate: a recorded 0.1 would say one did.
    bodyLrScale: m === 'finetune' ? checkNumber('bodyLrScale', bodyLrScale ?? TRANSFER_DEFAULTS.bodyLrScale, 0, 1) : null,
  };
}
