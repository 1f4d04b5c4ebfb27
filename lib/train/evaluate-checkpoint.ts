/**
 * evaluateCheckpoint(): a trained run's checkpoint scored again, with a
 * confusion matrix. The checkpoint's own config says how its data were
 * prepared (split seed, validation size, GCN + ZCA or not, test limit) and
 * which network it holds, so the scores match the run's result.json; but a
 * run trained in bf16 or fp16 is scored here in fp32 (op by op, which gives
 * the confusion matrix too), where result.json's scores were taken under its
 * autocast: the loss can differ in the last digits (1e-4 in a short CPU
 * run), and the accuracy by an image.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireDevice } from '../backend';
import { checkKeys, checkOneOf, invalid } from '../check';
import { Cifar10, ImageSet } from '../data/cifar';
import { dataDigest, trainingDigest, DATASET_CLASSES, DATASET_TITLES, DatasetName, DataRecipe, Dataset, DatasetOptions, PREPS, prepareDataset, readCifar, recordedDataset } from '../data/dataset';
import { CheckpointError, DataError, InvalidArgumentError, OtherDataSetError } from '../errors';
import { ABLATIONS } from '../experiments/ablations';
import { buildNetwork, Network } from '../model/network';
import { declareNetwork, NetworkSpec } from '../model/spec';
import { checkDevice, Device } from '../tensor';
import { readSafetensorsMetadata } from '../io/safetensors';
import { MODELS } from '../../models';
import { CHECKPOINT_FORMAT, loadCheckpoint, metadataEpoch, metadataJson, savedConfig } from './checkpoint';
import { PRECISIONS, type Precision, type ResolvedConfig } from './config';
import { ClassScore, evalBatchSize, evaluateByClass } from './evaluate';
import { hasDiverged } from './train';

export const SPLITS = ['test', 'validation'] as const;
export type Split = (typeof SPLITS)[number];

/** The checkpoint's scores (loss, accuracy, count, confusion) on one split, and what was scored. */
export interface CheckpointEvaluation extends ClassScore {
  file: string;
  /** The model id ('all-cnn-c') and the paper's name ('ALL-CNN-C'). */
  model: string;
  name: string;
  /** Epochs the checkpoint had trained, of the run's config.epochs. */
  epoch: number;
  epochs: number;
  /** The run had diverged (training or validation loss NaN or infinite) by this checkpoint: its scores are those of weights that are not numbers. */
  diverged: boolean;
  split: Split;
  /** The data set ('cifar10', 'cifar100') and the archive or folder read (null: its bundled sample). */
  dataset: DatasetName;
  data: string | null;
  /** The archive or folder the run was trained on, as it recorded it (null: the bundled sample, or unknown). */
  trainedOn: string | null;
  /** The precision the run trained in, and its result.json was scored in; these scores are fp32's whatever it is. */
  trainedInPrecision: Precision;
  /** Whether `data` holds the images the run was trained on, wherever they are now (null: its checkpoint, written before 2026-12-02, records no digest of them). */
  sameData: boolean | null;
  classNames: string[];
  /** Per class: its images and the share of them predicted right. */
  perClass: Array<{ name: string; count: number; accuracy: number }>;
}

export interface EvaluateCheckpointOptions {
  /** The run's data set's archive or folder (CIFAR-10 or CIFAR-100); default: the one the run was trained on. */
  data?: string;
  /** Default 'test'. */
  split?: Split;
  /** Default 'cpu' (a checkpoint trained on a GPU evaluates anywhere). */
  device?: Device;
  batchSize?: number;
}

/** Every key of EvaluateCheckpointOptions (the type makes this list complete). */
const OPTION_KEYS = Object.keys({ data: 1, split: 1, device: 1, batchSize: 1 } satisfies Record<keyof EvaluateCheckpointOptions, 1>);

/** Reads a checkpoint written by trainModel (`allcnn train`, `allcnn reproduce`) and scores it on a split of its data. */
export async function evaluateCheckpoint(file: string, o: EvaluateCheckpointOptions = {}): Promise<CheckpointEvaluation> {
  checkKeys('options', o, OPTION_KEYS);
  const split = checkOneOf('split', o.split ?? 'test', SPLITS);
  const device = checkDevice('device', o.device ?? 'cpu');
  if (o.batchSize !== undefined) evalBatchSize(o.batchSize);
  requireDevice(device);
  file = runCheckpoint(file);
  const { config, spec, epoch, recipe, diverged } = readRun(file);
  // Known from the recipe: no need to read the data to find the split empty.
  if (split === 'validation' && recipe.validation === 0) {
    throw new InvalidArgumentError(`${file}: the run held out no validation images (validation 0), so there is no validation split to score: score the test split`);
  }
  const { dataset: name, data, options, digest } = runData(file, recipe, o.data);
  const network = runNetwork(file, config, spec, device);
  let dataset: Dataset | null = null;
  try {
    const { raw, set } = await scoringData(name, data, options, device);
    dataset = set;
    const score = await evaluateByClass(network, set[split], set.classes, { batchSize: o.batchSize ?? config.evalBatchSize });
    const perClass = set.classNames.map((name, k) => {
      const count = score.confusion[k].reduce((s, v) => s + v, 0);
      return { name, count, accuracy: count ? score.confusion[k][k] / count : NaN };
    });
    return {
      file, model: config.model, name: network.spec.name, epoch, epochs: config.epochs, diverged, split, dataset: name, data: data ?? null, trainedOn: recipe.data ?? null, trainedInPrecision: PRECISIONS.includes(config.precision) ? config.precision : 'fp32',
      sameData: sameImages(raw, digest), ...score, classNames: set.classNames, perClass,
    };
  } finally {
    network.dispose();
    dataset?.dispose();
  }
}

