/**
 * Argument checks shared by the public API. Each throws an
 * InvalidArgumentError of the form
 * "Expected <what> for <name> but received <value> of type <type>".
 */
import { InvalidArgumentError } from './errors';

export function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value}" of type string`;
  if (Array.isArray(value)) return `[${value.slice(0, 8).map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v))).join(', ')}${value.length > 8 ? ', ...' : ''}] of type array`;
  if (value !== null && typeof value === 'object') return `${value.constructor?.name ?? 'object'} of type object`;
  // Not String(value): that is a function's whole source.
  if (typeof value === 'function') return `${value.name || 'an anonymous function'} of type function`;
  return `${String(value)} of type ${value === null ? 'null' : typeof value}`;
}

export function invalid(name: string, expected: string, value: unknown): InvalidArgumentError {
  return invalidAs(name, expected, describe(value));
}

/** As invalid(), with what was received already put in words ("an int32 tensor", "12 bytes"). */
export function invalidAs(name: string, expected: string, received: string): InvalidArgumentError {
  return new InvalidArgumentError(`Expected ${expected} for ${name} but received ${received}`);
}

/** Rejects keys of an options object that are not in `known`, so a misspelt option fails instead of being ignored. */
export function checkKeys(name: string, o: object, known: readonly string[]): void {
  if (o === null || typeof o !== 'object') throw invalid(name, 'an options object', o);
  for (const k of Object.keys(o)) if (!known.includes(k)) throw invalid(`${name} key`, `one of ${known.join(', ')}`, k);
}

/** A promise, or anything awaitable like one (what an async callback returns). */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

export function isInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

export function checkInteger(name: string, v: unknown, min = -Infinity, max = Infinity): number {
  if (!isInteger(v) || v < min || v > max) {
    const range = min === -Infinity && max === Infinity ? '' : max === Infinity ? ` >= ${min}` : ` in [${min}, ${max}]`;
    throw invalid(name, `an integer${range}`, v);
  }
  return v;
}

export function checkNumber(name: string, v: unknown, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max) {
    const range = min === -Infinity && max === Infinity ? '' : ` in [${min}, ${max}]`;
    throw invalid(name, `a number${range}`, v);
  }
  return v;
}

export function checkBoolean(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw invalid(name, 'true or false', v);
  return v;
}

/**
 * The keys of an options object whose value is not undefined: spread over
 * the defaults, `{ epochs: argv.epochs }` with no --epochs keeps the default,
 * as its optional type promises.
 */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function checkOneOf<T extends string>(name: string, v: unknown, valid: readonly T[]): T {
  if (typeof v !== 'string' || !(valid as readonly string[]).includes(v)) {
    throw invalid(name, `one of ${valid.join(', ')}`, v);
  }
  return v as T;
}

export function checkShape(name: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.length > 16 || !v.every((s) => isInteger(s) && s >= 0)) {
    throw invalid(name, 'a shape (an array of at most 16 non-negative integers)', v);
  }
  return v as number[];
}
