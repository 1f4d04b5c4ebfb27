/**
 * Subsets of CIFAR-100 for transfer learning, chosen by superclass names,
 * fine-class names or one of two presets (see shared/datasets/README.md):
 *
 *   vehicles  vehicles_1 + vehicles_2   near CIFAR-10 (automobile, truck, airplane, ship)
 *   flora     flowers + trees           far from it (nothing like it in CIFAR-10)
 *
 * The chosen fine classes get new labels 0..K-1 in the official (alphabetical)
 * fine-label order, whatever order they were asked in, so a subset always has
 * the same labels; the mapping travels with the data and into the results.
 * Works on the subsets archive and on the full official CIFAR-100 archive: the
 * superclass of each fine class is read from the records themselves.
 */
import { DataError, InvalidArgumentError } from '../errors';
import { invalid } from '../check';
import { CIFAR_IMAGE_BYTES, Cifar100, Cifar100Set, ImageSet, readCifar100 } from './cifar';
import { BUNDLED_CIFAR100_SAMPLE, Dataset, DatasetOptions, prepareDataset } from './dataset';
import { warningsDelivered } from './preprocess';

/** The two subsets of the issue, by superclass. */
export const SUBSET_PRESETS: Readonly<Record<string, readonly string[]>> = {
  vehicles: ['vehicles_1', 'vehicles_2'],
  flora: ['flowers', 'trees'],
};

/** One class of a subset: its new label and where it came from. */
export interface SubsetClass {
  /** 0..K-1, the label the network is trained on. */
  label: number;
  /** The official CIFAR-100 fine label (0..99) and name. */
  fine: number;
  name: string;
  /** Its superclass (coarse) name. */
  superclass: string;
}

export interface SubsetSelection {
  /** The preset name, or the names asked for joined by '+'. */
  name: string;
  /** The names asked for, presets expanded to their superclasses. */
  requested: string[];
  classes: SubsetClass[];
}

/** A CIFAR-format data set (for prepareDataset) plus the selection that made it. */
export interface Cifar100Subset {
  train: ImageSet;
  test: ImageSet;
  classNames: string[];
  source: string;
  selection: SubsetSelection;
}

/** Which fine classes belong to each superclass, as found in the records; a fine class under two superclasses is a corrupt archive. */
function finesBySuperclass(data: Cifar100): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  const first = new Map<number, { coarse: number; where: string }>(); // each fine class's first record
  const name = (names: string[], k: number) => names[k] ?? String(k);
  for (const [which, set] of [['train', data.train], ['test', data.test]] as const) {
    set.labels.forEach((fine, i) => {
      const coarse = set.coarseLabels[i];
      const seen = first.get(fine);
      if (!seen) first.set(fine, { coarse, where: `${which} record ${i}` });
      else if (seen.coarse !== coarse) {
        throw new DataError(`${data.source}: ${name(data.fineNames, fine)} is under ${name(data.coarseNames, seen.coarse)} in ${seen.where} but under ${name(data.coarseNames, coarse)} in ${which} record ${i} (a corrupt archive?)`);
      }
      if (!out.has(coarse)) out.set(coarse, new Set());
      out.get(coarse)!.add(fine);
    });
  }
  return out;
}

/** "vehicles", "flora", or comma-separated superclass / fine-class names. */
export function parseSubsetNames(spec: string | readonly string[]): { name: string; names: string[] } {
  if (typeof spec !== 'string' && !Array.isArray(spec)) throw invalid('subset', `${Object.keys(SUBSET_PRESETS).join(', ')} or CIFAR-100 class names (a string or an array of them)`, spec);
  const names = (typeof spec === 'string' ? spec.split(',') : [...spec]).map((s) => String(s).trim()).filter(Boolean);
  if (names.length === 0) throw invalid('subset', `${Object.keys(SUBSET_PRESETS).join(', ')} or comma-separated CIFAR-100 class names`, spec);
  // A preset stands for its superclasses, alone or with other names.
  return { name: names.join('+'), names: names.flatMap((n) => SUBSET_PRESETS[n] ?? [n]) };
}

/**
 * Resolves names to the fine classes they cover. A name is a superclass (all
 * its fine classes present in `data`) or a fine class; an unknown name, or a
 * class with no images in this archive, is an error listing the valid names.
 */
