/**
 * Checkpoints: model parameters, batch-norm buffers, SGD velocities, the epoch
 * reached, the history so far, the RNG recipe and a hash of the config, in one
 * safetensors file written atomically (temporary file + rename), so a crash
 * mid-write never leaves a broken checkpoint behind.
 *
 * RNG state: every epoch reseeds the run's generator from (seed, epoch), so
 * the epoch number is the whole RNG state and a resumed run continues exactly
 * as an uninterrupted one.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkBoolean, checkInteger, checkKeys, invalid, invalidAs } from '../check';
import { CheckpointError } from '../errors';
import { loadSafetensors, readSafetensorsMetadata, saveSafetensors } from '../io/safetensors';
import { DataRecipe, recordedDataset } from '../data/dataset';
import { archiveBytes } from '../io/folder';
import { Network } from '../model/network';
import { noGrad } from '../autograd';
import { isFloating, type Tensor } from '../tensor';
import { SGD } from './optim';

export const CHECKPOINT_FORMAT = 'allcnn-checkpoint-v1';

/**
 * Config fields added after the first checkpoints were written, with the
 * value that means what a checkpoint without the field did. At that value
 * they are left out of the hash and the comparison, so older checkpoints
 * still resume (a GPU reproduction may span several versions).
 */
const ADDED_LATER: Readonly<Record<string, unknown>> = { dataset: recordedDataset(undefined) };

/**
 * Fields that say how a run is watched, not what it computes: a resumed run
 * may change them (a smaller evalBatchSize after running out of GPU memory
 * in an evaluation).
 */
const NOT_COMPARED = new Set(['evalBatchSize', 'stallEpochs']);

/**
 * Fields that set how many images each split holds, where null means a
 * default that depends on the data (a tenth of a small sample is held out for
 * validation). Where the checkpoint and the run both record the sizes their
 * data came to (the data recipe), those are compared instead: `validation:
 * 50` and a default that came to 50 are one split.
 */
const SPLIT_SIZES = new Set(['validation', 'limit', 'testLimit']);
/** The same for the data path: the recipe tells a moved archive (same size) from other data. */
const IN_RECIPE = new Set([...SPLIT_SIZES, 'data']);

/**
 * The config as checkpoints compare it: fields of ADDED_LATER at their old
 * meaning and NOT_COMPARED left out, and the data path made absolute
 * (fixtures/x.tar.gz, ./fixtures/x.tar.gz and its full path are one file).
 */
function comparable(config: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config)
    .filter(([k, v]) => !NOT_COMPARED.has(k) && !(k in ADDED_LATER && v === ADDED_LATER[k]))
    .map(([k, v]) => [k, k === 'data' && typeof v === 'string' ? path.resolve(v) : v]));
}

/** A stable hash of the fields that change what a run computes. */
export function configHash(config: object): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as any)[k])])) : v;
  return crypto.createHash('sha256').update(JSON.stringify(sorted(comparable(config)))).digest('hex').slice(0, 16);
}

/** A JSON value of a checkpoint's metadata; null when `key` is absent. */
export function metadataJson<T>(file: string, key: string, text: string | undefined): T | null {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CheckpointError(`${file}: metadata "${key}" is not valid JSON (a corrupt checkpoint?)`);
  }
}

/**
 * A checkpoint's config, as its metadata records it. Missing, or not an
 * object, it is corruption: compared as {} it read as another run that
 * differed in every option.
 */
export function savedConfig(file: string, metadata: Record<string, string>): object {
  const config = metadataJson<unknown>(file, 'config', metadata.config);
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new CheckpointError(`${file}: metadata "config" is ${metadata.config === undefined ? 'missing' : `${JSON.stringify(metadata.config).slice(0, 40)}, not an object`} (a corrupt checkpoint?)`);
  }
  return config;
}

/** The epochs a checkpoint has completed, as its metadata records them. */
export function metadataEpoch(file: string, text: string | undefined): number {
  const epoch = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(epoch)) throw new CheckpointError(`${file}: metadata "epoch" is ${JSON.stringify(text) ?? 'missing'}, not a count of epochs (a corrupt checkpoint?)`);
  return epoch;
}

export interface CheckpointState<H> {
  /** Epochs completed. */
  epoch: number;
  history: H[];
  config: object;
  /** The data set's recipe (null: a data set made without one); not part of the config check. */
  data?: DataRecipe | null;
}