/**
 * The network a checkpoint's config.model names: one of the twelve by id
 * (`allcnn train`), or by its name (reproduce's ablations train specs of
 * their own, and the Kaiming and no-final-ReLU ones ALL-CNN-C's spec).
 */
export function runSpec(model: string): NetworkSpec | undefined {
  return MODELS[model] ?? [...Object.values(MODELS), ...ABLATIONS.map((a) => a.model)].find((spec) => spec.name === model);
}

/**
 * The network a checkpoint holds: the paper's (runSpec) when its recorded
 * layers are that network's, else the network declared by those layers (one
 * a user declared with declareNetwork and trained with trainModel).
 * Checkpoints from before the layers were recorded name a paper network.
 */
function checkpointSpec(file: string, model: string, layers: string | undefined): NetworkSpec {
  const paper = runSpec(model);
  if (paper && (layers === undefined || layers === JSON.stringify(paper.layers))) return paper;
  if (layers === undefined) {
    throw new CheckpointError(`${file}: a checkpoint of "${model}", neither one of the twelve networks nor one of reproduce's ablations, and it does not record its layers; score it from TypeScript with buildNetwork() of its spec, loadCheckpoint() and evaluate()`);
  }
  try {
    return declareNetwork(model, 'declared in code: the layers its checkpoint records', JSON.parse(layers));
  } catch (err) {
    throw new CheckpointError(`${file}: the layers it records do not declare a network (${err instanceof Error ? err.message : String(err)}): a corrupt or edited checkpoint?`);
  }
}

/**
 * A checkpoint argument (of the API and of the commands): the file itself,
 * or the run folder (`allcnn train --out`) that holds checkpoint.safetensors.
 * A results folder of `allcnn reproduce` holds one checkpoint per run, so it
 * is refused with where they are rather than a missing checkpoint.safetensors.
 */
export function runCheckpoint(file: string): string {
  if (typeof file !== 'string' || file === '') throw invalid('file', 'the path of a checkpoint.safetensors', file);
  // `allcnn predict pic.png run/` has its arguments the wrong way round: say so, not that a PNG is a bad safetensors file.
  // (Also reached from transfer's --from: the words fit both.)
  if (/\.(png|jpe?g)$/i.test(file)) throw new CheckpointError(`${file} is a picture, not a checkpoint: pass a checkpoint.safetensors or its run folder (predict takes it first, then the pictures)`);
  if (!(fs.existsSync(file) && fs.statSync(file).isDirectory())) return file;
  const inside = path.join(file, 'checkpoint.safetensors');
  if (fs.existsSync(inside)) return inside;
  const runs = path.join(file, 'checkpoints');
  if (fs.existsSync(path.join(file, 'experiment.json')) && fs.existsSync(runs)) {
    const names = fs.readdirSync(runs).filter((n) => n.endsWith('.safetensors')).sort();
    const examples = names.length ? `, such as ${path.join(runs, names[0])}` : ' (none written yet)';
    throw new CheckpointError(`${file} holds the results of \`allcnn reproduce\`, one checkpoint per run: pass one of the ${names.length} in ${runs}${examples}`);
  }
  if (fs.existsSync(path.join(file, 'weights.safetensors')) && fs.existsSync(path.join(file, 'result.json'))) {
    throw new CheckpointError(`${file} has weights but no checkpoint.safetensors (an \`allcnn transfer\` run keeps none: its scores are in its result.json); this command reads runs of \`allcnn train\` and \`allcnn reproduce\``);
  }
  // Said of the folder given, before a line that would say its checkpoint was being read.
  throw new CheckpointError(`${file} is a folder without a checkpoint.safetensors: pass a checkpoint file, or the --out folder of an \`allcnn train\` run (\`allcnn reproduce\` keeps one checkpoint per run in its checkpoints/ folder)`);
}