export function resolveSubset(data: Cifar100, spec: string | readonly string[]): SubsetSelection {
  const { name, names } = parseSubsetNames(spec);
  const bySuper = finesBySuperclass(data);
  const presentFine = new Set([...bySuper.values()].flatMap((s) => [...s]));
  const superOf = new Map<number, number>();
  for (const [c, fines] of bySuper) for (const f of fines) superOf.set(f, c);
  const presentSupers = data.coarseNames.filter((_, c) => bySuper.has(c));
  const presentFines = data.fineNames.filter((_, f) => presentFine.has(f));
  const valid = () =>
    `valid names for ${data.source}: the presets ${Object.keys(SUBSET_PRESETS).join(', ')}; ` +
    `superclasses ${presentSupers.join(', ')}; fine classes ${presentFines.join(', ')}`;

  const chosen = new Set<number>();
  for (const n of names) {
    const coarse = data.coarseNames.indexOf(n);
    const fine = data.fineNames.indexOf(n);
    if (coarse >= 0 && bySuper.has(coarse)) {
      for (const f of bySuper.get(coarse)!) chosen.add(f);
    } else if (fine >= 0 && presentFine.has(fine)) {
      chosen.add(fine);
    } else if (coarse >= 0 || fine >= 0) {
      throw new DataError(`"${n}" has no images in ${data.source}; ${valid()}`);
    } else {
      // A misspelt name is a bad argument (exit 2 on the command line), not bad data.
      throw new InvalidArgumentError(`unknown CIFAR-100 class or superclass "${n}"; ${valid()}`);
    }
  }
  // The names asked for, not the data, are at fault (a name with no images is the DataError above): a usage error.
  if (chosen.size < 2) throw new InvalidArgumentError(`subset "${name}" has ${chosen.size} class; a classifier needs at least 2 (${valid()})`);
  const fines = [...chosen].sort((a, b) => a - b);
  // A class with test images only could never be learnt, and would count against every network alike.
  const trained = new Set(data.train.labels);
  const untrained = fines.filter((f) => !trained.has(f)).map((f) => data.fineNames[f] ?? String(f));
  if (untrained.length) throw new DataError(`${data.source}: ${untrained.join(', ')} in subset "${name}" ${untrained.length === 1 ? 'has' : 'have'} test images but no training images (a cut or corrupt archive?)`);
  return {
    name,
    requested: names,
    classes: fines.map((fine, label) => ({ label, fine, name: data.fineNames[fine], superclass: data.coarseNames[superOf.get(fine)!] })),
  };
}

/** The images of the chosen classes, in their original order, with labels remapped to 0..K-1. */
function take(set: Cifar100Set, labelOf: Int16Array): ImageSet {
  let count = 0;
  for (const f of set.labels) if (labelOf[f] >= 0) count++;
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  let j = 0;
  set.labels.forEach((f, i) => {
    if (labelOf[f] < 0) return;
    images.set(set.images.subarray(i * CIFAR_IMAGE_BYTES, (i + 1) * CIFAR_IMAGE_BYTES), j * CIFAR_IMAGE_BYTES);
    labels[j++] = labelOf[f];
  });
  return { images, labels, count };
}

/** Selects a subset of a CIFAR-100 data set (see resolveSubset for the names). */
export function selectSubset(data: Cifar100, spec: string | readonly string[]): Cifar100Subset {
  const selection = resolveSubset(data, spec);
  const labelOf = new Int16Array(data.fineNames.length).fill(-1);
  for (const c of selection.classes) labelOf[c.fine] = c.label;
  const train = take(data.train, labelOf);
  const test = take(data.test, labelOf);
  if (train.count === 0) throw new DataError(`${data.source}: subset "${selection.name}" has no training images`);
  return { train, test, classNames: selection.classes.map((c) => c.name), source: `${data.source} [${selection.name}]`, selection };
}

/**
 * Reads `file` (the bundled sample when omitted) and resolves every subset
 * asked for, so that a bad archive or class name fails before anything is
 * trained (pretraining on CIFAR-10 comes first and can take an hour): the
 * error loadCifar100Subset would give later (a DataError for the data, an
 * InvalidArgumentError for a name that is no class or superclass, or names
 * of fewer than 2 classes).
 */
export async function checkCifar100Subsets(file: string | undefined, specs: readonly (string | readonly string[])[]): Promise<SubsetSelection[]> {
  const data = await readCifar100(file ?? BUNDLED_CIFAR100_SAMPLE);
  return specs.map((spec) => resolveSubset(data, spec));
}

/** Share of a subset's training images held out for validation: the 90/10 split. */
export const SUBSET_VALIDATION_FRACTION = 0.1;

/**
 * Reads CIFAR-100 (the bundled sample when `file` is omitted), selects the
 * subset and prepares it: 90/10 train/validation split of the subset's
 * training images (class-balanced, deterministic by seed) and its test images.
 */
export async function loadCifar100Subset(file: string | undefined, spec: string | readonly string[], o: DatasetOptions = {}): Promise<{ dataset: Dataset; selection: SubsetSelection; seed: number }> {
  const subset = selectSubset(await readCifar100(file ?? BUNDLED_CIFAR100_SAMPLE), spec);
  const validation = o.validation ?? Math.round(subset.train.count * SUBSET_VALIDATION_FRACTION);
  const dataset = prepareDataset(subset, { ...o, validation });
  await warningsDelivered();
  // The split's seed goes with it: transfer() given these data checks its config's seed against it.
  return { dataset, selection: subset.selection, seed: o.seed ?? 0 };
}
