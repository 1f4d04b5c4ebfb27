/**
 * Random generators of one's own. Random functions draw from LibTorch's
 * global generator unless given one. Networks trained at once in one process
 * (`reproduce --concurrency`) would share that one, and their dropout masks,
 * augmentations and shuffles would depend on how the runs interleave; each
 * run draws from a generator of its own instead (lib/train/train.ts).
 */
import { checkInteger, checkKeys, invalid } from './check';
import { native, NativeGenerator } from './native';
import { checkDevice, Device } from './tensor';

// Each Generator's native generator, out of reach of user code: a forged
// Generator (Object.create(Generator.prototype)) has none, and nothing can
// swap one for null, which the native side would take for "the global one".
const handles = new WeakMap<Generator, NativeGenerator>();

/**
 * A random generator for draws on one device, seeded like LibTorch's global
 * generator: `new Generator(s)` draws what the global generator draws after
 * `manualSeed(s)`. The seed defaults to 0 (torch.Generator's default is
 * another fixed seed, 67280421310721). LibTorch's CPU generator keeps only a seed's low 32 bits,
 * so on the CPU seeds 0 and 2^32 draw the same numbers. Given for a tensor on
 * another device, an op throws. A generator holds a few KB of native memory
 * (the CPU one, its Mersenne Twister state), freed by the GC: it has no
 * dispose().
 */
export class Generator {
  readonly device: Device;
  #seed: number;

  constructor(seed = 0, device: Device = 'cpu') {
    this.device = checkDevice('device', device);
    this.#seed = checkSeed(seed);
    handles.set(this, native().generator_create(this.#seed, this.device));
  }

  /** The seed its sequence started from: the constructor's, or the last manualSeed's (torch.Generator.initial_seed). */
  get seed(): number {
    return this.#seed;
  }

  /** Restarts the generator's sequence from `seed`. */
  manualSeed(seed: number): this {
    const handle = handles.get(this);
    if (!handle) throw invalid('manualSeed', 'a Generator made by new Generator(seed, device)', this);
    native().generator_manual_seed(handle, checkSeed(seed));
    this.#seed = seed;
    return this;
  }
}

function checkSeed(seed: number): number {
  return checkInteger('seed', seed, 0, Number.MAX_SAFE_INTEGER);
}

/** The native generator of an optional `generator` argument (checked). */
export function generatorHandle(name: string, generator: unknown): NativeGenerator | undefined {
  if (generator === undefined) return undefined;
  const handle = generator instanceof Generator ? handles.get(generator) : undefined;
  if (!handle) throw invalid(name, 'a Generator (new Generator(seed, device))', generator);
  return handle;
}

/** Checks an optional `generator` argument where it may not be used at once (it is used only if some draw happens). */
export function checkGenerator(name: string, generator: unknown): Generator | undefined {
  generatorHandle(name, generator);
  return generator as Generator | undefined;
}

/** Checks the options object of a random function: its keys (a misspelt `generator` would draw from the global generator unnoticed), and that it is not a Generator given in its place. */
export function checkRandomOptions(o: object, known: readonly string[]): void {
  if (o instanceof Generator) throw invalid('options', 'an options object such as { generator }', o);
  checkKeys('options', o, known);
}