export function saveCheckpoint<H>(file: string, net: Network, sgd: SGD | null, state: CheckpointState<H>): void {
  checkNetworkAndSgd(net, sgd);
  if (state === null || typeof state !== 'object') throw invalid('state', 'an object { epoch, history, config }', state);
  checkInteger('state.epoch', state.epoch, 0, Number.MAX_SAFE_INTEGER);
  // loadCheckpoint refuses a file whose two disagree, as corrupt: refused here, before it is written.
  if (!Array.isArray(state.history) || state.history.length !== state.epoch) throw invalid('state.history', `a list of ${state.epoch} epoch records, one per epoch completed`, state.history);
  if (state.config === null || typeof state.config !== 'object') throw invalid('state.config', 'the run\'s config object', state.config);
  const bytes = archiveBytes(state.data?.data);
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of net.parameters) tensors.set(`param.${k}`, t);
  for (const [k, t] of net.buffers) tensors.set(`buffer.${k}`, t);
  if (sgd) [...net.parameters.keys()].forEach((k, i) => tensors.set(`momentum.${k}`, sgd.momentumBuffers[i]));
  saveSafetensors(file, tensors, {
    format: CHECKPOINT_FORMAT,
    model: net.spec.name,
    // The config names the network only: two declarations under one name differ in their layers.
    layers: JSON.stringify(net.spec.layers),
    epoch: String(state.epoch),
    configHash: configHash(state.config),
    config: JSON.stringify(state.config),
    history: JSON.stringify(state.history),
    ...(state.data !== undefined ? { data: JSON.stringify(state.data) } : {}),
    ...(bytes !== null ? { dataBytes: String(bytes) } : {}),
    rng: JSON.stringify({ reseededPerEpoch: true }),
  });
}

/**
 * The fields a checkpoint's config (`saved`, hashed in its metadata) differs
 * in from `config`; none when the hashes agree. When they differ, the saved
 * config decides: a hash made before NOT_COMPARED was left out differs
 * though no field does.
 */
