import { declareNetwork } from '../lib/model/spec';
import { AFTER_DOWNSAMPLING, INPUT, TOP } from './common';

/** Model B without max-pooling: the 1x1 convolution before each pool has stride 2. */
export default declareNetwork('Strided-CNN-B', 'Model B without max-pooling: the 1x1 convolution before each pool has stride 2.', [
  ...INPUT,
  'conv 5x5 96 relu',
  'conv 1x1 96 /2 relu',
  AFTER_DOWNSAMPLING,
  'conv 5x5 192 relu',
  'conv 1x1 192 /2 relu',
  AFTER_DOWNSAMPLING,
  ...TOP,
]);
