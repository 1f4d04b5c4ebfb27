import { declareNetwork } from '../lib/model/spec';
import { AFTER_DOWNSAMPLING, INPUT, TOP } from './common';

/** Model C without max-pooling: the second convolution of each pair has stride 2. */
export default declareNetwork('Strided-CNN-C', 'Model C without max-pooling: the second convolution of each pair has stride 2.', [
  ...INPUT,
  'conv 3x3 96 relu',
  'conv 3x3 96 /2 relu',
  AFTER_DOWNSAMPLING,
  'conv 3x3 192 relu',
  'conv 3x3 192 /2 relu',
  AFTER_DOWNSAMPLING,
  ...TOP,
]);