/**
 * The run's network with the checkpoint's weights, on `device`. Made before
 * the data are prepared, so that a mismatched checkpoint fails in a moment.
 */
export function runNetwork(file: string, config: ResolvedConfig, spec: NetworkSpec, device: Device): Network {
  const network = buildNetwork(spec, { classes: DATASET_CLASSES[config.dataset], finalRelu: config.finalRelu, device });
  try {
    loadCheckpoint(file, network, null, config);
    return network;
  } catch (err) {
    network.dispose();
    throw err;
  }
}

/**
 * A run's data (runData's) prepared to score a network: with `limit: 1`, as
 * no training image is scored, while the normalisation is still fitted on
 * the whole training split (or read from the ZCA cache). `test`, when
 * given, takes the place of the archive's test images (predictImages'
 * pictures). Also gives what was read, for the images' bytes.
 */
export async function scoringData(dataset: DatasetName, data: string | undefined, options: DatasetOptions, device: Device, test?: ImageSet): Promise<{ raw: Cifar10; set: Dataset }> {
  const raw = await readCifar(dataset, data).catch((err: unknown) => {
    if (!(err instanceof DataError)) throw err;
    // Say what the run needs: the message alone may point at another command (CIFAR-10 given for a CIFAR-100 run, say).
    const title = DATASET_TITLES[dataset];
    if (!test) throw new DataError(`${err.message} (this run was trained on ${title}: it is scored on that data set's archive or folder)`);
    // predictImages scores pictures, not the archive: which command takes another data set ("`allcnn train --dataset cifar100` takes it") is beside the point.
    const why = `pictures are prepared with the statistics of the run's own ${title} training images`;
    throw new DataError(err instanceof OtherDataSetError
      ? `${err.identified}; ${why}: pass its ${title} archive or folder (--data, or options.data from code), or none for the one the run recorded`
      : `${err.message} (${why})`);
  });
  try {
    const set = test
      ? prepareDataset({ ...raw, test }, { ...options, limit: 1, testLimit: undefined, device })
      : prepareDataset(raw, { ...options, limit: 1, device });
    return { raw, set };
  } catch (err) {
    // The recipe's split sizes are the run's, not the caller's options: data too small for them are other data.
    if (!(err instanceof InvalidArgumentError)) throw err;
    throw new DataError(`the run's data recipe does not fit ${data ?? 'the bundled sample'} (${err.message}): is it the data the run was trained on? Pass those (--data, or options.data from code)`);
  }
}

/**
 * What to load to score a run: its data set, the archive or folder (`data`
 * when given, else the one it was trained on; undefined: the bundled
 * sample), the recipe's options for prepareDataset, and the digest of the
 * images it was trained on (undefined where the checkpoint records none).
 * The digest is not an option: data other than the run's are scored too,
 * and said to be other (sameImages).
 */
export function runData(file: string, recipe: ReturnType<typeof readRun>['recipe'], data?: string): { dataset: DatasetName; data: string | undefined; options: DatasetOptions; digest: string | undefined } {
  if (data !== undefined && (typeof data !== 'string' || data === '')) throw invalid('data', `the run's ${DATASET_TITLES[recipe.dataset]} archive or folder (a path)`, data);
  const { dataset, data: trainedOn, digest, ...options } = recipe;
  if (data === undefined && trainedOn !== null && !fs.existsSync(trainedOn)) {
    throw new DataError(`${file} was trained on ${trainedOn}, which is not there from here: pass the ${DATASET_TITLES[dataset]} archive or folder (--data, or options.data from code)`);
  }
  return { dataset, data: data ?? trainedOn ?? undefined, options, digest };
}

/**
 * Whether the data read are the images a run was trained on (runData's
 * digest), or with `trainingOnly` its training images (the first half of the
 * digest: a preparation fitted on them is the run's); null where that is not
 * recorded.
 */
export function sameImages(raw: Cifar10, digest: string | undefined, o: { trainingOnly?: boolean } = {}): boolean | null {
  if (digest === undefined) return null;
  const now = dataDigest(raw);
  return o.trainingOnly ? trainingDigest(now) === trainingDigest(digest) : now === digest;
}

/**
 * The recorded values that scoring reads, checked as the checkpoint's own:
 * a bad one is a corrupt (or edited) file, not a bad option of the caller's.
 */
function checkRecorded(file: string, config: ResolvedConfig, recipe: DatasetOptions): void {
  const whole = (v: unknown, min: number) => v === undefined || v === null || (Number.isSafeInteger(v) && (v as number) >= min);
  const bad = [
    ...(['validation', 'seed'] as const).filter((k) => !whole(recipe[k], 0)).map((k) => [k, recipe[k]]),
    ...(['limit', 'testLimit'] as const).filter((k) => !whole(recipe[k], 1)).map((k) => [k, recipe[k]]),
    ...(Number.isSafeInteger(config.evalBatchSize) && config.evalBatchSize >= 1 ? [] : [['evalBatchSize', config.evalBatchSize]]),
    ...(typeof config.finalRelu === 'boolean' ? [] : [['finalRelu', config.finalRelu]]),
  ];
  if (bad.length) {
    throw new CheckpointError(`${file}: it records ${bad.map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ')}, which allcnn never writes (a corrupt or edited checkpoint?)`);
  }
}

