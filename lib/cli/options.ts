/** Typed parsers for command-line values; each error names the option. */
import { InvalidArgumentError } from 'commander';

export function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}
export function num(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${name} must be a number >= ${min}, got "${v}"`);
    return n;
  };
}
export function oneOf(name: string, valid: readonly string[]) {
  return (v: string): string => {
    if (!valid.includes(v)) throw new InvalidArgumentError(`${name} must be one of ${valid.join(', ')}, got "${v}"`);
    return v;
  };
}
export function list<T>(parse: (v: string) => T) {
  return (v: string): T[] => v.split(',').map((s) => s.trim()).filter(Boolean).map(parse);
}
