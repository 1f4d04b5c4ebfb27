import { declareNetwork } from '../lib/model/spec';
import { AFTER_DOWNSAMPLING, INPUT, TOP } from './common';

/** Model A: 5x5 convolutions, each followed by 3x3 max-pooling with stride 2. */
export default declareNetwork('A', 'Model A: 5x5 convolutions, each followed by 3x3 max-pooling with stride 2.', [
  ...INPUT,
  'conv 5x5 96 relu',
  'maxpool 3x3 /2',
  AFTER_DOWNSAMPLING,
  'conv 5x5 192 relu',
  'maxpool 3x3 /2',
  AFTER_DOWNSAMPLING,
  ...TOP,
]);
