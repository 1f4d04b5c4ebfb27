import { declareNetwork } from '../lib/model/spec';
import { AFTER_DOWNSAMPLING, INPUT, TOP } from './common';

/** Model B with a dense 3x3 convolution before each max-pooling layer. */
export default declareNetwork('ConvPool-CNN-B', 'Model B with a dense 3x3 convolution before each max-pooling layer.', [
  ...INPUT,
  'conv 5x5 96 relu',
  'conv 1x1 96 relu',
  'conv 3x3 96 relu',
  'maxpool 3x3 /2',
  AFTER_DOWNSAMPLING,
  'conv 5x5 192 relu',
  'conv 1x1 192 relu',
  'conv 3x3 192 relu',
  'maxpool 3x3 /2',
  AFTER_DOWNSAMPLING,
  ...TOP,
]);
