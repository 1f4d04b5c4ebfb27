/** Gradient-mode control. Tensor.backward/grad/zeroGrad/detach live on Tensor. */
import { isThenable } from './check';
import { native } from './native';

function withGradMode<R>(enabled: boolean, fn: () => R): R {
  const previous = native().tensor_set_grad_enabled(enabled);
  let result: R;
  try {
    result = fn();
  } finally {
    native().tensor_set_grad_enabled(previous);
  }
  // The mode is LibTorch's, per thread, not per async call: after an await it is the caller's again.
  if (isThenable(result)) {
    result.then(undefined, () => undefined); // it runs on: its rejection is not an unhandled one
    throw new TypeError(
      `${enabled ? 'enableGrad' : 'noGrad'}() takes a synchronous function, but this one returned a Promise: code after its first await ` +
        `runs in the caller's gradient mode, not this one. Use ${enabled ? 'enableGrad' : 'noGrad'}() inside the async function around synchronous parts.`,
    );
  }
  return result;
}

/** Runs fn with gradient recording off (evaluation, parameter updates). */
export function noGrad<R>(fn: () => R): R {
  return withGradMode(false, fn);
}

/** Runs fn with gradient recording on, even inside noGrad (guided backpropagation steps back through layers). */
export function enableGrad<R>(fn: () => R): R {
  return withGradMode(true, fn);
}
