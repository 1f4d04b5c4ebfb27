import { declareNetwork } from '../lib/model/spec';
import { AFTER_DOWNSAMPLING, INPUT, TOP } from './common';

/** Model A without max-pooling: the convolution before each pool has stride 2. */
export default declareNetwork('Strided-CNN-A', 'Model A without max-pooling: the convolution before each pool has stride 2.', [
  ...INPUT,
  'conv 5x5 96 /2 relu',
  AFTER_DOWNSAMPLING,
  'conv 5x5 192 /2 relu',
  AFTER_DOWNSAMPLING,
  ...TOP,
]);
