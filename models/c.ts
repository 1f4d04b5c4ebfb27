import { declareNetwork } from '../lib/model/spec';
import { AFTER_DOWNSAMPLING, INPUT, TOP } from './common';

/** Model C: two 3x3 convolutions before each 3x3 max-pooling layer with stride 2. */
export default declareNetwork('C', 'Model C: two 3x3 convolutions before each 3x3 max-pooling layer with stride 2.', [
  ...INPUT,
  'conv 3x3 96 relu',
  'conv 3x3 96 relu',
  'maxpool 3x3 /2',
  AFTER_DOWNSAMPLING,
  'conv 3x3 192 relu',
  'conv 3x3 192 relu',
  'maxpool 3x3 /2',
  AFTER_DOWNSAMPLING,
  ...TOP,
]);
