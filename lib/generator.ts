/**
 * Random generators of one's own. Random functions draw from LibTorch's
 * global generator unless given one. Networks trained at once in one process
 * (`reproduce --concurrency`) would share that one, and their dropout masks,
 * augmentations and shuffles would depend on how the runs interleave; each
 * run draws from a generator of its own instead (lib/train/train.ts).
 */
import { checkInteger, invalid } from './check';
import { native, NativeGenerator } from './native';
import { checkDevice, Device } from './tensor';

export class Generator {
  readonly device: Device;
  /** @internal */
  readonly handle: NativeGenerator;

  /**
   * A generator for draws on `device`, seeded with `seed`. It draws what the
   * global generator draws after `manualSeed(seed)`.
   */
  constructor(seed = 0, device: Device = 'cpu') {
    this.device = checkDevice('device', device);
    this.handle = native().generator_create(checkSeed(seed), this.device);
  }

  /** Restarts the generator's sequence from `seed`. */
  manualSeed(seed: number): this {
    native().generator_manual_seed(this.handle, checkSeed(seed));
    return this;
  }
}

function checkSeed(seed: number): number {
  return checkInteger('seed', seed, 0, Number.MAX_SAFE_INTEGER);
}

/** The native generator of an optional `generator` argument. */
export function generatorHandle(name: string, generator: unknown): NativeGenerator | undefined {
  if (generator === undefined) return undefined;
  if (!(generator instanceof Generator)) throw invalid(name, 'a Generator (new Generator(seed, device))', generator);
  return generator.handle;
}