function configDifferences(metadata: Record<string, string>, saved: object, config: object): string[] {
  if (metadata.configHash === configHash(config)) return [];
  const [a, b] = [comparable(saved), comparable(config)];
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/**
 * The config fields in which a checkpoint's run differs from `config` (none:
 * resuming would continue it), read from its metadata alone.
 */
export function checkpointDifferences(file: string, config: object): string[] {
  const metadata = readCheckpointFile(file, () => readSafetensorsMetadata(file));
  const diff = configDifferences(metadata, savedConfig(file, metadata), config);
  // A moved archive is no other run: resuming continues it (loadCheckpoint judges it the same way).
  const saved = metadataJson<DataRecipe>(file, 'data', metadata.data)?.data;
  const now = (config as { data?: string | null }).data;
  if (diff.includes('data') && saved !== undefined && sameData(saved, metadata.dataBytes, now ? path.resolve(now) : null)) return diff.filter((k) => k !== 'data');
  return diff;
}

/**
 * The fields of a checkpoint's data recipe that `recipe` (the data of the run
 * resuming it) differs in. A data set handed to trainModel (hooks.dataset) is
 * not in the config, so this is what tells it apart. Fields an older
 * checkpoint's recipe lacks are not compared. Where both recipes have the
 * images' digest, it alone tells whether the data are the same (the path
 * may change, and the file at a path may be replaced).
 */
function recipeDifferences(saved: DataRecipe, recipe: DataRecipe, savedBytes: string | undefined): string[] {
  const digests = saved.digest !== undefined && recipe.digest !== undefined;
  const same = digests ? saved.digest === recipe.digest : sameData(saved.data, savedBytes, recipe.data);
  const [was, now] = [saved.data ?? 'the bundled sample', recipe.data ?? 'the bundled sample'];
  const data = !digests ? `data (it was ${was}, now ${now}: a checkpoint written before 2026-12-02 knows its data by the archive's path and size alone)`
    : was === now ? `data (${was} holds other images than it did)` : `data (${now} holds other images than ${was})`;
  return (Object.keys(saved) as Array<keyof DataRecipe>)
    .filter((k) => k in recipe && k !== 'digest' && (k === 'data' ? !same : JSON.stringify(saved[k]) !== JSON.stringify(recipe[k])))
    .map((k) => (k === 'data' ? data : k));
}

/**
 * Whether the archive `now` holds the data a checkpoint recorded at `saved`
 * (an archive of savedBytes bytes), for checkpoints that record no digest of
 * the images (and checkpointDifferences, which reads no data): the same
 * path, holding a file of that size; or another path (moved or copied) to a
 * file of that size whose bytes are the same as the old one's, where that is
 * still there. Where it is gone (moved), the size is all there is to go by.
 * Paths are absolute; null is the bundled sample.
 */
function sameData(saved: string | null, savedBytes: string | undefined, now: string | null): boolean {
  const bytes = archiveBytes(now);
  // The same path: the same data, unless the archive there is of another size now.
  if (saved === now) return bytes === null || savedBytes === undefined || String(bytes) === savedBytes;
  if (saved === null || now === null || savedBytes === undefined || String(bytes) !== savedBytes) return false;
  return !fs.existsSync(saved) || sameBytes(saved, now);
}

/** Whether two files hold the same bytes, read in 8 MB pieces (a CIFAR-10 archive is 170 MB). */
function sameBytes(a: string, b: string): boolean {
  const size = 8 << 20;
  const [x, y] = [Buffer.alloc(size), Buffer.alloc(size)];
  let fa: number | undefined;
  let fb: number | undefined;
  try {
    fa = fs.openSync(a, 'r');
    fb = fs.openSync(b, 'r');
    for (;;) {
      const [n, m] = [fs.readSync(fa, x, 0, size, null), fs.readSync(fb, y, 0, size, null)];
      if (n !== m || !x.subarray(0, n).equals(y.subarray(0, m))) return false;
      if (n === 0) return true;
    }
  } catch {
    return false; // a folder, or unreadable: not shown to be the same
  } finally {
    if (fa !== undefined) fs.closeSync(fa);
    if (fb !== undefined) fs.closeSync(fb);
  }
}


/**
 * Loads a checkpoint into `net` (and `sgd`), after checking that it was
 * written by the same model and configuration, and, given the `recipe` of
 * the data the run has now, on the same data. Returns the saved state.
 */
export function loadCheckpoint<H>(file: string, net: Network, sgd: SGD | null, config: object, recipe?: DataRecipe | null): CheckpointState<H> {
  checkNetworkAndSgd(net, sgd);
  if (config === null || typeof config !== 'object') throw invalid('config', 'the config to resume with (compared with the one saved)', config);
  if (recipe !== undefined && recipe !== null && typeof recipe !== 'object') throw invalid('recipe', 'a DataRecipe, or null', recipe);
  const { tensors, metadata } = readForResume(file);
  try {
    if (metadata.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`${file}: not an allcnn checkpoint (format "${metadata.format ?? 'none'}")`);
    // Read before any tensor is copied: a corrupt checkpoint leaves the network as it was.
    const state = {
      epoch: metadataEpoch(file, metadata.epoch),
      history: metadataJson<H[]>(file, 'history', metadata.history) ?? [],
      config: savedConfig(file, metadata),
      data: metadataJson<DataRecipe>(file, 'data', metadata.data),
    };
    // One record per epoch trained: a run resumed from a checkpoint whose two disagree would number its epochs wrongly.
    if (!Array.isArray(state.history) || state.history.length !== state.epoch) {
      throw new CheckpointError(`${file}: metadata "history" holds ${Array.isArray(state.history) ? `${state.history.length} epoch records` : 'no list'} but "epoch" is ${state.epoch} (a corrupt checkpoint?)`);
    }
    // A record that is no object failed in trainModel as "Cannot convert undefined or null to object" (null), or resumed as a diverged epoch (a number).
    const odd = state.history.findIndex((r) => r === null || typeof r !== 'object' || Array.isArray(r));
    if (odd >= 0) throw new CheckpointError(`${file}: metadata "history" holds ${JSON.stringify(state.history[odd])} as the record of epoch ${odd + 1}, not an object (a corrupt checkpoint?)`);
    const sizesKnown = Boolean(recipe && state.data);
    const diff = configDifferences(metadata, state.config, config).filter((k) => !(sizesKnown && IN_RECIPE.has(k)));
    if (metadata.layers !== undefined && metadata.layers !== JSON.stringify(net.spec.layers)) diff.push(`the layers of ${net.spec.name}`);
    throwIfConfigDiffers(file, state.config, diff);
    const dataDiff = recipe && state.data ? recipeDifferences(state.data, recipe, metadata.dataBytes) : [];
    if (dataDiff.length) {
      throw new CheckpointError(`${file}: trained on other data (its data recipe differs in: ${dataDiff.join(', ')}); resume on the same data, or start afresh in another checkpoint file (\`allcnn train\`: another --out)`);
    }
    loadStateInto(file, net, tensors, sgd);
    return state;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** loadCheckpoint's refusal of a checkpoint whose config differs from the run's in the fields `diff`. */
function throwIfConfigDiffers(file: string, savedConfig: object, diff: string[]): void {
  if (diff.length === 0) return;
  // The checkpoint's values: the options to resume with.
  const saved = savedConfig as Record<string, unknown>;
  const was = diff.filter((k) => k in saved).map((k) => `${k} ${JSON.stringify(saved[k])}`);
  throw new CheckpointError(
    `${file}: written by a different configuration (differs in: ${diff.join(', ')}${was.length ? `; the checkpoint's: ${was.join(', ')}` : ''}). ` +
      'Use the same options to resume, or another checkpoint file (`allcnn train`: another --out) to start afresh.',
  );
}

/**
 * Throws loadCheckpoint's error for a checkpoint written by another
 * configuration from its header alone, before a resumed run reads its data:
 * with the real CIFAR-10 on the CPU, the reading and the ZCA fit took 29 s
 * before a mistyped --epochs was refused. What needs the data (their path
 * and the split sizes, judged by the data's recipe) or the network (its
 * layers), and a header that cannot be read, are left to loadCheckpoint.
 */
export function checkResumeConfig(file: string, config: object): void {
  let metadata: Record<string, string>;
  let saved: object;
  try {
    metadata = readSafetensorsMetadata(file);
    if (metadata.format !== CHECKPOINT_FORMAT) return;
    saved = savedConfig(file, metadata);
  } catch {
    return; // loadCheckpoint says what is wrong with the file, and what to do
  }
  throwIfConfigDiffers(file, saved, configDifferences(metadata, saved, config).filter((k) => !IN_RECIPE.has(k)));
}

/** The checkpoint's tensors and metadata; a file that is no safetensors file any more says what to do about it. */
function readForResume(file: string): ReturnType<typeof loadSafetensors> {
  return readCheckpointFile(file, () => loadSafetensors(file));
}

/**
 * `read` of the checkpoint `file` (its tensors, or its header alone), where
 * a file cut short says what to do about it. Wherever a run would go on from
 * it: loadCheckpoint, and the checks before one (train's of a checkpoint
 * found without --resume, transfer's of its pretraining), which said only
 * 'not a valid safetensors file (too short)'.
 */
export function readCheckpointFile<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    // Checkpoints are written whole (a temporary file, then a rename): a cut one was cut or changed afterwards.
    // Only where the file was cut short: another writer's dtype, say, is no reason to throw a run's progress away.
    if (err instanceof CheckpointError && / not a valid safetensors file \(.*(truncated|too short|not JSON)/.test(err.message)) {
      throw new CheckpointError(`${err.message}; it cannot be resumed: delete it to train the run again from its first epoch`);
    }
    throw err;
  }
}

/** Copies saved tensors into the network's own (in place: the native net shares them). */
function loadStateInto(file: string, net: Network, tensors: Map<string, Tensor>, sgd: SGD | null): void {
  const targets: Array<[string, Tensor]> = [
    ...[...net.parameters].map(([k, t]) => [`param.${k}`, t] as [string, Tensor]),
    ...[...net.buffers].map(([k, t]) => [`buffer.${k}`, t] as [string, Tensor]),
    ...(sgd ? [...net.parameters.keys()].map((k, i) => [`momentum.${k}`, sgd.momentumBuffers[i]] as [string, Tensor]) : []),
  ];
  const missing = targets.filter(([k]) => !tensors.has(k)).map(([k]) => k);
  if (missing.length) throw new CheckpointError(`${file}: does not match ${net.spec.name}: missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
  for (const [k, t] of targets) {
    const src = tensors.get(k)!;
    if (src.shape.join() !== t.shape.join()) {
      throw new CheckpointError(`${file}: ${k} has shape [${src.shape}] but ${net.spec.name} needs [${t.shape}] (a checkpoint of another architecture?)`);
    }
    // Integer bytes would be converted to weights without a word: trainModel writes floating-point ones only.
    if (!isFloating(src.dtype) && isFloating(t.dtype)) throw new CheckpointError(`${file}: ${k} is ${src.dtype}, not a floating-point tensor (a corrupt checkpoint?)`);
  }
  noGrad(() => {
    for (const [k, t] of targets) {
      const moved = tensors.get(k)!.to(t.device);
      t.copy_(moved);
      moved.dispose();
    }
  });
}

/** Whether a checkpoint file exists at `file`. */
export function checkpointExists(file: string): boolean {
  return fs.existsSync(file);
}

/** The epochs a checkpoint has trained, from its header (0: none there, or unreadable, which loadCheckpoint then reports). */
export function checkpointEpoch(file: string): number {
  try {
    return checkpointExists(file) ? metadataEpoch(file, readSafetensorsMetadata(file).epoch) : 0;
  } catch {
    return 0;
  }
}

/**
 * Saves only the weights (and BN buffers) as a plain safetensors file, names
 * as in Network.parameters. `dataset`, when given, is kept in the metadata
 * (transfer refuses a CIFAR-100 network by it).
 */
export function exportWeights(file: string, net: Network, o: { dataset?: string } = {}): void {
  checkNetwork(net);
  checkKeys('options', o, ['dataset']);
  if (o.dataset !== undefined && typeof o.dataset !== 'string') throw invalid('dataset', 'the name of the data set the weights were trained on', o.dataset);
  const tensors = new Map<string, Tensor>([...net.parameters, ...net.buffers]);
  saveSafetensors(file, tensors, { model: net.spec.name, format: 'allcnn-weights-v1', ...(o.dataset ? { dataset: o.dataset } : {}) });
}

function checkNetwork(net: unknown): void {
  if (!(net instanceof Network)) throw invalid('net', 'a Network (from buildNetwork)', net);
}

/** The momentum buffers are saved under the network's parameter names: the SGD must be the network's. */
function checkNetworkAndSgd(net: Network, sgd: SGD | null): void {
  checkNetwork(net);
  if (sgd === null) return;
  if (!(sgd instanceof SGD)) throw invalid('sgd', 'an SGD, or null', sgd);
  const params = net.parameterList();
  if (sgd.params.length !== params.length || params.some((p, i) => sgd.params[i] !== p)) {
    throw invalidAs('sgd', `the SGD of this network's parameters (new SGD(net.parameterList()), ${params.length} tensors)`, `an SGD of ${sgd.params.length} other tensors`);
  }
}

/**
 * Loads weights saved by exportWeights (or any safetensors file with the same
 * names). strict (default): every tensor must be present, and a file that
 * names its network must name this one; otherwise the names that were not
 * loaded are returned (for transfer learning) so nothing is skipped silently.
 * The tensors `skip` picks are left as they are and listed as skipped: asked
 * for, they are not missing, whether or not strict.
 */
export function importWeights(file: string, net: Network, o: { strict?: boolean; skip?: (name: string) => boolean } = {}): { loaded: string[]; skipped: string[]; missing: string[]; unexpected: string[] } {
  checkNetwork(net);
  checkKeys('options', o, ['strict', 'skip']);
  if (o.strict !== undefined) checkBoolean('strict', o.strict);
  if (o.skip !== undefined && typeof o.skip !== 'function') throw invalid('skip', 'a function of a tensor name that returns true for the tensors to leave as they are', o.skip);
  const { tensors, metadata } = loadSafetensors(file);
  try {
    // A training checkpoint holds the same tensors under param. and buffer. names, with the momentum beside them.
    if (metadata.format === CHECKPOINT_FORMAT) {
      throw new CheckpointError(`${file}: a training checkpoint, not a weights file: load it with loadCheckpoint(), or pass the weights.safetensors written beside it (exportWeights writes one)`);
    }
    // Model A and Strided-CNN-A (B, C alike) have tensors of the same names and shapes: only the name tells them apart.
    if ((o.strict ?? true) && metadata.model && metadata.model !== net.spec.name) {
      throw new CheckpointError(`${file} holds the weights of ${metadata.model}, not of ${net.spec.name}: build ${metadata.model} to load them (or pass { strict: false } to load them by tensor name anyway)`);
    }
    const own = new Map<string, Tensor>([...net.parameters, ...net.buffers]);
    const loaded: string[] = [];
    const skipped: string[] = [];
    const missing: string[] = [];
    for (const [k, t] of own) {
      const src = tensors.get(k);
      if (o.skip?.(k)) {
        skipped.push(k);
        continue;
      }
      if (!src) {
        missing.push(k);
        continue;
      }
      if (src.shape.join() !== t.shape.join()) {
        throw new CheckpointError(`${file}: ${k} has shape [${src.shape}] but ${net.spec.name} needs [${t.shape}] (weights of another architecture?)`);
      }
      if (!isFloating(src.dtype) && isFloating(t.dtype)) throw new CheckpointError(`${file}: ${k} is ${src.dtype}, not a floating-point tensor (weights are float32, float64, float16 or bfloat16)`);
    }
    const unexpected = [...tensors.keys()].filter((k) => !own.has(k));
    if ((o.strict ?? true) && (missing.length || unexpected.length)) {
      throw new CheckpointError(`${file}: does not match ${net.spec.name} (missing: ${missing.join(', ') || 'none'}; unexpected: ${unexpected.join(', ') || 'none'})`);
    }
    noGrad(() => {
      for (const [k, t] of own) {
        if (missing.includes(k) || skipped.includes(k)) continue;
        const moved = tensors.get(k)!.to(t.device);
        t.copy_(moved);
        moved.dispose();
        loaded.push(k);
      }
    });
    return { loaded, skipped, missing, unexpected };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
