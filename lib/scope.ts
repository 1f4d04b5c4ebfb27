/**
 * Explicit lifetimes. V8 cannot see LibTorch memory (least of all on a GPU),
 * so the GC is only a safety net: tensors are freed by dispose(), or by the
 * scope they were created in.
 *
 *   const loss = tidy(() => crossEntropy(model.forward(x), y)); // intermediates freed
 *
 * A scope frees every tensor created inside it on exit, except those returned
 * (also inside arrays, plain objects and Maps, up to 16 levels deep: a class
 * instance's tensors are not seen, keep() them) or marked with keep(). Scopes
 * nest: a returned tensor moves to the enclosing scope.
 */
import { invalid, isThenable } from './check';
import type { Tensor } from './tensor';

/** How deep tidy() and dispose() look into a value for tensors (a cycle ends there). */
const DEPTH = 16;

const stack: Set<Tensor>[] = [];
const kept = new WeakSet<Tensor>();

/** Called by every Tensor constructor. */
export function track(t: Tensor): void {
  if (stack.length > 0) stack[stack.length - 1].add(t);
}

/** Exempts a tensor from every scope; free it with dispose(). */
export function keep<T extends Tensor>(t: T): T {
  // keep([t]) would keep nothing, and the tensor would be freed at the scope's end.
  if (!(t as { __isTensor?: boolean } | null)?.__isTensor) throw invalid('keep', 'a Tensor (keep each tensor of an array or object)', t);
  kept.add(t);
  for (const scope of stack) scope.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > DEPTH || value === null || typeof value !== 'object') return;
  if ((value as { __isTensor?: boolean }).__isTensor) {
    out.add(value as Tensor);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) {
    for (const v of Object.values(value as object)) collect(v, out, depth + 1);
  }
}

/** Runs fn in a new scope; see the module comment. fn must be synchronous. */
export function tidy<R>(fn: () => R): R {
  if (typeof fn !== 'function') throw invalid('fn', 'a function whose tensors tidy frees (tidy(() => ...))', fn);
  const scope = new Set<Tensor>();
  stack.push(scope);
  let result: R;
  try {
    result = fn();
  } catch (err) {
    stack.pop();
    for (const t of scope) t.dispose();
    throw err;
  }
  stack.pop();
  if (isThenable(result)) {
    for (const t of scope) t.dispose();
    // The function runs on after its first await; a rejection there must not end the process as unhandled.
    result.then(undefined, () => undefined);
    throw new TypeError(
      'tidy() takes a synchronous function, but this one returned a Promise: tensors made after its first ' +
        'await would escape the scope (and those made before it are freed already, while the function runs on). ' +
        'Use tidy() inside the async function around synchronous parts.',
    );
  }
  const returned = new Set<Tensor>();
  collect(result, returned);
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (returned.has(t) || kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Disposes every tensor in a value (a tensor, or arrays / plain objects / Maps of them, as tidy() looks). */
export function dispose(value: unknown): void {
  const all = new Set<Tensor>();
  collect(value, all);
  for (const t of all) t.dispose();
}

/** How many scopes are open (for tests). */
export function scopeDepth(): number {
  return stack.length;
}
