/** Typed parsers for command-line values; each error names the option. */
import { InvalidArgumentError } from 'commander';
import { checkDevice } from '../tensor';
import { MAX_BATCH_SIZE } from '../train/config';

export function int(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer ${range}, got "${v}"`);
    return n;
  };
}
/** --batch-size, bounded as trainModel's config bounds it. */
export const batchSize = int('--batch-size', 1, MAX_BATCH_SIZE);
/** A --device value: cpu, cuda or cuda:N; whether that device is there is checked later, with its fix. */
export function deviceName(name: string) {
  return (v: string): string => {
    try {
      return checkDevice(name, v);
    } catch {
      throw new InvalidArgumentError(`${name} must be cpu, cuda or cuda:N, got "${v}"`);
    }
  };
}
export function num(name: string, min = 0, max = Infinity, aboveMin = false) {
  return (v: string): number => {
    const n = Number(v);
    const range = aboveMin ? `> ${min} and <= ${max}` : max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`;
    if (v.trim() === '' || !Number.isFinite(n) || (aboveMin ? n <= min : n < min) || n > max) throw new InvalidArgumentError(`${name} must be a number ${range}, got "${v}"`);
    return n;
  };
}
/** As num(), for a value that must be above `min`: a learning rate of 0 trains nothing. */
export const above = (name: string, min: number, max: number) => num(name, min, max, true);
/**
 * A path option's value; `what` is what it names ('a folder', 'a file').
 * An empty one is refused: `--out ""` resolved to the working folder and wrote the run there.
 */
export function pathTo(name: string, what: string) {
  return (v: string): string => {
    if (v.trim() === '') throw new InvalidArgumentError(`${name}: an empty path; pass ${what}`);
    return v;
  };
}
/** As pathTo(), for a command's argument, which commander's message names already ("... for argument 'checkpoint'"). */
export function argumentPath(what: string) {
  return (v: string): string => {
    if (v.trim() === '') throw new InvalidArgumentError(`an empty path; pass ${what}`);
    return v;
  };
}
/** As argumentPath(), for a variadic argument (commander hands each value to the parser with those parsed so far). */
export function argumentPaths(what: string) {
  const one = argumentPath(what);
  return (v: string, previous: string[] | undefined): string[] => [...(previous ?? []), one(v)];
}
export function oneOf(name: string, valid: readonly string[]) {
  return (v: string): string => {
    if (!valid.includes(v)) throw new InvalidArgumentError(`${name} must be one of ${valid.join(', ')}, got "${v}"`);
    return v;
  };
}
/** A comma-separated list of at least one value, each parsed by `parse`. */
export function list<T>(name: string, parse: (v: string) => T) {
  return (v: string): T[] => {
    const values = v.split(',').map((s) => s.trim());
    if (values.every((s) => s === '')) throw new InvalidArgumentError(`${name} must list at least one value, got "${v}"`);
    // '0.1,,0.2' is a typo, not two values.
    if (values.includes('')) throw new InvalidArgumentError(`${name} has an empty item, got "${v}": separate values with single commas`);
    const parsed = values.map(parse);
    // a,a would train the same run twice, into one journal.
    const twice = parsed.findIndex((p, i) => parsed.findIndex((q) => JSON.stringify(q) === JSON.stringify(p)) !== i);
    if (twice >= 0) throw new InvalidArgumentError(`${name} lists ${values[twice]} twice, got "${v}"`);
    return parsed;
  };
}

/** A name that becomes one folder under results/ (--out takes any path). */
export function folderName(name: string) {
  return (v: string): string => {
    if (!/^[\w.-]+$/.test(v) || v === '.' || v === '..') throw new InvalidArgumentError(`${name} must be a folder name of letters, digits, '.', '-' or '_', got "${v}" (pass --out for a path)`);
    return v;
  };
}
