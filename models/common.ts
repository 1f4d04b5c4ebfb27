/**
 * What all twelve networks share (Springenberg et al. 2015, Tables 1 and 2):
 * 20% dropout on the input image and the top that maps 8x8 feature maps to
 * class scores: an unpadded 3x3 convolution (8x8 -> 6x6), two 1x1
 * convolutions, and a global average over 6x6. ReLU follows every
 * convolution, the last one included, as in the paper (see
 * BuildOptions.finalRelu to leave it out).
 */
export const INPUT = ['dropout 0.2'];

export const TOP = [
  'conv 3x3 192 valid relu',
  'conv 1x1 192 relu',
  'conv 1x1 classes relu',
  'gap',
  'softmax',
];

/** 50% dropout after each pooling layer or the layer that replaces it. */
export const AFTER_DOWNSAMPLING = 'dropout 0.5';
