/**
 * Pretraining on the fly, for a transfer run given no checkpoint: trainModel
 * on CIFAR-10 with a checkpoint file, so the result is the same file
 * `allcnn train` writes, and a second call with the same options reuses it
 * (a finished checkpoint) or continues it (an interrupted one).
 */
import * as fs from 'node:fs';
import { checkKeys, invalid } from '../check';
import { readSafetensorsMetadata } from '../io/safetensors';
import { dataDigest, DataRecipe, readCifar } from '../data/dataset';
import { CHECKPOINT_FORMAT, checkpointDifferences, metadataJson, readCheckpointFile } from '../train/checkpoint';
import { resolveConfig, TrainConfig } from '../train/config';
import { Progress, trainModel } from '../train/train';

/**
 * Whether `file` is a finished checkpoint of exactly this config, on the
 * same images: where it records their digest, that decides, wherever the
 * data are now (the path may hold other images, another path the same).
 * Not finished, trainModel resumes it, and refuses it on other data.
 */
async function finished(file: string, config: TrainConfig): Promise<boolean> {
  if (!fs.existsSync(file)) return false;
  const metadata = readCheckpointFile(file, () => readSafetensorsMetadata(file));
  const c = resolveConfig(config);
  if (metadata.format !== CHECKPOINT_FORMAT || Number(metadata.epoch) !== c.epochs) return false;
  const differs = checkpointDifferences(file, c);
  const digest = metadataJson<DataRecipe>(file, 'data', metadata.data)?.digest;
  if (digest === undefined || differs.some((k) => k !== 'data')) return differs.length === 0;
  return dataDigest(await readCifar('cifar10', c.data)) === digest;
}

/**
 * Trains `config` on CIFAR-10 into the checkpoint `file` unless that is done
 * already; returns whether it trained. A checkpoint of other options is an
 * error (trainModel names the differing keys).
 */
export async function pretrainCifar10(options: TrainConfig, file: string, hooks: { onProgress?: (p: Progress) => void; signal?: AbortSignal } = {}): Promise<boolean> {
  checkKeys('hooks', hooks, ['onProgress', 'signal']);
  if (options?.dataset !== undefined && options.dataset !== 'cifar10') throw invalid('dataset', "'cifar10' or none (pretrainCifar10 pretrains on CIFAR-10: transfer moves its network to CIFAR-100 classes it has not seen)", options.dataset);
  // Options left undefined take resolveConfig's defaults (it would read an undefined as a value).
  const config = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as TrainConfig;
  if (await finished(file, config)) return false;
  await trainModel(config, { checkpoint: file, resume: true, onProgress: hooks.onProgress, signal: hooks.signal });
  return true;
}
