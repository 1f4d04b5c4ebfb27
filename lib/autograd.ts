/** Gradient-mode control. Tensor.backward/grad/zeroGrad/detach live on Tensor. */
import { native } from './native';

function withGradMode<R>(enabled: boolean, fn: () => R): R {
  const previous = native().tensor_set_grad_enabled(enabled);
  try {
    return fn();
  } finally {
    native().tensor_set_grad_enabled(previous);
  }
}

/** Runs fn with gradient recording off (evaluation, parameter updates). */
export function noGrad<R>(fn: () => R): R {
  return withGradMode(false, fn);
}

/** Runs fn with gradient recording on, even inside noGrad (guided backpropagation steps back through layers). */
export function enableGrad<R>(fn: () => R): R {
  return withGradMode(true, fn);
}
