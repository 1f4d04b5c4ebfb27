import { declareNetwork } from '../lib/model/spec';
import { AFTER_DOWNSAMPLING, INPUT, TOP } from './common';

/** Model C with each max-pooling layer replaced by a 3x3 convolution with stride 2. */
export default declareNetwork('ALL-CNN-C', 'Model C with each max-pooling layer replaced by a 3x3 convolution with stride 2.', [
  ...INPUT,
  'conv 3x3 96 relu',
  'conv 3x3 96 relu',
  'conv 3x3 96 /2 relu',
  AFTER_DOWNSAMPLING,
  'conv 3x3 192 relu',
  'conv 3x3 192 relu',
  'conv 3x3 192 /2 relu',
  AFTER_DOWNSAMPLING,
  ...TOP,
]);
