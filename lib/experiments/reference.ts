/**
 * Numbers the report compares against (also in shared/reference/all-cnn-paper.json):
 * the seed report's own re-implementation (PyTorch 0.4.1, lr 0.01), accuracy in percent.
 */
export const SEED_REPORT: Record<string, { validationAccuracy: number; testAccuracy: number; epochs: number }> = {
  A: { validationAccuracy: 85.0, testAccuracy: 83.67, epochs: 350 },
  B: { validationAccuracy: 82.6, testAccuracy: 80.89, epochs: 350 },
  C: { validationAccuracy: 85.1, testAccuracy: 80.83, epochs: 20 },
  'Strided-CNN-C': { validationAccuracy: 81.0, testAccuracy: 76.59, epochs: 20 },
  'ConvPool-CNN-C': { validationAccuracy: 84.8, testAccuracy: 82.64, epochs: 20 },
  'ALL-CNN-C': { validationAccuracy: 81.0, testAccuracy: 78.8, epochs: 20 },
};
