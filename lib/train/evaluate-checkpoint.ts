/**
 * evaluateCheckpoint(): a trained run's checkpoint scored again, with a
 * confusion matrix. The checkpoint's own config says how its data were
 * prepared (split seed, validation size, GCN + ZCA or not, test limit) and
 * which network it holds, so the scores match the run's result.json.
 */
import * as fs from 'node:fs';
import { checkOneOf } from '../check';
import { loadCifar10 } from '../data/dataset';
import { CheckpointError, DataError } from '../errors';
import { buildNetwork } from '../model/network';
import { checkDevice, Device } from '../tensor';
import { readPretrained } from '../transfer/pretrained';
import { MODELS } from '../../models';
import { CHECKPOINT_FORMAT, loadCheckpoint } from './checkpoint';
import type { ResolvedConfig } from './config';
import { confusionMatrix, evaluate } from './evaluate';

export const SPLITS = ['test', 'validation'] as const;
export type Split = (typeof SPLITS)[number];

export interface CheckpointEvaluation {
  file: string;
  /** The model id ('all-cnn-c') and the paper's name ('ALL-CNN-C'). */
  model: string;
  name: string;
  /** Epochs the checkpoint had trained, of the run's config.epochs. */
  epoch: number;
  epochs: number;
  split: Split;
  /** The CIFAR-10 archive or folder read (null: the bundled sample). */
  data: string | null;
  loss: number;
  accuracy: number;
  count: number;
  classNames: string[];
  /** confusion[t][p]: images of true class t predicted as p. */
  confusion: number[][];
  /** Per class: its images and the share of them predicted right. */
  perClass: Array<{ name: string; count: number; accuracy: number }>;
}

export interface EvaluateCheckpointOptions {
  /** CIFAR-10 archive or folder; default: the one the run was trained on. */
  data?: string;
  /** Default 'test'. */
  split?: Split;
  /** Default 'cpu' (a checkpoint trained on a GPU evaluates anywhere). */
  device?: Device;
  batchSize?: number;
}

/** Reads a checkpoint written by trainModel (`allcnn train`, `allcnn reproduce`) and scores it on a split of its data. */
export async function evaluateCheckpoint(file: string, o: EvaluateCheckpointOptions = {}): Promise<CheckpointEvaluation> {
  const split = checkOneOf('split', o.split ?? 'test', SPLITS);
  const device = checkDevice('device', o.device ?? 'cpu');
  const { config, epoch } = readRunConfig(file);
  const data = o.data ?? config.data ?? undefined;
  if (data !== undefined && !fs.existsSync(data)) {
    throw new DataError(`${file} was trained on ${data}, which is not there from here: pass the CIFAR-10 archive or folder with --data (options.data)`);
  }
  const dataset = await loadCifar10(data, {
    prep: config.prep, validation: config.validation ?? undefined, seed: config.seed,
    limit: config.limit ?? undefined, testLimit: config.testLimit ?? undefined, device,
  });
  const network = buildNetwork(MODELS[config.model], { classes: dataset.classes, finalRelu: config.finalRelu, device });
  try {
    loadCheckpoint(file, network, null, config);
    const part = dataset[split];
    const score = await evaluate(network, part, { batchSize: o.batchSize ?? config.evalBatchSize });
    const confusion = confusionMatrix(network, part, dataset.classes, { batchSize: o.batchSize ?? config.evalBatchSize });
    const perClass = dataset.classNames.map((name, k) => {
      const count = confusion[k].reduce((s, v) => s + v, 0);
      return { name, count, accuracy: count ? confusion[k][k] / count : NaN };
    });
    return {
      file, model: config.model, name: MODELS[config.model].name, epoch, epochs: config.epochs, split, data: data ?? null,
      loss: score.loss, accuracy: score.accuracy, count: score.count, classNames: dataset.classNames, confusion, perClass,
    };
  } finally {
    network.dispose();
    dataset.dispose();
  }
}

/** The run's config and epoch, with an error that says what to pass instead when the file is not a CIFAR-10 training checkpoint. */
function readRunConfig(file: string): { config: ResolvedConfig; epoch: number } {
  if (!fs.existsSync(file)) throw new CheckpointError(`${file}: no such file (allcnn train writes <out>/checkpoint.safetensors)`);
  const pre = readPretrained(file);
  pre.dispose();
  if (pre.kind !== 'checkpoint' || !pre.config) {
    throw new CheckpointError(`${file}: a weights file, which does not record how the data were prepared; pass the checkpoint.safetensors written beside it (format ${CHECKPOINT_FORMAT})`);
  }
  if (!MODELS[pre.config.model]) {
    throw new CheckpointError(`${file}: a checkpoint of "${pre.config.model}", not one of the twelve networks; evaluate it from TypeScript with buildNetwork(), loadCheckpoint() and evaluate()`);
  }
  return { config: pre.config, epoch: pre.epochs ?? 0 };
}
