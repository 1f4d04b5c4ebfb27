/**
 * The reference numbers the report compares with, from Springenberg et al.
 * 2015 (arXiv:1412.6806; Table 3 and the augmented results) and the seed
 * report, as recorded in shared/reference/all-cnn-paper.json. They are kept
 * here so a report can be made on a machine without that file; a row's own
 * paperTestAccuracy, when recorded, takes precedence.
 */

/** Table 3 (CIFAR-10, no augmentation): test error in percent, in the paper's order. */
export const TABLE3: ReadonlyArray<{ model: string; error: number }> = [
  { model: 'A', error: 12.47 },
  { model: 'Strided-CNN-A', error: 13.46 },
  { model: 'ConvPool-CNN-A', error: 10.21 },
  { model: 'ALL-CNN-A', error: 10.3 },
  { model: 'B', error: 10.2 },
  { model: 'Strided-CNN-B', error: 10.98 },
  { model: 'ConvPool-CNN-B', error: 9.33 },
  { model: 'ALL-CNN-B', error: 9.1 },
  { model: 'C', error: 9.74 },
  { model: 'Strided-CNN-C', error: 10.19 },
  { model: 'ConvPool-CNN-C', error: 9.31 },
  { model: 'ALL-CNN-C', error: 9.08 },
];

export const BASES = ['A', 'B', 'C'] as const;

/** 100 - error, kept to the paper's two decimals (100 - 13.46 is 86.53999999999999 in floating point). */
export const accuracyOf = (error: number) => Math.round((100 - error) * 100) / 100;

/** The four Table 3 variants of base model `x`, in the paper's order. */
export function variantsOf(x: string): { base: string; strided: string; convpool: string; all: string } {
  return { base: x, strided: `Strided-CNN-${x}`, convpool: `ConvPool-CNN-${x}`, all: `ALL-CNN-${x}` };
}

export function paperTable3Accuracy(model: string): number | undefined {
  const r = TABLE3.find((t) => t.model === model);
  return r === undefined ? undefined : accuracyOf(r.error);
}

/** The paper's one CIFAR-100 result: ALL-CNN-C, 33.71% test error over the 100 fine classes. */
export const PAPER_CIFAR100 = { model: 'ALL-CNN-C', error: 33.71 };

/** The paper's test accuracy for `model` on a data set: Table 3 for CIFAR-10, the CIFAR-100 result for CIFAR-100. */
export function paperTestAccuracy(model: string, dataset: 'cifar10' | 'cifar100'): number | undefined {
  if (dataset === 'cifar10') return paperTable3Accuracy(model);
  return model === PAPER_CIFAR100.model ? accuracyOf(PAPER_CIFAR100.error) : undefined;
}

/** ALL-CNN-C with horizontal flips and translations: 7.25% test error. */
export const PAPER_AUGMENTED = { model: 'ALL-CNN-C', set: 'horizontal flips and translations', error: 7.25 };

/** The seed report: the richer augmentation set (scaling, colour) gains "about +2%" test accuracy. */
export const SEED_RICH_AUGMENT_GAIN = 2;

/** The paper trains every model for 350 epochs. */
export const PAPER_EPOCHS = 350;

/** Claim 3 of the paper: ConvPool-CNN-X and ALL-CNN-X are within this many points. */
export const CLOSE_POINTS = 1;
