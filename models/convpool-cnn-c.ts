import { declareNetwork } from '../lib/model/spec';
import { AFTER_DOWNSAMPLING, INPUT, TOP } from './common';

/** Model C with a third dense 3x3 convolution before each max-pooling layer. */
export default declareNetwork('ConvPool-CNN-C', 'Model C with a third dense 3x3 convolution before each max-pooling layer.', [
  ...INPUT,
  'conv 3x3 96 relu',
  'conv 3x3 96 relu',
  'conv 3x3 96 relu',
  'maxpool 3x3 /2',
  AFTER_DOWNSAMPLING,
  'conv 3x3 192 relu',
  'conv 3x3 192 relu',
  'conv 3x3 192 relu',
  'maxpool 3x3 /2',
  AFTER_DOWNSAMPLING,
  ...TOP,
]);