/**
 * The run's config, epoch and data recipe, with an error that says what to
 * pass instead when the file is not a training checkpoint of allcnn; with
 * needsWeights, also when the run had diverged (its weights are NaN).
 * `file` is a path runCheckpoint has checked.
 */
export function readRun(file: string, o: { needsWeights?: boolean } = {}): { config: ResolvedConfig; spec: NetworkSpec; epoch: number; recipe: Pick<DataRecipe, 'dataset' | 'data'> & DatasetOptions; diverged: boolean } {
  if (!fs.existsSync(file)) throw new CheckpointError(`${file}: no such file (allcnn train writes <out>/checkpoint.safetensors)`);
  const metadata = readSafetensorsMetadata(file); // the tensors are read by loadCheckpoint, checked against the network
  const saved = metadata.format === CHECKPOINT_FORMAT ? (savedConfig(file, metadata) as ResolvedConfig) : null;
  if (!saved) {
    // `allcnn transfer` writes weights.safetensors and no checkpoint: there is none beside it to point at.
    const beside = path.join(path.dirname(file), 'checkpoint.safetensors');
    if (path.resolve(beside) === path.resolve(file)) throw new CheckpointError(`${file}: not an allcnn checkpoint (its format is "${metadata.format ?? 'none'}", not ${CHECKPOINT_FORMAT}): a file of another tool, or one whose metadata was changed`);
    const instead = fs.existsSync(beside) ? `pass the checkpoint written beside it, ${beside}` : 'pass the checkpoint.safetensors of an `allcnn train` or `allcnn reproduce` run (an `allcnn transfer` run keeps none: its scores are in its result.json)';
    throw new CheckpointError(`${file}: a weights file, which does not record how the data were prepared; ${instead} (format ${CHECKPOINT_FORMAT})`);
  }
  const config: ResolvedConfig = { ...saved, dataset: recordedDataset(saved.dataset) };
  const spec = checkpointSpec(file, config.model, metadata.layers);
  // Checkpoints written before the recipe was kept came from `allcnn train`, whose config holds the data options.
  const kept = metadataJson<Omit<DataRecipe, 'dataset'> & { dataset?: DatasetName }>(file, 'data', metadata.data);
  const recipe = metadata.data === undefined
    ? { dataset: config.dataset, data: config.data, prep: config.prep, seed: config.seed, validation: config.validation ?? undefined, limit: config.limit ?? undefined, testLimit: config.testLimit ?? undefined }
    : kept && { ...kept, dataset: recordedDataset(kept.dataset) };
  if (!recipe) {
    throw new CheckpointError(`${file}: trained on a data set passed in by the caller (hooks.dataset), not one loadCifar can make again; score it from TypeScript with evaluate() on that data set`);
  }
  // The recipe rebuilds the data the network is scored on: one that contradicts the config, or names no preparation, is corruption.
  if (recipe.dataset !== config.dataset) {
    throw new CheckpointError(`${file}: its data recipe names ${DATASET_TITLES[recipe.dataset] ?? recipe.dataset} but its config ${DATASET_TITLES[config.dataset] ?? config.dataset} (a corrupt checkpoint?)`);
  }
  if (recipe.prep !== undefined && !(PREPS as readonly string[]).includes(recipe.prep)) {
    throw new CheckpointError(`${file}: its data recipe's preparation "${String(recipe.prep)}" is none of ${PREPS.join(', ')} (a corrupt checkpoint?)`);
  }
  // NaN losses are saved as null (JSON): either way the run had diverged when this checkpoint was written.
  checkRecorded(file, config, recipe);
  const history = metadataJson<Array<{ loss: number | null; valLoss?: number | null }>>(file, 'history', metadata.history ?? '[]') ?? [];
  const epoch = metadataEpoch(file, metadata.epoch);
  // As training judged it: a NaN validation loss counts where there were validation images.
  const diverged = Array.isArray(history) && hasDiverged(history, { validated: recipe.validation !== 0 });
  // predict and visualize need weights that are numbers; evaluate can score any.
  if (diverged && o.needsWeights) {
    throw new CheckpointError(`${file}: this run diverged in epoch ${epoch} (its training or validation loss became NaN or infinite), so its weights are not numbers; train it again with a lower learning rate`);
  }
  return { config, spec, epoch, recipe, diverged };
}
