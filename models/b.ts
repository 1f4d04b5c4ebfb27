import { declareNetwork } from '../lib/model/spec';
import { AFTER_DOWNSAMPLING, INPUT, TOP } from './common';

/** Model B: model A with a 1x1 convolution after each 5x5 convolution. */
export default declareNetwork('B', 'Model B: model A with a 1x1 convolution after each 5x5 convolution.', [
  ...INPUT,
  'conv 5x5 96 relu',
  'conv 1x1 96 relu',
  'maxpool 3x3 /2',
  AFTER_DOWNSAMPLING,
  'conv 5x5 192 relu',
  'conv 1x1 192 relu',
  'maxpool 3x3 /2',
  AFTER_DOWNSAMPLING,
  ...TOP,
]);
