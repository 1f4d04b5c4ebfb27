/** Gradient-mode control. Tensor.backward/grad/zeroGrad/detach live on Tensor. */
import { native } from './native';

/** Runs fn with gradient recording off (evaluation, parameter updates). */
export function noGrad<R>(fn: () => R): R {
  const previous = native().tensor_set_grad_enabled(false);
  try {
    return fn();
  } finally {
    native().tensor_set_grad_enabled(previous);
  }
}

/** Runs fn with gradient recording on, even inside noGrad (guided backpropagation steps back through layers). */
export function enableGrad<R>(fn: () => R): R {
  const previous = native().tensor_set_grad_enabled(true);
  try {
    return fn();
  } finally {
    native().tensor_set_grad_enabled(previous);
  }
}
