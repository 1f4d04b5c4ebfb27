/**
 * The twelve networks of Springenberg et al. 2015 (Table 3), keyed by the
 * lower-case id used on the command line (`--model all-cnn-c`).
 */
import type { NetworkSpec } from '../lib/model/spec';
import a from './a';
import allCnnA from './all-cnn-a';
import allCnnB from './all-cnn-b';
import allCnnC from './all-cnn-c';
import b from './b';
import c from './c';
import convpoolCnnA from './convpool-cnn-a';
import convpoolCnnB from './convpool-cnn-b';
import convpoolCnnC from './convpool-cnn-c';
import stridedCnnA from './strided-cnn-a';
import stridedCnnB from './strided-cnn-b';
import stridedCnnC from './strided-cnn-c';

/** The id of one of the twelve networks, as `--model` takes it. */
export type ModelId =
  | 'a' | 'strided-cnn-a' | 'convpool-cnn-a' | 'all-cnn-a'
  | 'b' | 'strided-cnn-b' | 'convpool-cnn-b' | 'all-cnn-b'
  | 'c' | 'strided-cnn-c' | 'convpool-cnn-c' | 'all-cnn-c';

/** In the order of the paper's Table 3 (indexed by any string, as ids come from the command line and from JSON: check before use). */
export const MODELS: Record<string, NetworkSpec> = {
  a,
  'strided-cnn-a': stridedCnnA,
  'convpool-cnn-a': convpoolCnnA,
  'all-cnn-a': allCnnA,
  b,
  'strided-cnn-b': stridedCnnB,
  'convpool-cnn-b': convpoolCnnB,
  'all-cnn-b': allCnnB,
  c,
  'strided-cnn-c': stridedCnnC,
  'convpool-cnn-c': convpoolCnnC,
  'all-cnn-c': allCnnC,
} satisfies Record<ModelId, NetworkSpec>;

export const MODEL_IDS = Object.keys(MODELS) as ModelId[];
